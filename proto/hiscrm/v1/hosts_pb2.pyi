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

class HostAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOST_ACTION_UNSPECIFIED: _ClassVar[HostAction]
    HOST_ACTION_START: _ClassVar[HostAction]
    HOST_ACTION_STOP: _ClassVar[HostAction]
    HOST_ACTION_RESTART: _ClassVar[HostAction]
    HOST_ACTION_SCALE: _ClassVar[HostAction]
    HOST_ACTION_TAIL_LOG: _ClassVar[HostAction]
HOST_ACTION_UNSPECIFIED: HostAction
HOST_ACTION_START: HostAction
HOST_ACTION_STOP: HostAction
HOST_ACTION_RESTART: HostAction
HOST_ACTION_SCALE: HostAction
HOST_ACTION_TAIL_LOG: HostAction

class HostFrame(_message.Message):
    __slots__ = ("hello", "report", "result")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    hello: HostHello
    report: HostReport
    result: HostCommandResult
    def __init__(self, hello: _Optional[_Union[HostHello, _Mapping]] = ..., report: _Optional[_Union[HostReport, _Mapping]] = ..., result: _Optional[_Union[HostCommandResult, _Mapping]] = ...) -> None: ...

class HostHello(_message.Message):
    __slots__ = ("host_id", "hostname", "pid", "version", "slots", "resources", "processes")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    hostname: str
    pid: int
    version: str
    slots: int
    resources: HostResources
    processes: _containers.RepeatedCompositeFieldContainer[HostProcess]
    def __init__(self, host_id: _Optional[str] = ..., hostname: _Optional[str] = ..., pid: _Optional[int] = ..., version: _Optional[str] = ..., slots: _Optional[int] = ..., resources: _Optional[_Union[HostResources, _Mapping]] = ..., processes: _Optional[_Iterable[_Union[HostProcess, _Mapping]]] = ...) -> None: ...

class HostResources(_message.Message):
    __slots__ = ("cpu_percent", "cpu_count", "memory_total_bytes", "memory_available_bytes", "disk_total_bytes", "disk_free_bytes", "load_average")
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_AVAILABLE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOAD_AVERAGE_FIELD_NUMBER: _ClassVar[int]
    cpu_percent: float
    cpu_count: int
    memory_total_bytes: int
    memory_available_bytes: int
    disk_total_bytes: int
    disk_free_bytes: int
    load_average: float
    def __init__(self, cpu_percent: _Optional[float] = ..., cpu_count: _Optional[int] = ..., memory_total_bytes: _Optional[int] = ..., memory_available_bytes: _Optional[int] = ..., disk_total_bytes: _Optional[int] = ..., disk_free_bytes: _Optional[int] = ..., load_average: _Optional[float] = ...) -> None: ...

class HostProcess(_message.Message):
    __slots__ = ("worker_id", "state", "pid")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    state: _common_pb2.ProcessState
    pid: int
    def __init__(self, worker_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.ProcessState, str]] = ..., pid: _Optional[int] = ...) -> None: ...

class HostReport(_message.Message):
    __slots__ = ("resources", "processes", "sent_at")
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    resources: HostResources
    processes: _containers.RepeatedCompositeFieldContainer[HostProcess]
    sent_at: _timestamp_pb2.Timestamp
    def __init__(self, resources: _Optional[_Union[HostResources, _Mapping]] = ..., processes: _Optional[_Iterable[_Union[HostProcess, _Mapping]]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HostProcessResult(_message.Message):
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

class HostCommandResult(_message.Message):
    __slots__ = ("request_id", "ok", "message", "results", "log_text", "log_offset", "log_overflow")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    LOG_TEXT_FIELD_NUMBER: _ClassVar[int]
    LOG_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LOG_OVERFLOW_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ok: bool
    message: str
    results: _containers.RepeatedCompositeFieldContainer[HostProcessResult]
    log_text: str
    log_offset: int
    log_overflow: bool
    def __init__(self, request_id: _Optional[str] = ..., ok: _Optional[bool] = ..., message: _Optional[str] = ..., results: _Optional[_Iterable[_Union[HostProcessResult, _Mapping]]] = ..., log_text: _Optional[str] = ..., log_offset: _Optional[int] = ..., log_overflow: _Optional[bool] = ...) -> None: ...

class HostCommandFrame(_message.Message):
    __slots__ = ("welcome", "command")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    welcome: HostWelcome
    command: HostCommand
    def __init__(self, welcome: _Optional[_Union[HostWelcome, _Mapping]] = ..., command: _Optional[_Union[HostCommand, _Mapping]] = ...) -> None: ...

class HostWelcome(_message.Message):
    __slots__ = ("connection_id", "report_interval_ms", "credential", "session_key")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    REPORT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    SESSION_KEY_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    report_interval_ms: int
    credential: str
    session_key: str
    def __init__(self, connection_id: _Optional[str] = ..., report_interval_ms: _Optional[int] = ..., credential: _Optional[str] = ..., session_key: _Optional[str] = ...) -> None: ...

class HostCommand(_message.Message):
    __slots__ = ("request_id", "action", "worker_ids", "count", "log_offset", "log_bytes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    WORKER_IDS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    LOG_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LOG_BYTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    action: HostAction
    worker_ids: _containers.RepeatedScalarFieldContainer[str]
    count: int
    log_offset: int
    log_bytes: int
    def __init__(self, request_id: _Optional[str] = ..., action: _Optional[_Union[HostAction, str]] = ..., worker_ids: _Optional[_Iterable[str]] = ..., count: _Optional[int] = ..., log_offset: _Optional[int] = ..., log_bytes: _Optional[int] = ...) -> None: ...

class LeaveRequest(_message.Message):
    __slots__ = ("timeout_ms",)
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    timeout_ms: int
    def __init__(self, timeout_ms: _Optional[int] = ...) -> None: ...

class LeaveResponse(_message.Message):
    __slots__ = ("host_id", "accounts_left", "worker_ids")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_LEFT_FIELD_NUMBER: _ClassVar[int]
    WORKER_IDS_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    accounts_left: int
    worker_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, host_id: _Optional[str] = ..., accounts_left: _Optional[int] = ..., worker_ids: _Optional[_Iterable[str]] = ...) -> None: ...
