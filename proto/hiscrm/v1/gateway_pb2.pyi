import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hiscrm.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VerificationMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFICATION_METHOD_UNSPECIFIED: _ClassVar[VerificationMethod]
    VERIFICATION_METHOD_SMS_CODE: _ClassVar[VerificationMethod]
    VERIFICATION_METHOD_SLIDER: _ClassVar[VerificationMethod]
    VERIFICATION_METHOD_OTHER: _ClassVar[VerificationMethod]
VERIFICATION_METHOD_UNSPECIFIED: VerificationMethod
VERIFICATION_METHOD_SMS_CODE: VerificationMethod
VERIFICATION_METHOD_SLIDER: VerificationMethod
VERIFICATION_METHOD_OTHER: VerificationMethod

class WorkerFrame(_message.Message):
    __slots__ = ("register", "heartbeat", "login", "items", "config_ack", "account_state", "command_result", "goodbye", "session_refresh")
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ACK_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_STATE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_RESULT_FIELD_NUMBER: _ClassVar[int]
    GOODBYE_FIELD_NUMBER: _ClassVar[int]
    SESSION_REFRESH_FIELD_NUMBER: _ClassVar[int]
    register: Register
    heartbeat: Heartbeat
    login: LoginEvent
    items: ItemsBatch
    config_ack: ConfigAck
    account_state: AccountState
    command_result: CommandResult
    goodbye: Goodbye
    session_refresh: SessionRefresh
    def __init__(self, register: _Optional[_Union[Register, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., login: _Optional[_Union[LoginEvent, _Mapping]] = ..., items: _Optional[_Union[ItemsBatch, _Mapping]] = ..., config_ack: _Optional[_Union[ConfigAck, _Mapping]] = ..., account_state: _Optional[_Union[AccountState, _Mapping]] = ..., command_result: _Optional[_Union[CommandResult, _Mapping]] = ..., goodbye: _Optional[_Union[Goodbye, _Mapping]] = ..., session_refresh: _Optional[_Union[SessionRefresh, _Mapping]] = ...) -> None: ...

class HeldAccount(_message.Message):
    __slots__ = ("account_id", "config_version")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    config_version: int
    def __init__(self, account_id: _Optional[str] = ..., config_version: _Optional[int] = ...) -> None: ...

class Register(_message.Message):
    __slots__ = ("worker_id", "host", "pid", "version", "platforms", "max_accounts", "held_accounts", "boot_id", "outbox_pending")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PLATFORMS_FIELD_NUMBER: _ClassVar[int]
    MAX_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    HELD_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_PENDING_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    host: str
    pid: int
    version: str
    platforms: _containers.RepeatedScalarFieldContainer[_common_pb2.Platform]
    max_accounts: int
    held_accounts: _containers.RepeatedCompositeFieldContainer[HeldAccount]
    boot_id: str
    outbox_pending: int
    def __init__(self, worker_id: _Optional[str] = ..., host: _Optional[str] = ..., pid: _Optional[int] = ..., version: _Optional[str] = ..., platforms: _Optional[_Iterable[_Union[_common_pb2.Platform, str]]] = ..., max_accounts: _Optional[int] = ..., held_accounts: _Optional[_Iterable[_Union[HeldAccount, _Mapping]]] = ..., boot_id: _Optional[str] = ..., outbox_pending: _Optional[int] = ...) -> None: ...

class AccountStatus(_message.Message):
    __slots__ = ("account_id", "state", "config_version", "last_cycle_at", "outbox_pending", "last_cycle_ms", "monitor_page")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_CYCLE_AT_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_PENDING_FIELD_NUMBER: _ClassVar[int]
    LAST_CYCLE_MS_FIELD_NUMBER: _ClassVar[int]
    MONITOR_PAGE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    state: _common_pb2.RunState
    config_version: int
    last_cycle_at: _timestamp_pb2.Timestamp
    outbox_pending: int
    last_cycle_ms: int
    monitor_page: _common_pb2.MonitorPage
    def __init__(self, account_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.RunState, str]] = ..., config_version: _Optional[int] = ..., last_cycle_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outbox_pending: _Optional[int] = ..., last_cycle_ms: _Optional[int] = ..., monitor_page: _Optional[_Union[_common_pb2.MonitorPage, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("sent_at", "stats", "accounts", "outbox_pending", "delivery_error", "delivery_errors")
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_PENDING_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ERROR_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ERRORS_FIELD_NUMBER: _ClassVar[int]
    sent_at: _timestamp_pb2.Timestamp
    stats: _common_pb2.ProcessStats
    accounts: _containers.RepeatedCompositeFieldContainer[AccountStatus]
    outbox_pending: int
    delivery_error: str
    delivery_errors: int
    def __init__(self, sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stats: _Optional[_Union[_common_pb2.ProcessStats, _Mapping]] = ..., accounts: _Optional[_Iterable[_Union[AccountStatus, _Mapping]]] = ..., outbox_pending: _Optional[int] = ..., delivery_error: _Optional[str] = ..., delivery_errors: _Optional[int] = ...) -> None: ...

class LoginQr(_message.Message):
    __slots__ = ("png", "content", "refresh_count", "expires_at")
    PNG_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    REFRESH_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    png: bytes
    content: str
    refresh_count: int
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, png: _Optional[bytes] = ..., content: _Optional[str] = ..., refresh_count: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LoginScanned(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LoginVerificationRequired(_message.Message):
    __slots__ = ("method", "hint")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    method: VerificationMethod
    hint: str
    def __init__(self, method: _Optional[_Union[VerificationMethod, str]] = ..., hint: _Optional[str] = ...) -> None: ...

class Fingerprint(_message.Message):
    __slots__ = ("user_agent", "viewport_width", "viewport_height", "device_scale_factor", "platform", "webgl_vendor", "webgl_renderer", "seed")
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    VIEWPORT_WIDTH_FIELD_NUMBER: _ClassVar[int]
    VIEWPORT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_SCALE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    WEBGL_VENDOR_FIELD_NUMBER: _ClassVar[int]
    WEBGL_RENDERER_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    user_agent: str
    viewport_width: int
    viewport_height: int
    device_scale_factor: float
    platform: str
    webgl_vendor: str
    webgl_renderer: str
    seed: str
    def __init__(self, user_agent: _Optional[str] = ..., viewport_width: _Optional[int] = ..., viewport_height: _Optional[int] = ..., device_scale_factor: _Optional[float] = ..., platform: _Optional[str] = ..., webgl_vendor: _Optional[str] = ..., webgl_renderer: _Optional[str] = ..., seed: _Optional[str] = ...) -> None: ...

class LoginSuccess(_message.Message):
    __slots__ = ("session", "user", "fingerprint")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    session: bytes
    user: _common_pb2.UserInfo
    fingerprint: Fingerprint
    def __init__(self, session: _Optional[bytes] = ..., user: _Optional[_Union[_common_pb2.UserInfo, _Mapping]] = ..., fingerprint: _Optional[_Union[Fingerprint, _Mapping]] = ...) -> None: ...

class LoginFailed(_message.Message):
    __slots__ = ("kind", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: _common_pb2.ErrorKind
    reason: str
    def __init__(self, kind: _Optional[_Union[_common_pb2.ErrorKind, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class LoginExpired(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class LoginCancelled(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class LoginEvent(_message.Message):
    __slots__ = ("session_id", "account_id", "at", "qr", "scanned", "verification_required", "success", "failed", "expired", "cancelled")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    QR_FIELD_NUMBER: _ClassVar[int]
    SCANNED_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    account_id: str
    at: _timestamp_pb2.Timestamp
    qr: LoginQr
    scanned: LoginScanned
    verification_required: LoginVerificationRequired
    success: LoginSuccess
    failed: LoginFailed
    expired: LoginExpired
    cancelled: LoginCancelled
    def __init__(self, session_id: _Optional[str] = ..., account_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., qr: _Optional[_Union[LoginQr, _Mapping]] = ..., scanned: _Optional[_Union[LoginScanned, _Mapping]] = ..., verification_required: _Optional[_Union[LoginVerificationRequired, _Mapping]] = ..., success: _Optional[_Union[LoginSuccess, _Mapping]] = ..., failed: _Optional[_Union[LoginFailed, _Mapping]] = ..., expired: _Optional[_Union[LoginExpired, _Mapping]] = ..., cancelled: _Optional[_Union[LoginCancelled, _Mapping]] = ...) -> None: ...

class ItemsBatch(_message.Message):
    __slots__ = ("seq", "account_id", "items")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    account_id: str
    items: _containers.RepeatedCompositeFieldContainer[_common_pb2.Item]
    def __init__(self, seq: _Optional[int] = ..., account_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[_common_pb2.Item, _Mapping]]] = ...) -> None: ...

class ConfigAck(_message.Message):
    __slots__ = ("account_id", "config_version", "ok", "error")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    config_version: int
    ok: bool
    error: str
    def __init__(self, account_id: _Optional[str] = ..., config_version: _Optional[int] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class AccountState(_message.Message):
    __slots__ = ("account_id", "state", "error_kind", "reason", "at", "screenshot_path", "last_cycle_at", "proxy_health", "cursor")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_PATH_FIELD_NUMBER: _ClassVar[int]
    LAST_CYCLE_AT_FIELD_NUMBER: _ClassVar[int]
    PROXY_HEALTH_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    state: _common_pb2.RunState
    error_kind: _common_pb2.ErrorKind
    reason: str
    at: _timestamp_pb2.Timestamp
    screenshot_path: str
    last_cycle_at: _timestamp_pb2.Timestamp
    proxy_health: _common_pb2.ProxyHealth
    cursor: str
    def __init__(self, account_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.RunState, str]] = ..., error_kind: _Optional[_Union[_common_pb2.ErrorKind, str]] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., screenshot_path: _Optional[str] = ..., last_cycle_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., proxy_health: _Optional[_Union[_common_pb2.ProxyHealth, _Mapping]] = ..., cursor: _Optional[str] = ...) -> None: ...

class CommandResult(_message.Message):
    __slots__ = ("request_id", "account_id", "ok", "error_kind", "error", "platform_item_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    ok: bool
    error_kind: _common_pb2.ErrorKind
    error: str
    platform_item_id: str
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., ok: _Optional[bool] = ..., error_kind: _Optional[_Union[_common_pb2.ErrorKind, str]] = ..., error: _Optional[str] = ..., platform_item_id: _Optional[str] = ...) -> None: ...

class SessionRefresh(_message.Message):
    __slots__ = ("account_id", "session", "config_version", "at")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    session: bytes
    config_version: int
    at: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., session: _Optional[bytes] = ..., config_version: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Goodbye(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class MasterFrame(_message.Message):
    __slots__ = ("welcome", "assign", "revoke", "config_update", "login_start", "login_cancel", "verification_code", "ack", "nack", "send_reply", "drain")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ASSIGN_FIELD_NUMBER: _ClassVar[int]
    REVOKE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_UPDATE_FIELD_NUMBER: _ClassVar[int]
    LOGIN_START_FIELD_NUMBER: _ClassVar[int]
    LOGIN_CANCEL_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_CODE_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    SEND_REPLY_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    assign: Assign
    revoke: Revoke
    config_update: ConfigUpdate
    login_start: LoginStart
    login_cancel: LoginCancel
    verification_code: VerificationCode
    ack: Ack
    nack: Nack
    send_reply: SendReply
    drain: Drain
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., assign: _Optional[_Union[Assign, _Mapping]] = ..., revoke: _Optional[_Union[Revoke, _Mapping]] = ..., config_update: _Optional[_Union[ConfigUpdate, _Mapping]] = ..., login_start: _Optional[_Union[LoginStart, _Mapping]] = ..., login_cancel: _Optional[_Union[LoginCancel, _Mapping]] = ..., verification_code: _Optional[_Union[VerificationCode, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., nack: _Optional[_Union[Nack, _Mapping]] = ..., send_reply: _Optional[_Union[SendReply, _Mapping]] = ..., drain: _Optional[_Union[Drain, _Mapping]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("connection_id", "heartbeat_interval_ms", "max_message_bytes", "max_batch_bytes", "max_batch_items", "master_version", "credential")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_ITEMS_FIELD_NUMBER: _ClassVar[int]
    MASTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    heartbeat_interval_ms: int
    max_message_bytes: int
    max_batch_bytes: int
    max_batch_items: int
    master_version: str
    credential: str
    def __init__(self, connection_id: _Optional[str] = ..., heartbeat_interval_ms: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_batch_bytes: _Optional[int] = ..., max_batch_items: _Optional[int] = ..., master_version: _Optional[str] = ..., credential: _Optional[str] = ...) -> None: ...

class Assign(_message.Message):
    __slots__ = ("accounts",)
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[_common_pb2.AccountConfig]
    def __init__(self, accounts: _Optional[_Iterable[_Union[_common_pb2.AccountConfig, _Mapping]]] = ...) -> None: ...

class Revoke(_message.Message):
    __slots__ = ("account_ids", "reason")
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, account_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ConfigUpdate(_message.Message):
    __slots__ = ("config", "reason", "updated_fields")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    config: _common_pb2.AccountConfig
    reason: str
    updated_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, config: _Optional[_Union[_common_pb2.AccountConfig, _Mapping]] = ..., reason: _Optional[str] = ..., updated_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class LoginStart(_message.Message):
    __slots__ = ("session_id", "account_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    account_id: str
    def __init__(self, session_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class LoginCancel(_message.Message):
    __slots__ = ("session_id", "account_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    account_id: str
    def __init__(self, session_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class VerificationCode(_message.Message):
    __slots__ = ("session_id", "account_id", "code")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    account_id: str
    code: str
    def __init__(self, session_id: _Optional[str] = ..., account_id: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("seq", "stored", "duplicates")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    seq: int
    stored: int
    duplicates: int
    def __init__(self, seq: _Optional[int] = ..., stored: _Optional[int] = ..., duplicates: _Optional[int] = ...) -> None: ...

class Nack(_message.Message):
    __slots__ = ("seq", "kind", "reason", "item_indexes")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ITEM_INDEXES_FIELD_NUMBER: _ClassVar[int]
    seq: int
    kind: _common_pb2.ErrorKind
    reason: str
    item_indexes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, seq: _Optional[int] = ..., kind: _Optional[_Union[_common_pb2.ErrorKind, str]] = ..., reason: _Optional[str] = ..., item_indexes: _Optional[_Iterable[int]] = ...) -> None: ...

class ReplyTarget(_message.Message):
    __slots__ = ("kind", "platform_item_id", "post_id", "conversation_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    kind: _common_pb2.ItemKind
    platform_item_id: str
    post_id: str
    conversation_id: str
    def __init__(self, kind: _Optional[_Union[_common_pb2.ItemKind, str]] = ..., platform_item_id: _Optional[str] = ..., post_id: _Optional[str] = ..., conversation_id: _Optional[str] = ...) -> None: ...

class SendReply(_message.Message):
    __slots__ = ("request_id", "account_id", "target", "text")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    target: ReplyTarget
    text: str
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., target: _Optional[_Union[ReplyTarget, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class Drain(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...
