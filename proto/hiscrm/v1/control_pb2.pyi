import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from hiscrm.v1 import common_pb2 as _common_pb2
from hiscrm.v1 import gateway_pb2 as _gateway_pb2
from hiscrm.v1 import hosts_pb2 as _hosts_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_ITEM: _ClassVar[EventKind]
    EVENT_KIND_WORKER: _ClassVar[EventKind]
    EVENT_KIND_ACCOUNT: _ClassVar[EventKind]
    EVENT_KIND_CONFIG_ACK: _ClassVar[EventKind]
    EVENT_KIND_LOGIN: _ClassVar[EventKind]
    EVENT_KIND_REPLY: _ClassVar[EventKind]
    EVENT_KIND_NOTICE: _ClassVar[EventKind]
    EVENT_KIND_UNREAD: _ClassVar[EventKind]
    EVENT_KIND_CONVERSATION: _ClassVar[EventKind]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_VIEWER: _ClassVar[Role]
    ROLE_AGENT: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]

class CredentialKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIAL_KIND_UNSPECIFIED: _ClassVar[CredentialKind]
    CREDENTIAL_KIND_OPERATOR: _ClassVar[CredentialKind]
    CREDENTIAL_KIND_WORKER: _ClassVar[CredentialKind]
    CREDENTIAL_KIND_ENROLLMENT: _ClassVar[CredentialKind]
    CREDENTIAL_KIND_HOST: _ClassVar[CredentialKind]

class ConversationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSATION_KIND_UNSPECIFIED: _ClassVar[ConversationKind]
    CONVERSATION_KIND_DIRECT_MESSAGE: _ClassVar[ConversationKind]
    CONVERSATION_KIND_COMMENT_THREAD: _ClassVar[ConversationKind]

class ConversationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSATION_STATUS_UNSPECIFIED: _ClassVar[ConversationStatus]
    CONVERSATION_STATUS_OPEN: _ClassVar[ConversationStatus]
    CONVERSATION_STATUS_PENDING: _ClassVar[ConversationStatus]
    CONVERSATION_STATUS_DONE: _ClassVar[ConversationStatus]

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_UNSPECIFIED: _ClassVar[Direction]
    DIRECTION_INCOMING: _ClassVar[Direction]
    DIRECTION_OUTGOING: _ClassVar[Direction]

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIORITY_UNSPECIFIED: _ClassVar[Priority]
    PRIORITY_LOW: _ClassVar[Priority]
    PRIORITY_NORMAL: _ClassVar[Priority]
    PRIORITY_HIGH: _ClassVar[Priority]
    PRIORITY_URGENT: _ClassVar[Priority]

