import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Platform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLATFORM_UNSPECIFIED: _ClassVar[Platform]
    PLATFORM_DEMO: _ClassVar[Platform]
    PLATFORM_DOUYIN: _ClassVar[Platform]
    PLATFORM_XIAOHONGSHU: _ClassVar[Platform]
    PLATFORM_SYNTHETIC: _ClassVar[Platform]

class ItemKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_KIND_UNSPECIFIED: _ClassVar[ItemKind]
    ITEM_KIND_COMMENT: _ClassVar[ItemKind]
    ITEM_KIND_DIRECT_MESSAGE: _ClassVar[ItemKind]

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUN_STATE_UNASSIGNED: _ClassVar[RunState]
    RUN_STATE_STARTING: _ClassVar[RunState]
    RUN_STATE_RUNNING: _ClassVar[RunState]
    RUN_STATE_NEEDS_LOGIN: _ClassVar[RunState]
    RUN_STATE_LOGGING_IN: _ClassVar[RunState]
    RUN_STATE_CAPTCHA: _ClassVar[RunState]
    RUN_STATE_RATE_LIMITED: _ClassVar[RunState]
    RUN_STATE_BACKING_OFF: _ClassVar[RunState]
    RUN_STATE_ERROR: _ClassVar[RunState]
    RUN_STATE_DISABLED: _ClassVar[RunState]
    RUN_STATE_OUTBOX_FULL: _ClassVar[RunState]

class ErrorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_KIND_UNSPECIFIED: _ClassVar[ErrorKind]
    ERROR_KIND_NETWORK: _ClassVar[ErrorKind]
    ERROR_KIND_TIMEOUT: _ClassVar[ErrorKind]
    ERROR_KIND_LAYOUT_CHANGED: _ClassVar[ErrorKind]
    ERROR_KIND_AUTH_EXPIRED: _ClassVar[ErrorKind]
    ERROR_KIND_VERIFICATION: _ClassVar[ErrorKind]
    ERROR_KIND_RATE_LIMITED: _ClassVar[ErrorKind]
    ERROR_KIND_BLOCKED: _ClassVar[ErrorKind]
    ERROR_KIND_PROXY: _ClassVar[ErrorKind]
    ERROR_KIND_OUTBOX_FULL: _ClassVar[ErrorKind]
    ERROR_KIND_INTERNAL: _ClassVar[ErrorKind]
    ERROR_KIND_INVALID_REQUEST: _ClassVar[ErrorKind]
    ERROR_KIND_NOT_ASSIGNED: _ClassVar[ErrorKind]

class WorkerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKER_STATE_UNSPECIFIED: _ClassVar[WorkerState]
    WORKER_STATE_ONLINE: _ClassVar[WorkerState]
    WORKER_STATE_MISSING: _ClassVar[WorkerState]
    WORKER_STATE_OFFLINE: _ClassVar[WorkerState]
    WORKER_STATE_DRAINING: _ClassVar[WorkerState]

class ProcessState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROCESS_STATE_UNSPECIFIED: _ClassVar[ProcessState]
    PROCESS_STATE_STOPPED: _ClassVar[ProcessState]
    PROCESS_STATE_STARTING: _ClassVar[ProcessState]
    PROCESS_STATE_RUNNING: _ClassVar[ProcessState]
    PROCESS_STATE_BACKOFF: _ClassVar[ProcessState]
    PROCESS_STATE_STOPPING: _ClassVar[ProcessState]
    PROCESS_STATE_EXITED: _ClassVar[ProcessState]
    PROCESS_STATE_FATAL: _ClassVar[ProcessState]
    PROCESS_STATE_UNKNOWN: _ClassVar[ProcessState]
PLATFORM_UNSPECIFIED: Platform
PLATFORM_DEMO: Platform
PLATFORM_DOUYIN: Platform
PLATFORM_XIAOHONGSHU: Platform
PLATFORM_SYNTHETIC: Platform
ITEM_KIND_UNSPECIFIED: ItemKind
ITEM_KIND_COMMENT: ItemKind
ITEM_KIND_DIRECT_MESSAGE: ItemKind
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_UNASSIGNED: RunState
RUN_STATE_STARTING: RunState
RUN_STATE_RUNNING: RunState
RUN_STATE_NEEDS_LOGIN: RunState
RUN_STATE_LOGGING_IN: RunState
RUN_STATE_CAPTCHA: RunState
RUN_STATE_RATE_LIMITED: RunState
RUN_STATE_BACKING_OFF: RunState
RUN_STATE_ERROR: RunState
RUN_STATE_DISABLED: RunState
RUN_STATE_OUTBOX_FULL: RunState
ERROR_KIND_UNSPECIFIED: ErrorKind
ERROR_KIND_NETWORK: ErrorKind
ERROR_KIND_TIMEOUT: ErrorKind
ERROR_KIND_LAYOUT_CHANGED: ErrorKind
ERROR_KIND_AUTH_EXPIRED: ErrorKind
ERROR_KIND_VERIFICATION: ErrorKind
ERROR_KIND_RATE_LIMITED: ErrorKind
ERROR_KIND_BLOCKED: ErrorKind
ERROR_KIND_PROXY: ErrorKind
ERROR_KIND_OUTBOX_FULL: ErrorKind
ERROR_KIND_INTERNAL: ErrorKind
ERROR_KIND_INVALID_REQUEST: ErrorKind
ERROR_KIND_NOT_ASSIGNED: ErrorKind
WORKER_STATE_UNSPECIFIED: WorkerState
WORKER_STATE_ONLINE: WorkerState
WORKER_STATE_MISSING: WorkerState
WORKER_STATE_OFFLINE: WorkerState
WORKER_STATE_DRAINING: WorkerState
PROCESS_STATE_UNSPECIFIED: ProcessState
PROCESS_STATE_STOPPED: ProcessState
PROCESS_STATE_STARTING: ProcessState
PROCESS_STATE_RUNNING: ProcessState
PROCESS_STATE_BACKOFF: ProcessState
PROCESS_STATE_STOPPING: ProcessState
PROCESS_STATE_EXITED: ProcessState
PROCESS_STATE_FATAL: ProcessState
PROCESS_STATE_UNKNOWN: ProcessState