class ItemSort(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_SORT_UNSPECIFIED: _ClassVar[ItemSort]
    ITEM_SORT_CREATED: _ClassVar[ItemSort]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_CSV: _ClassVar[ExportFormat]
    EXPORT_FORMAT_XLSX: _ClassVar[ExportFormat]

class RuleMatch(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_MATCH_UNSPECIFIED: _ClassVar[RuleMatch]
    RULE_MATCH_KEYWORD: _ClassVar[RuleMatch]
    RULE_MATCH_REGEX: _ClassVar[RuleMatch]

class NotificationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_KIND_UNSPECIFIED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_NEW_DIRECT_MESSAGE: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_RULE_HIT: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_ACCOUNT_NEEDS_LOGIN: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_ACCOUNT_BLOCKED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_WORKER_DOWN: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_TEST: _ClassVar[NotificationKind]

class ConversationChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSATION_CHANGE_UNSPECIFIED: _ClassVar[ConversationChange]
    CONVERSATION_CHANGE_ITEMS: _ClassVar[ConversationChange]
    CONVERSATION_CHANGE_ASSIGNED: _ClassVar[ConversationChange]
    CONVERSATION_CHANGE_STATUS: _ClassVar[ConversationChange]
    CONVERSATION_CHANGE_LABELS: _ClassVar[ConversationChange]
    CONVERSATION_CHANGE_READ: _ClassVar[ConversationChange]
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_ITEM: EventKind
EVENT_KIND_WORKER: EventKind
EVENT_KIND_ACCOUNT: EventKind
EVENT_KIND_CONFIG_ACK: EventKind
EVENT_KIND_LOGIN: EventKind
EVENT_KIND_REPLY: EventKind
EVENT_KIND_NOTICE: EventKind
EVENT_KIND_UNREAD: EventKind
EVENT_KIND_CONVERSATION: EventKind
ROLE_UNSPECIFIED: Role
ROLE_VIEWER: Role
ROLE_AGENT: Role
ROLE_ADMIN: Role
CREDENTIAL_KIND_UNSPECIFIED: CredentialKind
CREDENTIAL_KIND_OPERATOR: CredentialKind
CREDENTIAL_KIND_WORKER: CredentialKind
CREDENTIAL_KIND_ENROLLMENT: CredentialKind
CREDENTIAL_KIND_HOST: CredentialKind
CONVERSATION_KIND_UNSPECIFIED: ConversationKind
CONVERSATION_KIND_DIRECT_MESSAGE: ConversationKind
CONVERSATION_KIND_COMMENT_THREAD: ConversationKind
CONVERSATION_STATUS_UNSPECIFIED: ConversationStatus
CONVERSATION_STATUS_OPEN: ConversationStatus
CONVERSATION_STATUS_PENDING: ConversationStatus
CONVERSATION_STATUS_DONE: ConversationStatus
DIRECTION_UNSPECIFIED: Direction
DIRECTION_INCOMING: Direction
DIRECTION_OUTGOING: Direction
PRIORITY_UNSPECIFIED: Priority
PRIORITY_LOW: Priority
PRIORITY_NORMAL: Priority
PRIORITY_HIGH: Priority
PRIORITY_URGENT: Priority
ITEM_SORT_UNSPECIFIED: ItemSort
ITEM_SORT_CREATED: ItemSort
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_CSV: ExportFormat
EXPORT_FORMAT_XLSX: ExportFormat
RULE_MATCH_UNSPECIFIED: RuleMatch
RULE_MATCH_KEYWORD: RuleMatch
RULE_MATCH_REGEX: RuleMatch
NOTIFICATION_KIND_UNSPECIFIED: NotificationKind
NOTIFICATION_KIND_NEW_DIRECT_MESSAGE: NotificationKind
NOTIFICATION_KIND_RULE_HIT: NotificationKind
NOTIFICATION_KIND_ACCOUNT_NEEDS_LOGIN: NotificationKind
NOTIFICATION_KIND_ACCOUNT_BLOCKED: NotificationKind
NOTIFICATION_KIND_WORKER_DOWN: NotificationKind
NOTIFICATION_KIND_TEST: NotificationKind
CONVERSATION_CHANGE_UNSPECIFIED: ConversationChange
CONVERSATION_CHANGE_ITEMS: ConversationChange
CONVERSATION_CHANGE_ASSIGNED: ConversationChange
CONVERSATION_CHANGE_STATUS: ConversationChange
CONVERSATION_CHANGE_LABELS: ConversationChange
CONVERSATION_CHANGE_READ: ConversationChange

class Worker(_message.Message):
    __slots__ = ("worker_id", "host", "pid", "version", "platforms", "max_accounts", "state", "process_state", "stats", "last_heartbeat_at", "connected_at", "state_changed_at", "account_ids", "connections", "outbox_pending", "boot_id", "delivery_error", "delivery_errors")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PLATFORMS_FIELD_NUMBER: _ClassVar[int]
    MAX_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_STATE_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_PENDING_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ERROR_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ERRORS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    host: str
    pid: int
    version: str
    platforms: _containers.RepeatedScalarFieldContainer[_common_pb2.Platform]
    max_accounts: int
    state: _common_pb2.WorkerState
    process_state: _common_pb2.ProcessState
    stats: _common_pb2.ProcessStats
    last_heartbeat_at: _timestamp_pb2.Timestamp
    connected_at: _timestamp_pb2.Timestamp
    state_changed_at: _timestamp_pb2.Timestamp
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    connections: int
    outbox_pending: int
    boot_id: str
    delivery_error: str
    delivery_errors: int
    def __init__(self, worker_id: _Optional[str] = ..., host: _Optional[str] = ..., pid: _Optional[int] = ..., version: _Optional[str] = ..., platforms: _Optional[_Iterable[_Union[_common_pb2.Platform, str]]] = ..., max_accounts: _Optional[int] = ..., state: _Optional[_Union[_common_pb2.WorkerState, str]] = ..., process_state: _Optional[_Union[_common_pb2.ProcessState, str]] = ..., stats: _Optional[_Union[_common_pb2.ProcessStats, _Mapping]] = ..., last_heartbeat_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., connected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., account_ids: _Optional[_Iterable[str]] = ..., connections: _Optional[int] = ..., outbox_pending: _Optional[int] = ..., boot_id: _Optional[str] = ..., delivery_error: _Optional[str] = ..., delivery_errors: _Optional[int] = ...) -> None: ...

class ListWorkersRequest(_message.Message):
    __slots__ = ("states",)
    STATES_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[_common_pb2.WorkerState]
    def __init__(self, states: _Optional[_Iterable[_Union[_common_pb2.WorkerState, str]]] = ...) -> None: ...

class ListWorkersResponse(_message.Message):
    __slots__ = ("workers",)
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[Worker]
    def __init__(self, workers: _Optional[_Iterable[_Union[Worker, _Mapping]]] = ...) -> None: ...

class GetWorkerRequest(_message.Message):
    __slots__ = ("worker_id",)
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ...) -> None: ...

class WorkerTargets(_message.Message):
    __slots__ = ("worker_ids", "all", "host")
    WORKER_IDS_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    worker_ids: _containers.RepeatedScalarFieldContainer[str]
    all: bool
    host: str
    def __init__(self, worker_ids: _Optional[_Iterable[str]] = ..., all: _Optional[bool] = ..., host: _Optional[str] = ...) -> None: ...

class WorkerActionResult(_message.Message):
    __slots__ = ("worker_id", "ok", "message", "process_state")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROCESS_STATE_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    ok: bool
    message: str
    process_state: _common_pb2.ProcessState
    def __init__(self, worker_id: _Optional[str] = ..., ok: _Optional[bool] = ..., message: _Optional[str] = ..., process_state: _Optional[_Union[_common_pb2.ProcessState, str]] = ...) -> None: ...

class WorkerActionResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[WorkerActionResult]
    def __init__(self, results: _Optional[_Iterable[_Union[WorkerActionResult, _Mapping]]] = ...) -> None: ...

class ScaleWorkersRequest(_message.Message):
    __slots__ = ("count", "host", "spread")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    SPREAD_FIELD_NUMBER: _ClassVar[int]
    count: int
    host: str
    spread: bool
    def __init__(self, count: _Optional[int] = ..., host: _Optional[str] = ..., spread: _Optional[bool] = ...) -> None: ...

class TailWorkerLogRequest(_message.Message):
    __slots__ = ("worker_id", "max_bytes", "follow", "host")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    max_bytes: int
    follow: bool
    host: str
    def __init__(self, worker_id: _Optional[str] = ..., max_bytes: _Optional[int] = ..., follow: _Optional[bool] = ..., host: _Optional[str] = ...) -> None: ...

class LogChunk(_message.Message):
    __slots__ = ("worker_id", "text", "overflow")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    text: str
    overflow: bool
    def __init__(self, worker_id: _Optional[str] = ..., text: _Optional[str] = ..., overflow: _Optional[bool] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("account_id", "spec", "config_version", "acked_config_version", "worker_id", "state", "error_kind", "state_reason", "has_session", "user", "last_cycle_at", "state_changed_at", "unread_count", "proxy_health", "created_at", "updated_at", "screenshot_path", "proxy_has_password", "monitor_page")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACKED_CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    HAS_SESSION_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    LAST_CYCLE_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    UNREAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    PROXY_HEALTH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_PATH_FIELD_NUMBER: _ClassVar[int]
    PROXY_HAS_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    MONITOR_PAGE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    spec: _common_pb2.AccountSpec
    config_version: int
    acked_config_version: int
    worker_id: str
    state: _common_pb2.RunState
    error_kind: _common_pb2.ErrorKind
    state_reason: str
    has_session: bool
    user: _common_pb2.UserInfo
    last_cycle_at: _timestamp_pb2.Timestamp
    state_changed_at: _timestamp_pb2.Timestamp
    unread_count: int
    proxy_health: _common_pb2.ProxyHealth
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    screenshot_path: str
    proxy_has_password: bool
    monitor_page: _common_pb2.MonitorPage
    def __init__(self, account_id: _Optional[str] = ..., spec: _Optional[_Union[_common_pb2.AccountSpec, _Mapping]] = ..., config_version: _Optional[int] = ..., acked_config_version: _Optional[int] = ..., worker_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.RunState, str]] = ..., error_kind: _Optional[_Union[_common_pb2.ErrorKind, str]] = ..., state_reason: _Optional[str] = ..., has_session: _Optional[bool] = ..., user: _Optional[_Union[_common_pb2.UserInfo, _Mapping]] = ..., last_cycle_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unread_count: _Optional[int] = ..., proxy_health: _Optional[_Union[_common_pb2.ProxyHealth, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., screenshot_path: _Optional[str] = ..., proxy_has_password: _Optional[bool] = ..., monitor_page: _Optional[_Union[_common_pb2.MonitorPage, _Mapping]] = ...) -> None: ...

class ListAccountsRequest(_message.Message):
    __slots__ = ("platform", "worker_id", "states", "page_size", "page_token")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    platform: _common_pb2.Platform
    worker_id: str
    states: _containers.RepeatedScalarFieldContainer[_common_pb2.RunState]
    page_size: int
    page_token: str
    def __init__(self, platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., worker_id: _Optional[str] = ..., states: _Optional[_Iterable[_Union[_common_pb2.RunState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAccountsResponse(_message.Message):
    __slots__ = ("accounts", "next_page_token")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    next_page_token: str
    def __init__(self, accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class CreateAccountRequest(_message.Message):
    __slots__ = ("account_id", "spec")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    spec: _common_pb2.AccountSpec
    def __init__(self, account_id: _Optional[str] = ..., spec: _Optional[_Union[_common_pb2.AccountSpec, _Mapping]] = ...) -> None: ...

class UpdateAccountRequest(_message.Message):
    __slots__ = ("account_id", "spec", "update_mask", "expected_config_version")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    spec: _common_pb2.AccountSpec
    update_mask: _field_mask_pb2.FieldMask
    expected_config_version: int
    def __init__(self, account_id: _Optional[str] = ..., spec: _Optional[_Union[_common_pb2.AccountSpec, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., expected_config_version: _Optional[int] = ...) -> None: ...

class DeleteAccountRequest(_message.Message):
    __slots__ = ("account_id", "keep_items")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    KEEP_ITEMS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    keep_items: bool
    def __init__(self, account_id: _Optional[str] = ..., keep_items: _Optional[bool] = ...) -> None: ...

class DeleteAccountResponse(_message.Message):
    __slots__ = ("account_id", "items_deleted")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_DELETED_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    items_deleted: int
    def __init__(self, account_id: _Optional[str] = ..., items_deleted: _Optional[int] = ...) -> None: ...

class AssignAccountRequest(_message.Message):
    __slots__ = ("account_id", "worker_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    worker_id: str
    def __init__(self, account_id: _Optional[str] = ..., worker_id: _Optional[str] = ...) -> None: ...

class StartLoginRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class LoginUpdate(_message.Message):
    __slots__ = ("session_id", "account_id", "worker_id", "at", "qr", "scanned", "verification_required", "success", "failed", "expired", "cancelled", "started")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    QR_FIELD_NUMBER: _ClassVar[int]
    SCANNED_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    account_id: str
    worker_id: str
    at: _timestamp_pb2.Timestamp
    qr: _gateway_pb2.LoginQr
    scanned: _gateway_pb2.LoginScanned
    verification_required: _gateway_pb2.LoginVerificationRequired
    success: _common_pb2.UserInfo
    failed: _gateway_pb2.LoginFailed
    expired: _gateway_pb2.LoginExpired
    cancelled: _gateway_pb2.LoginCancelled
    started: LoginStarted
    def __init__(self, session_id: _Optional[str] = ..., account_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., qr: _Optional[_Union[_gateway_pb2.LoginQr, _Mapping]] = ..., scanned: _Optional[_Union[_gateway_pb2.LoginScanned, _Mapping]] = ..., verification_required: _Optional[_Union[_gateway_pb2.LoginVerificationRequired, _Mapping]] = ..., success: _Optional[_Union[_common_pb2.UserInfo, _Mapping]] = ..., failed: _Optional[_Union[_gateway_pb2.LoginFailed, _Mapping]] = ..., expired: _Optional[_Union[_gateway_pb2.LoginExpired, _Mapping]] = ..., cancelled: _Optional[_Union[_gateway_pb2.LoginCancelled, _Mapping]] = ..., started: _Optional[_Union[LoginStarted, _Mapping]] = ...) -> None: ...

class LoginStarted(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SubmitVerificationRequest(_message.Message):
    __slots__ = ("session_id", "code")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    code: str
    def __init__(self, session_id: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class SubmitVerificationResponse(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CancelLoginRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CancelLoginResponse(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class StoredItem(_message.Message):
    __slots__ = ("id", "item", "read", "received_at", "worker_id", "replied_by", "direction", "conversation_ref", "parent_item_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    REPLIED_BY_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    PARENT_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    item: _common_pb2.Item
    read: bool
    received_at: _timestamp_pb2.Timestamp
    worker_id: str
    replied_by: str
    direction: Direction
    conversation_ref: int
    parent_item_id: int
    def __init__(self, id: _Optional[int] = ..., item: _Optional[_Union[_common_pb2.Item, _Mapping]] = ..., read: _Optional[bool] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., worker_id: _Optional[str] = ..., replied_by: _Optional[str] = ..., direction: _Optional[_Union[Direction, str]] = ..., conversation_ref: _Optional[int] = ..., parent_item_id: _Optional[int] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("account_ids", "kinds", "unread_only", "query", "since", "until", "conversation_id", "post_id", "page_size", "page_token", "conversation_ref", "sort", "directions")
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    UNREAD_ONLY_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.ItemKind]
    unread_only: bool
    query: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    conversation_id: str
    post_id: str
    page_size: int
    page_token: str
    conversation_ref: int
    sort: ItemSort
    directions: _containers.RepeatedScalarFieldContainer[Direction]
    def __init__(self, account_ids: _Optional[_Iterable[str]] = ..., kinds: _Optional[_Iterable[_Union[_common_pb2.ItemKind, str]]] = ..., unread_only: _Optional[bool] = ..., query: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., conversation_id: _Optional[str] = ..., post_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., conversation_ref: _Optional[int] = ..., sort: _Optional[_Union[ItemSort, str]] = ..., directions: _Optional[_Iterable[_Union[Direction, str]]] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items", "next_page_token")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[StoredItem]
    next_page_token: str
    def __init__(self, items: _Optional[_Iterable[_Union[StoredItem, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MarkReadRequest(_message.Message):
    __slots__ = ("item_ids", "account_id", "conversation_id", "unread")
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    item_ids: _containers.RepeatedScalarFieldContainer[int]
    account_id: str
    conversation_id: str
    unread: bool
    def __init__(self, item_ids: _Optional[_Iterable[int]] = ..., account_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., unread: _Optional[bool] = ...) -> None: ...

class MarkReadResponse(_message.Message):
    __slots__ = ("updated",)
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    updated: int
    def __init__(self, updated: _Optional[int] = ...) -> None: ...

class GetUnreadCountsRequest(_message.Message):
    __slots__ = ("account_ids",)
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, account_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UnreadCount(_message.Message):
    __slots__ = ("account_id", "comments", "direct_messages")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    COMMENTS_FIELD_NUMBER: _ClassVar[int]
    DIRECT_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    comments: int
    direct_messages: int
    def __init__(self, account_id: _Optional[str] = ..., comments: _Optional[int] = ..., direct_messages: _Optional[int] = ...) -> None: ...

class GetUnreadCountsResponse(_message.Message):
    __slots__ = ("counts", "total")
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[UnreadCount]
    total: int
    def __init__(self, counts: _Optional[_Iterable[_Union[UnreadCount, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class SendReplyRequest(_message.Message):
    __slots__ = ("request_id", "item_id", "text")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    item_id: int
    text: str
    def __init__(self, request_id: _Optional[str] = ..., item_id: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class SendReplyResponse(_message.Message):
    __slots__ = ("request_id", "ok", "error_kind", "error", "platform_item_id", "operator")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ok: bool
    error_kind: _common_pb2.ErrorKind
    error: str
    platform_item_id: str
    operator: str
    def __init__(self, request_id: _Optional[str] = ..., ok: _Optional[bool] = ..., error_kind: _Optional[_Union[_common_pb2.ErrorKind, str]] = ..., error: _Optional[str] = ..., platform_item_id: _Optional[str] = ..., operator: _Optional[str] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("kinds", "account_ids")
    KINDS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[EventKind]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kinds: _Optional[_Iterable[_Union[EventKind, str]]] = ..., account_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ConfigAcked(_message.Message):
    __slots__ = ("account_id", "worker_id", "config_version", "ok", "error")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    worker_id: str
    config_version: int
    ok: bool
    error: str
    def __init__(self, account_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., config_version: _Optional[int] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("level", "message", "worker_id", "account_id")
    class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        LEVEL_UNSPECIFIED: _ClassVar[Notice.Level]
        LEVEL_INFO: _ClassVar[Notice.Level]
        LEVEL_WARNING: _ClassVar[Notice.Level]
        LEVEL_ERROR: _ClassVar[Notice.Level]
    LEVEL_UNSPECIFIED: Notice.Level
    LEVEL_INFO: Notice.Level
    LEVEL_WARNING: Notice.Level
    LEVEL_ERROR: Notice.Level
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    level: Notice.Level
    message: str
    worker_id: str
    account_id: str
    def __init__(self, level: _Optional[_Union[Notice.Level, str]] = ..., message: _Optional[str] = ..., worker_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class AccountDeleted(_message.Message):
    __slots__ = ("account_id", "items_deleted")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_DELETED_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    items_deleted: int
    def __init__(self, account_id: _Optional[str] = ..., items_deleted: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("seq", "at", "item", "worker", "account", "config_acked", "login", "reply", "notice", "unread", "account_deleted", "conversation")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ACKED_FIELD_NUMBER: _ClassVar[int]
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_DELETED_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    seq: int
    at: _timestamp_pb2.Timestamp
    item: StoredItem
    worker: Worker
    account: Account
    config_acked: ConfigAcked
    login: LoginUpdate
    reply: SendReplyResponse
    notice: Notice
    unread: UnreadCount
    account_deleted: AccountDeleted
    conversation: ConversationUpdate
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., item: _Optional[_Union[StoredItem, _Mapping]] = ..., worker: _Optional[_Union[Worker, _Mapping]] = ..., account: _Optional[_Union[Account, _Mapping]] = ..., config_acked: _Optional[_Union[ConfigAcked, _Mapping]] = ..., login: _Optional[_Union[LoginUpdate, _Mapping]] = ..., reply: _Optional[_Union[SendReplyResponse, _Mapping]] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ..., unread: _Optional[_Union[UnreadCount, _Mapping]] = ..., account_deleted: _Optional[_Union[AccountDeleted, _Mapping]] = ..., conversation: _Optional[_Union[ConversationUpdate, _Mapping]] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Stats(_message.Message):
    __slots__ = ("started_at", "master_version", "database", "workers_by_state", "accounts_by_state", "items_total", "items_unread", "items_ingested", "duplicates", "batches", "acks", "pending_config_acks", "stream_connects", "subscribers", "frames_rejected", "task_failures", "problems", "items_refused", "batches_refused", "notifications_sent", "notifications_failed", "notifications_dropped")
    class WorkersByStateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class AccountsByStateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class TaskFailuresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    MASTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    WORKERS_BY_STATE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_BY_STATE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_UNREAD_FIELD_NUMBER: _ClassVar[int]
    ITEMS_INGESTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    ACKS_FIELD_NUMBER: _ClassVar[int]
    PENDING_CONFIG_ACKS_FIELD_NUMBER: _ClassVar[int]
    STREAM_CONNECTS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_REJECTED_FIELD_NUMBER: _ClassVar[int]
    TASK_FAILURES_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_REFUSED_FIELD_NUMBER: _ClassVar[int]
    BATCHES_REFUSED_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATIONS_SENT_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATIONS_FAILED_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATIONS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    started_at: _timestamp_pb2.Timestamp
    master_version: str
    database: str
    workers_by_state: _containers.ScalarMap[str, int]
    accounts_by_state: _containers.ScalarMap[str, int]
    items_total: int
    items_unread: int
    items_ingested: int
    duplicates: int
    batches: int
    acks: int
    pending_config_acks: int
    stream_connects: int
    subscribers: int
    frames_rejected: int
    task_failures: _containers.ScalarMap[str, int]
    problems: _containers.RepeatedScalarFieldContainer[str]
    items_refused: int
    batches_refused: int
    notifications_sent: int
    notifications_failed: int
    notifications_dropped: int
    def __init__(self, started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., master_version: _Optional[str] = ..., database: _Optional[str] = ..., workers_by_state: _Optional[_Mapping[str, int]] = ..., accounts_by_state: _Optional[_Mapping[str, int]] = ..., items_total: _Optional[int] = ..., items_unread: _Optional[int] = ..., items_ingested: _Optional[int] = ..., duplicates: _Optional[int] = ..., batches: _Optional[int] = ..., acks: _Optional[int] = ..., pending_config_acks: _Optional[int] = ..., stream_connects: _Optional[int] = ..., subscribers: _Optional[int] = ..., frames_rejected: _Optional[int] = ..., task_failures: _Optional[_Mapping[str, int]] = ..., problems: _Optional[_Iterable[str]] = ..., items_refused: _Optional[int] = ..., batches_refused: _Optional[int] = ..., notifications_sent: _Optional[int] = ..., notifications_failed: _Optional[int] = ..., notifications_dropped: _Optional[int] = ...) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TokenInfo(_message.Message):
    __slots__ = ("token_id", "name", "kind", "role", "worker_id", "created_at", "revoked_at", "created_by", "last_used_at", "cert_identity")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    CERT_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    name: str
    kind: CredentialKind
    role: Role
    worker_id: str
    created_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    created_by: str
    last_used_at: _timestamp_pb2.Timestamp
    cert_identity: str
    def __init__(self, token_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[CredentialKind, str]] = ..., role: _Optional[_Union[Role, str]] = ..., worker_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cert_identity: _Optional[str] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("name", "role", "worker_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: Role
    worker_id: str
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., worker_id: _Optional[str] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "secret")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    token: TokenInfo
    secret: str
    def __init__(self, token: _Optional[_Union[TokenInfo, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("include_revoked",)
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    include_revoked: bool
    def __init__(self, include_revoked: _Optional[bool] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[TokenInfo]
    def __init__(self, tokens: _Optional[_Iterable[_Union[TokenInfo, _Mapping]]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("token_id", "name")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    name: str
    def __init__(self, token_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("id", "at", "actor", "role", "action", "account_id", "item_id", "worker_id", "detail", "outcome", "peer")
    ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    id: int
    at: _timestamp_pb2.Timestamp
    actor: str
    role: Role
    action: str
    account_id: str
    item_id: int
    worker_id: str
    detail: str
    outcome: str
    peer: str
    def __init__(self, id: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., action: _Optional[str] = ..., account_id: _Optional[str] = ..., item_id: _Optional[int] = ..., worker_id: _Optional[str] = ..., detail: _Optional[str] = ..., outcome: _Optional[str] = ..., peer: _Optional[str] = ...) -> None: ...

class ListAuditLogRequest(_message.Message):
    __slots__ = ("account_id", "actor", "action", "before_id", "page_size")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    actor: str
    action: str
    before_id: int
    page_size: int
    def __init__(self, account_id: _Optional[str] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., before_id: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListAuditLogResponse(_message.Message):
    __slots__ = ("entries", "next_before_id")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    next_before_id: int
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ..., next_before_id: _Optional[int] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("conversation_ref", "account_id", "platform", "kind", "customer_id", "customer_name", "post_id", "post_title", "platform_conversation_id", "last_message_text", "last_message_at", "last_direction", "waiting_since", "unread_count", "status", "assignee", "tags", "priority", "item_count", "last_item_id", "last_incoming_item_id", "created_at", "updated_at")
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_NAME_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    POST_TITLE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_MESSAGE_TEXT_FIELD_NUMBER: _ClassVar[int]
    LAST_MESSAGE_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_DIRECTION_FIELD_NUMBER: _ClassVar[int]
    WAITING_SINCE_FIELD_NUMBER: _ClassVar[int]
    UNREAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_INCOMING_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    conversation_ref: int
    account_id: str
    platform: _common_pb2.Platform
    kind: ConversationKind
    customer_id: str
    customer_name: str
    post_id: str
    post_title: str
    platform_conversation_id: str
    last_message_text: str
    last_message_at: _timestamp_pb2.Timestamp
    last_direction: Direction
    waiting_since: _timestamp_pb2.Timestamp
    unread_count: int
    status: ConversationStatus
    assignee: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    priority: Priority
    item_count: int
    last_item_id: int
    last_incoming_item_id: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, conversation_ref: _Optional[int] = ..., account_id: _Optional[str] = ..., platform: _Optional[_Union[_common_pb2.Platform, str]] = ..., kind: _Optional[_Union[ConversationKind, str]] = ..., customer_id: _Optional[str] = ..., customer_name: _Optional[str] = ..., post_id: _Optional[str] = ..., post_title: _Optional[str] = ..., platform_conversation_id: _Optional[str] = ..., last_message_text: _Optional[str] = ..., last_message_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_direction: _Optional[_Union[Direction, str]] = ..., waiting_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unread_count: _Optional[int] = ..., status: _Optional[_Union[ConversationStatus, str]] = ..., assignee: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., priority: _Optional[_Union[Priority, str]] = ..., item_count: _Optional[int] = ..., last_item_id: _Optional[int] = ..., last_incoming_item_id: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListConversationsRequest(_message.Message):
    __slots__ = ("account_ids", "statuses", "kinds", "assignee", "assigned_to_me", "unassigned_only", "tag", "customer", "post_id", "since", "until", "unread_only", "page_size", "page_token", "query")
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_TO_ME_FIELD_NUMBER: _ClassVar[int]
    UNASSIGNED_ONLY_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    UNREAD_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    statuses: _containers.RepeatedScalarFieldContainer[ConversationStatus]
    kinds: _containers.RepeatedScalarFieldContainer[ConversationKind]
    assignee: str
    assigned_to_me: bool
    unassigned_only: bool
    tag: str
    customer: str
    post_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    unread_only: bool
    page_size: int
    page_token: str
    query: str
    def __init__(self, account_ids: _Optional[_Iterable[str]] = ..., statuses: _Optional[_Iterable[_Union[ConversationStatus, str]]] = ..., kinds: _Optional[_Iterable[_Union[ConversationKind, str]]] = ..., assignee: _Optional[str] = ..., assigned_to_me: _Optional[bool] = ..., unassigned_only: _Optional[bool] = ..., tag: _Optional[str] = ..., customer: _Optional[str] = ..., post_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unread_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ...) -> None: ...

class ListConversationsResponse(_message.Message):
    __slots__ = ("conversations", "next_page_token")
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[Conversation]
    next_page_token: str
    def __init__(self, conversations: _Optional[_Iterable[_Union[Conversation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetConversationRequest(_message.Message):
    __slots__ = ("conversation_ref", "max_items")
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    MAX_ITEMS_FIELD_NUMBER: _ClassVar[int]
    conversation_ref: int
    max_items: int
    def __init__(self, conversation_ref: _Optional[int] = ..., max_items: _Optional[int] = ...) -> None: ...

class ConversationThread(_message.Message):
    __slots__ = ("conversation", "items", "truncated")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    items: _containers.RepeatedCompositeFieldContainer[StoredItem]
    truncated: bool
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., items: _Optional[_Iterable[_Union[StoredItem, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class MarkConversationReadRequest(_message.Message):
    __slots__ = ("conversation_ref", "up_to_item_id")
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    UP_TO_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_ref: int
    up_to_item_id: int
    def __init__(self, conversation_ref: _Optional[int] = ..., up_to_item_id: _Optional[int] = ...) -> None: ...

class MarkConversationUnreadRequest(_message.Message):
    __slots__ = ("conversation_ref",)
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    conversation_ref: int
    def __init__(self, conversation_ref: _Optional[int] = ...) -> None: ...

class ConversationReadState(_message.Message):
    __slots__ = ("conversation_ref", "operator", "unread_count", "read_up_to_item_id")
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    UNREAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    READ_UP_TO_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_ref: int
    operator: str
    unread_count: int
    read_up_to_item_id: int
    def __init__(self, conversation_ref: _Optional[int] = ..., operator: _Optional[str] = ..., unread_count: _Optional[int] = ..., read_up_to_item_id: _Optional[int] = ...) -> None: ...

class ClaimConversationRequest(_message.Message):
    __slots__ = ("conversation_ref", "take_over")
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    TAKE_OVER_FIELD_NUMBER: _ClassVar[int]
    conversation_ref: int
    take_over: bool
    def __init__(self, conversation_ref: _Optional[int] = ..., take_over: _Optional[bool] = ...) -> None: ...

class AssignConversationRequest(_message.Message):
    __slots__ = ("conversation_ref", "assignee")
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    conversation_ref: int
    assignee: str
    def __init__(self, conversation_ref: _Optional[int] = ..., assignee: _Optional[str] = ...) -> None: ...

class ListAssigneesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Assignee(_message.Message):
    __slots__ = ("name", "role")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: Role
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ...) -> None: ...

class ListAssigneesResponse(_message.Message):
    __slots__ = ("assignees",)
    ASSIGNEES_FIELD_NUMBER: _ClassVar[int]
    assignees: _containers.RepeatedCompositeFieldContainer[Assignee]
    def __init__(self, assignees: _Optional[_Iterable[_Union[Assignee, _Mapping]]] = ...) -> None: ...

class SetConversationStatusRequest(_message.Message):
    __slots__ = ("conversation_ref", "status")
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    conversation_ref: int
    status: ConversationStatus
    def __init__(self, conversation_ref: _Optional[int] = ..., status: _Optional[_Union[ConversationStatus, str]] = ...) -> None: ...

class LabelConversationRequest(_message.Message):
    __slots__ = ("conversation_ref", "add_tags", "remove_tags", "priority")
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    ADD_TAGS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_TAGS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    conversation_ref: int
    add_tags: _containers.RepeatedScalarFieldContainer[str]
    remove_tags: _containers.RepeatedScalarFieldContainer[str]
    priority: Priority
    def __init__(self, conversation_ref: _Optional[int] = ..., add_tags: _Optional[_Iterable[str]] = ..., remove_tags: _Optional[_Iterable[str]] = ..., priority: _Optional[_Union[Priority, str]] = ...) -> None: ...

class ConversationUpdate(_message.Message):
    __slots__ = ("conversation", "change", "operator", "new_incoming", "item_ids", "rules_hit")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    NEW_INCOMING_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    RULES_HIT_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    change: ConversationChange
    operator: str
    new_incoming: int
    item_ids: _containers.RepeatedScalarFieldContainer[int]
    rules_hit: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., change: _Optional[_Union[ConversationChange, str]] = ..., operator: _Optional[str] = ..., new_incoming: _Optional[int] = ..., item_ids: _Optional[_Iterable[int]] = ..., rules_hit: _Optional[_Iterable[str]] = ...) -> None: ...

class SavedReply(_message.Message):
    __slots__ = ("id", "name", "text", "created_by", "created_at", "updated_at", "updated_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    text: str
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., text: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ...) -> None: ...

class ListSavedRepliesRequest(_message.Message):
    __slots__ = ("query",)
    QUERY_FIELD_NUMBER: _ClassVar[int]
    query: str
    def __init__(self, query: _Optional[str] = ...) -> None: ...

class ListSavedRepliesResponse(_message.Message):
    __slots__ = ("saved_replies",)
    SAVED_REPLIES_FIELD_NUMBER: _ClassVar[int]
    saved_replies: _containers.RepeatedCompositeFieldContainer[SavedReply]
    def __init__(self, saved_replies: _Optional[_Iterable[_Union[SavedReply, _Mapping]]] = ...) -> None: ...

class CreateSavedReplyRequest(_message.Message):
    __slots__ = ("name", "text")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    name: str
    text: str
    def __init__(self, name: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class UpdateSavedReplyRequest(_message.Message):
    __slots__ = ("id", "name", "text")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    text: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class DeleteSavedReplyRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class DeleteSavedReplyResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class RenderSavedReplyRequest(_message.Message):
    __slots__ = ("id", "conversation_ref")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    id: int
    conversation_ref: int
    def __init__(self, id: _Optional[int] = ..., conversation_ref: _Optional[int] = ...) -> None: ...

class RenderSavedReplyResponse(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("id", "name", "match", "pattern", "kinds", "account_ids", "add_tags", "set_priority", "notify", "enabled", "hits", "last_hit_at", "created_by", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    ADD_TAGS_FIELD_NUMBER: _ClassVar[int]
    SET_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    LAST_HIT_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    match: RuleMatch
    pattern: str
    kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.ItemKind]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    add_tags: _containers.RepeatedScalarFieldContainer[str]
    set_priority: Priority
    notify: bool
    enabled: bool
    hits: int
    last_hit_at: _timestamp_pb2.Timestamp
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., match: _Optional[_Union[RuleMatch, str]] = ..., pattern: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[_common_pb2.ItemKind, str]]] = ..., account_ids: _Optional[_Iterable[str]] = ..., add_tags: _Optional[_Iterable[str]] = ..., set_priority: _Optional[_Union[Priority, str]] = ..., notify: _Optional[bool] = ..., enabled: _Optional[bool] = ..., hits: _Optional[int] = ..., last_hit_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[Rule]
    def __init__(self, rules: _Optional[_Iterable[_Union[Rule, _Mapping]]] = ...) -> None: ...

class CreateRuleRequest(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class UpdateRuleRequest(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class DeleteRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class DeleteRuleResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ExportItemsRequest(_message.Message):
    __slots__ = ("filter", "format", "max_rows")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    filter: ListItemsRequest
    format: ExportFormat
    max_rows: int
    def __init__(self, filter: _Optional[_Union[ListItemsRequest, _Mapping]] = ..., format: _Optional[_Union[ExportFormat, str]] = ..., max_rows: _Optional[int] = ...) -> None: ...

class ExportConversationRequest(_message.Message):
    __slots__ = ("conversation_ref", "format")
    CONVERSATION_REF_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    conversation_ref: int
    format: ExportFormat
    def __init__(self, conversation_ref: _Optional[int] = ..., format: _Optional[_Union[ExportFormat, str]] = ...) -> None: ...

class ExportChunk(_message.Message):
    __slots__ = ("data", "file_name", "content_type", "last", "rows")
    DATA_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    file_name: str
    content_type: str
    last: bool
    rows: int
    def __init__(self, data: _Optional[bytes] = ..., file_name: _Optional[str] = ..., content_type: _Optional[str] = ..., last: _Optional[bool] = ..., rows: _Optional[int] = ...) -> None: ...

class GetReportRequest(_message.Message):
    __slots__ = ("since", "until", "account_ids")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., account_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class OperatorReport(_message.Message):
    __slots__ = ("operator", "replies", "first_responses", "first_response_avg_seconds", "first_response_median_seconds")
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    REPLIES_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSES_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_AVG_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_MEDIAN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    operator: str
    replies: int
    first_responses: int
    first_response_avg_seconds: float
    first_response_median_seconds: float
    def __init__(self, operator: _Optional[str] = ..., replies: _Optional[int] = ..., first_responses: _Optional[int] = ..., first_response_avg_seconds: _Optional[float] = ..., first_response_median_seconds: _Optional[float] = ...) -> None: ...

class AccountVolume(_message.Message):
    __slots__ = ("account_id", "incoming_comments", "incoming_direct_messages", "outgoing", "conversations")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    INCOMING_COMMENTS_FIELD_NUMBER: _ClassVar[int]
    INCOMING_DIRECT_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    OUTGOING_FIELD_NUMBER: _ClassVar[int]
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    incoming_comments: int
    incoming_direct_messages: int
    outgoing: int
    conversations: int
    def __init__(self, account_id: _Optional[str] = ..., incoming_comments: _Optional[int] = ..., incoming_direct_messages: _Optional[int] = ..., outgoing: _Optional[int] = ..., conversations: _Optional[int] = ...) -> None: ...

class HourVolume(_message.Message):
    __slots__ = ("hour", "incoming", "outgoing")
    HOUR_FIELD_NUMBER: _ClassVar[int]
    INCOMING_FIELD_NUMBER: _ClassVar[int]
    OUTGOING_FIELD_NUMBER: _ClassVar[int]
    hour: _timestamp_pb2.Timestamp
    incoming: int
    outgoing: int
    def __init__(self, hour: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., incoming: _Optional[int] = ..., outgoing: _Optional[int] = ...) -> None: ...

class Report(_message.Message):
    __slots__ = ("since", "until", "operators", "accounts", "hours")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    OPERATORS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    operators: _containers.RepeatedCompositeFieldContainer[OperatorReport]
    accounts: _containers.RepeatedCompositeFieldContainer[AccountVolume]
    hours: _containers.RepeatedCompositeFieldContainer[HourVolume]
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., operators: _Optional[_Iterable[_Union[OperatorReport, _Mapping]]] = ..., accounts: _Optional[_Iterable[_Union[AccountVolume, _Mapping]]] = ..., hours: _Optional[_Iterable[_Union[HourVolume, _Mapping]]] = ...) -> None: ...

class Notifier(_message.Message):
    __slots__ = ("name", "url_masked", "kinds", "account_ids", "enabled", "max_per_minute", "from_settings", "sent", "events", "failed", "queued", "last_error", "last_sent_at", "last_error_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_MASKED_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FROM_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_SENT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    url_masked: str
    kinds: _containers.RepeatedScalarFieldContainer[NotificationKind]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    max_per_minute: int
    from_settings: bool
    sent: int
    events: int
    failed: int
    queued: int
    last_error: str
    last_sent_at: _timestamp_pb2.Timestamp
    last_error_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., url_masked: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[NotificationKind, str]]] = ..., account_ids: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ..., max_per_minute: _Optional[int] = ..., from_settings: _Optional[bool] = ..., sent: _Optional[int] = ..., events: _Optional[int] = ..., failed: _Optional[int] = ..., queued: _Optional[int] = ..., last_error: _Optional[str] = ..., last_sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListNotifiersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNotifiersResponse(_message.Message):
    __slots__ = ("notifiers", "dropped")
    NOTIFIERS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    notifiers: _containers.RepeatedCompositeFieldContainer[Notifier]
    dropped: int
    def __init__(self, notifiers: _Optional[_Iterable[_Union[Notifier, _Mapping]]] = ..., dropped: _Optional[int] = ...) -> None: ...

class CreateNotifierRequest(_message.Message):
    __slots__ = ("name", "url", "kinds", "account_ids", "max_per_minute", "disabled")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    name: str
    url: str
    kinds: _containers.RepeatedScalarFieldContainer[NotificationKind]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    max_per_minute: int
    disabled: bool
    def __init__(self, name: _Optional[str] = ..., url: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[NotificationKind, str]]] = ..., account_ids: _Optional[_Iterable[str]] = ..., max_per_minute: _Optional[int] = ..., disabled: _Optional[bool] = ...) -> None: ...

class UpdateNotifierRequest(_message.Message):
    __slots__ = ("name", "url", "kinds", "account_ids", "max_per_minute", "disabled")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    name: str
    url: str
    kinds: _containers.RepeatedScalarFieldContainer[NotificationKind]
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    max_per_minute: int
    disabled: bool
    def __init__(self, name: _Optional[str] = ..., url: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[NotificationKind, str]]] = ..., account_ids: _Optional[_Iterable[str]] = ..., max_per_minute: _Optional[int] = ..., disabled: _Optional[bool] = ...) -> None: ...

class DeleteNotifierRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteNotifierResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class TestNotifierRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Host(_message.Message):
    __slots__ = ("host_id", "hostname", "state", "state_reason", "slots", "resources", "processes", "worker_ids", "account_count", "account_cap", "version", "last_report_at", "state_changed_at", "left_at")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    WORKER_IDS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_CAP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_REPORT_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    LEFT_AT_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    hostname: str
    state: _common_pb2.WorkerState
    state_reason: str
    slots: int
    resources: _hosts_pb2.HostResources
    processes: _containers.RepeatedCompositeFieldContainer[_hosts_pb2.HostProcess]
    worker_ids: _containers.RepeatedScalarFieldContainer[str]
    account_count: int
    account_cap: int
    version: str
    last_report_at: _timestamp_pb2.Timestamp
    state_changed_at: _timestamp_pb2.Timestamp
    left_at: _timestamp_pb2.Timestamp
    def __init__(self, host_id: _Optional[str] = ..., hostname: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.WorkerState, str]] = ..., state_reason: _Optional[str] = ..., slots: _Optional[int] = ..., resources: _Optional[_Union[_hosts_pb2.HostResources, _Mapping]] = ..., processes: _Optional[_Iterable[_Union[_hosts_pb2.HostProcess, _Mapping]]] = ..., worker_ids: _Optional[_Iterable[str]] = ..., account_count: _Optional[int] = ..., account_cap: _Optional[int] = ..., version: _Optional[str] = ..., last_report_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., left_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListHostsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListHostsResponse(_message.Message):
    __slots__ = ("hosts",)
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedCompositeFieldContainer[Host]
    def __init__(self, hosts: _Optional[_Iterable[_Union[Host, _Mapping]]] = ...) -> None: ...

class GetHostRequest(_message.Message):
    __slots__ = ("host_id",)
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    def __init__(self, host_id: _Optional[str] = ...) -> None: ...

class ForgetHostRequest(_message.Message):
    __slots__ = ("host_id",)
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    def __init__(self, host_id: _Optional[str] = ...) -> None: ...

class ForgetHostResponse(_message.Message):
    __slots__ = ("host_id", "revoked_token_id", "worker_ids")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_IDS_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    revoked_token_id: str
    worker_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, host_id: _Optional[str] = ..., revoked_token_id: _Optional[str] = ..., worker_ids: _Optional[_Iterable[str]] = ...) -> None: ...