class Item(_message.Message):
    __slots__ = ("platform", "account_id", "kind", "platform_item_id", "author_id", "author_name", "content", "post_id", "post_title", "conversation_id", "parent_id", "outgoing", "created_at", "raw_json", "detected_at")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    POST_TITLE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTGOING_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RAW_JSON_FIELD_NUMBER: _ClassVar[int]
    DETECTED_AT_FIELD_NUMBER: _ClassVar[int]
    platform: Platform
    account_id: str
    kind: ItemKind
    platform_item_id: str
    author_id: str
    author_name: str
    content: str
    post_id: str
    post_title: str
    conversation_id: str
    parent_id: str
    outgoing: bool
    created_at: _timestamp_pb2.Timestamp
    raw_json: str
    detected_at: _timestamp_pb2.Timestamp
    def __init__(self, platform: _Optional[_Union[Platform, str]] = ..., account_id: _Optional[str] = ..., kind: _Optional[_Union[ItemKind, str]] = ..., platform_item_id: _Optional[str] = ..., author_id: _Optional[str] = ..., author_name: _Optional[str] = ..., content: _Optional[str] = ..., post_id: _Optional[str] = ..., post_title: _Optional[str] = ..., conversation_id: _Optional[str] = ..., parent_id: _Optional[str] = ..., outgoing: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., raw_json: _Optional[str] = ..., detected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProcessStats(_message.Message):
    __slots__ = ("cpu_percent", "rss_bytes", "uss_bytes", "process_count", "browser_rss_bytes", "browser_process_count")
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    USS_BYTES_FIELD_NUMBER: _ClassVar[int]
    PROCESS_COUNT_FIELD_NUMBER: _ClassVar[int]
    BROWSER_RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    BROWSER_PROCESS_COUNT_FIELD_NUMBER: _ClassVar[int]
    cpu_percent: float
    rss_bytes: int
    uss_bytes: int
    process_count: int
    browser_rss_bytes: int
    browser_process_count: int
    def __init__(self, cpu_percent: _Optional[float] = ..., rss_bytes: _Optional[int] = ..., uss_bytes: _Optional[int] = ..., process_count: _Optional[int] = ..., browser_rss_bytes: _Optional[int] = ..., browser_process_count: _Optional[int] = ...) -> None: ...

class UserInfo(_message.Message):
    __slots__ = ("platform_user_id", "nickname", "avatar_url", "unique_id")
    PLATFORM_USER_ID_FIELD_NUMBER: _ClassVar[int]
    NICKNAME_FIELD_NUMBER: _ClassVar[int]
    AVATAR_URL_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    platform_user_id: str
    nickname: str
    avatar_url: str
    unique_id: str
    def __init__(self, platform_user_id: _Optional[str] = ..., nickname: _Optional[str] = ..., avatar_url: _Optional[str] = ..., unique_id: _Optional[str] = ...) -> None: ...

class SyntheticOptions(_message.Message):
    __slots__ = ("items_per_second", "total_items", "dm_percent", "content_bytes")
    ITEMS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ITEMS_FIELD_NUMBER: _ClassVar[int]
    DM_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    items_per_second: float
    total_items: int
    dm_percent: int
    content_bytes: int
    def __init__(self, items_per_second: _Optional[float] = ..., total_items: _Optional[int] = ..., dm_percent: _Optional[int] = ..., content_bytes: _Optional[int] = ...) -> None: ...

class DemoOptions(_message.Message):
    __slots__ = ("base_url", "username")
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    base_url: str
    username: str
    def __init__(self, base_url: _Optional[str] = ..., username: _Optional[str] = ...) -> None: ...

class AccountSpec(_message.Message):
    __slots__ = ("platform", "display_name", "enabled", "monitor_interval_ms", "proxy", "monitor_comments", "monitor_direct_messages", "synthetic", "demo")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    MONITOR_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    PROXY_FIELD_NUMBER: _ClassVar[int]
    MONITOR_COMMENTS_FIELD_NUMBER: _ClassVar[int]
    MONITOR_DIRECT_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SYNTHETIC_FIELD_NUMBER: _ClassVar[int]
    DEMO_FIELD_NUMBER: _ClassVar[int]
    platform: Platform
    display_name: str
    enabled: bool
    monitor_interval_ms: int
    proxy: str
    monitor_comments: bool
    monitor_direct_messages: bool
    synthetic: SyntheticOptions
    demo: DemoOptions
    def __init__(self, platform: _Optional[_Union[Platform, str]] = ..., display_name: _Optional[str] = ..., enabled: _Optional[bool] = ..., monitor_interval_ms: _Optional[int] = ..., proxy: _Optional[str] = ..., monitor_comments: _Optional[bool] = ..., monitor_direct_messages: _Optional[bool] = ..., synthetic: _Optional[_Union[SyntheticOptions, _Mapping]] = ..., demo: _Optional[_Union[DemoOptions, _Mapping]] = ...) -> None: ...

class AccountConfig(_message.Message):
    __slots__ = ("account_id", "spec", "config_version", "session", "user", "fingerprint_seed", "cursor")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_SEED_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    spec: AccountSpec
    config_version: int
    session: bytes
    user: UserInfo
    fingerprint_seed: str
    cursor: str
    def __init__(self, account_id: _Optional[str] = ..., spec: _Optional[_Union[AccountSpec, _Mapping]] = ..., config_version: _Optional[int] = ..., session: _Optional[bytes] = ..., user: _Optional[_Union[UserInfo, _Mapping]] = ..., fingerprint_seed: _Optional[str] = ..., cursor: _Optional[str] = ...) -> None: ...

class ProxyHealth(_message.Message):
    __slots__ = ("ok", "detail", "latency_ms", "checked_at")
    OK_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    detail: str
    latency_ms: int
    checked_at: _timestamp_pb2.Timestamp
    def __init__(self, ok: _Optional[bool] = ..., detail: _Optional[str] = ..., latency_ms: _Optional[int] = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MonitorPage(_message.Message):
    __slots__ = ("js_heap_used_bytes", "dom_nodes", "age_s", "renewals")
    JS_HEAP_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DOM_NODES_FIELD_NUMBER: _ClassVar[int]
    AGE_S_FIELD_NUMBER: _ClassVar[int]
    RENEWALS_FIELD_NUMBER: _ClassVar[int]
    js_heap_used_bytes: int
    dom_nodes: int
    age_s: int
    renewals: int
    def __init__(self, js_heap_used_bytes: _Optional[int] = ..., dom_nodes: _Optional[int] = ..., age_s: _Optional[int] = ..., renewals: _Optional[int] = ...) -> None: ...
