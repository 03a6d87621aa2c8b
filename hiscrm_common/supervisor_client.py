"""Async client for supervisord's XML-RPC API over its UNIX socket.

Every call opens its own connection (a fresh ``ServerProxy`` with a UNIX-socket
transport) inside ``asyncio.to_thread``, so calls never share a transport and
several may run at once (bounded by a semaphore). Faults and socket errors
become :class:`SupervisorError` with a stable ``code`` and a message that says
what to do.

Scaling a group without restarting the members that stay
--------------------------------------------------------
supervisord fixes ``numprocs`` when it reads its config; changing it means
``reloadConfig`` + ``removeProcessGroup``/``addProcessGroup``, which stops and
restarts *every* member. Per-worker ``[program:...]`` sections in a
``[group:worker]`` do not help either: changing the group's member list makes
the whole group "changed" for ``supervisorctl update`` and it is restarted too.

So a scalable group is declared once with ``numprocs`` = the maximum number of
slots and ``autostart=false``; :meth:`SupervisorClient.scale_group` makes the
first ``count`` slots (in natural order: worker-0, worker-1, ...) active by
starting the ones that are not running and stops the active slots at index
``count`` and above. Members that stay are never touched, so their pids are
kept. ``autorestart=true`` still restarts a crashed active slot, while a slot
stopped through RPC stays stopped. Because ``autostart=false``, nothing runs
after supervisord starts: whoever owns the wanted count (the master, at
start-up) applies it with ``scale_group`` — the call is idempotent. Raising the
maximum itself needs a config change and a group restart.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import re
import socket
import xmlrpc.client
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "BACKOFF"})

# supervisor.xmlrpc.Faults, by number.
_FAULT_NAMES = {
    1: "UNKNOWN_METHOD",
    2: "INCORRECT_PARAMETERS",
    3: "BAD_ARGUMENTS",
    4: "SIGNATURE_UNSUPPORTED",
    6: "SHUTDOWN_STATE",
    10: "BAD_NAME",
    11: "BAD_SIGNAL",
    20: "NO_FILE",
    21: "NOT_EXECUTABLE",
    30: "FAILED",
    40: "ABNORMAL_TERMINATION",
    50: "SPAWN_ERROR",
    60: "ALREADY_STARTED",
    70: "NOT_RUNNING",
    80: "SUCCESS",
    90: "ALREADY_ADDED",
    91: "STILL_RUNNING",
    92: "CANT_REREAD",
}

_FAULT_HINTS = {
    "BAD_NAME": "no such process or group; check `supervisorctl status` and etc/supervisord.conf",
    "ALREADY_STARTED": "it is already running",
    "NOT_RUNNING": "it is not running",
    "SPAWN_ERROR": "supervisord could not start it; read its log (tail) for the reason",
    "ABNORMAL_TERMINATION": "it exited right after starting; read its log (tail)",
    "NO_FILE": "its command was not found; check the program's command in etc/supervisord.conf",
    "NOT_EXECUTABLE": "its command is not executable; check etc/supervisord.conf",
    "SHUTDOWN_STATE": "supervisord is shutting down; start it again with `hiscrm up`",
    "CANT_REREAD": "etc/supervisord.conf is invalid; fix it and retry",
    "STILL_RUNNING": "stop the group's processes first",
}


class SupervisorError(Exception):
    """A failed supervisord call. ``code`` is a fault name (BAD_NAME, SPAWN_ERROR,
    ...) or one of UNAVAILABLE, TIMEOUT, PROTOCOL, SCALE_LIMIT."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    name: str  # full 'group:process' name, usable in every call
    group: str
    process: str
    state: str  # RUNNING, STOPPED, STARTING, BACKOFF, EXITED, FATAL, ...
    pid: int
    description: str
    logfile: str
    stdout_logfile: str
    stderr_logfile: str
    start: int  # epoch seconds of the last start, 0 if never started
    stop: int  # epoch seconds of the last stop, 0 if never stopped
    exitstatus: int
    spawnerr: str

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @classmethod
    def from_rpc(cls, d: dict[str, Any]) -> ProcessInfo:
        return cls(
            name=f"{d['group']}:{d['name']}",
            group=d["group"],
            process=d["name"],
            state=d["statename"],
            pid=int(d["pid"]),
            description=d.get("description", ""),
            logfile=d.get("logfile", ""),
            stdout_logfile=d.get("stdout_logfile", ""),
            stderr_logfile=d.get("stderr_logfile", ""),
            start=int(d.get("start", 0)),
            stop=int(d.get("stop", 0)),
            exitstatus=int(d.get("exitstatus", 0)),
            spawnerr=d.get("spawnerr", ""),
        )


@dataclass(frozen=True, slots=True)
class OpResult:
    name: str
    ok: bool
    message: str
    state: str  # state after the operation, "" when unknown


@dataclass(frozen=True, slots=True)
class ScaleResult:
    group: str
    count: int
    started: tuple[OpResult, ...]
    stopped: tuple[OpResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in (*self.started, *self.stopped))


def _natural_key(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__()
        self._path = path
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = self._connection[1]
        if conn is None:
            # get_host_info turns "user:password@host" into a basic-auth header.
            _, self._extra_headers, _ = self.get_host_info(host)
            conn = _UnixConnection(self._path, self._timeout)
            self._connection = host, conn
        return conn


class SupervisorClient:
    def __init__(
        self,
        socket_path: Path | str,
        *,
        timeout: float = 60.0,
        username: str | None = None,
        password: str | None = None,
        max_concurrency: int = 8,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout
        auth = f"{username}:{password}@" if username is not None else ""
        self._url = f"http://{auth}localhost/RPC2"
        self._sem = asyncio.Semaphore(max_concurrency)

    # -- plumbing -----------------------------------------------------------

    def _call_sync(self, method: str, args: tuple[Any, ...]) -> Any:
        transport = _UnixTransport(str(self.socket_path), self.timeout)
        proxy = xmlrpc.client.ServerProxy(self._url, transport=transport, allow_none=True)
        try:
            return getattr(proxy, method)(*args)
        except xmlrpc.client.Fault as e:
            code = _FAULT_NAMES.get(e.faultCode, f"FAULT_{e.faultCode}")
            hint = _FAULT_HINTS.get(code, "")
            raise SupervisorError(code, f"{e.faultString}" + (f" ({hint})" if hint else "")) from e
        except FileNotFoundError as e:
            raise SupervisorError(
                "UNAVAILABLE",
                f"supervisord is not running (socket {self.socket_path} missing); "
                "start it with `hiscrm up`",
            ) from e
        except ConnectionRefusedError as e:
            raise SupervisorError(
                "UNAVAILABLE",
                f"supervisord is not running (nothing listens on stale socket "
                f"{self.socket_path}); start it with `hiscrm up`",
            ) from e
        except PermissionError as e:
            raise SupervisorError(
                "UNAVAILABLE",
                f"no permission to open supervisord socket {self.socket_path}; "
                "run as the user that started supervisord or fix [unix_http_server] chmod",
            ) from e
        except TimeoutError as e:
            raise SupervisorError(
                "TIMEOUT",
                f"supervisord did not answer {method} within {self.timeout:g}s; "
                "check `supervisorctl status` and supervisord's log",
            ) from e
        except xmlrpc.client.ProtocolError as e:
            what = "wrong or missing username/password" if e.errcode == 401 else e.errmsg
            raise SupervisorError(
                "PROTOCOL",
                f"supervisord answered {method} with HTTP {e.errcode} ({what}); "
                "see supervisord's log",
            ) from e
        except (OSError, http.client.HTTPException) as e:
            raise SupervisorError(
                "UNAVAILABLE",
                f"cannot talk to supervisord on {self.socket_path}: {e!r}; "
                "is it running? (`hiscrm up`)",
            ) from e
        finally:
            transport.close()

    async def _call(self, method: str, *args: Any) -> Any:
        async with self._sem:
            return await asyncio.to_thread(self._call_sync, method, args)

    # -- supervisord itself ---------------------------------------------------

    async def get_state(self) -> str:
        """supervisord's own state name (RUNNING, SHUTDOWN, ...)."""
        return (await self._call("supervisor.getState"))["statename"]

    async def shutdown(self) -> None:
        await self._call("supervisor.shutdown")

    # -- queries --------------------------------------------------------------

    async def list_processes(self) -> list[ProcessInfo]:
        rows = await self._call("supervisor.getAllProcessInfo")
        return [ProcessInfo.from_rpc(r) for r in rows]

    async def process_info(self, name: str) -> ProcessInfo:
        return ProcessInfo.from_rpc(await self._call("supervisor.getProcessInfo", name))

    async def group_processes(self, group: str) -> list[ProcessInfo]:
        """Members of ``group`` in natural order (worker-2 before worker-10)."""
        members = [p for p in await self.list_processes() if p.group == group]
        if not members:
            raise SupervisorError(
                "BAD_NAME",
                f"no process group {group!r} in supervisord; check etc/supervisord.conf",
            )
        return sorted(members, key=lambda p: _natural_key(p.process))

    async def group_process_names(self, group: str) -> list[str]:
        return [p.name for p in await self.group_processes(group)]

    # -- single-process control ------------------------------------------------

    async def start(self, name: str, wait: bool = True) -> ProcessInfo:
        log.info("starting %s", name)
        await self._call("supervisor.startProcess", name, wait)
        return await self.process_info(name)

    async def stop(self, name: str, wait: bool = True) -> ProcessInfo:
        log.info("stopping %s", name)
        await self._call("supervisor.stopProcess", name, wait)
        return await self.process_info(name)

    async def restart(self, name: str) -> ProcessInfo:
        """Stop ``name`` if it is active, then start it (waiting for both)."""
        if (await self.process_info(name)).active:
            try:
                await self.stop(name)
            except SupervisorError as e:
                if e.code != "NOT_RUNNING":
                    raise
        try:
            return await self.start(name)
        except SupervisorError as e:
            if e.code != "ALREADY_STARTED":
                raise
            return await self.process_info(name)

    # -- many processes: one failure never stops the others ---------------------

    async def _one(self, name: str, op: str) -> OpResult:
        try:
            if op == "start":
                info = await self.start(name)
            elif op == "stop":
                info = await self.stop(name)
            else:
                info = await self.restart(name)
            return OpResult(name, True, f"{op}: ok", info.state)
        except SupervisorError as e:
            benign = (op == "start" and e.code == "ALREADY_STARTED") or (
                op == "stop" and e.code == "NOT_RUNNING"
            )
            if not benign:
                log.warning("%s %s failed: %s", op, name, e)
            try:
                state = (await self.process_info(name)).state
            except SupervisorError:
                state = ""
            return OpResult(name, benign, f"{op}: {e.message}", state)

    async def _many(self, names: Iterable[str], op: str) -> list[OpResult]:
        return list(await asyncio.gather(*(self._one(n, op) for n in names)))

    async def start_many(self, names: Iterable[str]) -> list[OpResult]:
        return await self._many(names, "start")

    async def stop_many(self, names: Iterable[str]) -> list[OpResult]:
        return await self._many(names, "stop")

    async def restart_many(self, names: Iterable[str]) -> list[OpResult]:
        return await self._many(names, "restart")

    # -- logs -----------------------------------------------------------------

    async def _tail_raw(self, name: str, offset: int, length: int) -> tuple[str, int, bool]:
        # supervisord decodes the chunk as strict UTF-8 and answers HTTP 500 when
        # the chunk starts inside a multi-byte character: widen it by up to 3 bytes.
        for extra in range(4):
            try:
                text, size, overflow = await self._call(
                    "supervisor.tailProcessStdoutLog", name, offset, length + extra
                )
                return text, int(size), bool(overflow)
            except SupervisorError as e:
                if e.code != "PROTOCOL" or extra == 3:
                    raise
        raise AssertionError("unreachable")

    async def tail_log(self, name: str, offset: int, length: int) -> tuple[str, int, bool]:
        """Stdout log bytes of ``name`` written since ``offset`` (at most ``length``).

        Returns ``(text, new_offset, overflow)``; pass ``new_offset`` to the next
        call. ``overflow`` means more than ``length`` bytes were written and only
        the last ``length`` are returned. A log that shrank (rotated) is read
        again from its start.
        """
        text, size, overflow = await self._tail_raw(name, offset, length)
        if size < offset:
            text, size, overflow = await self._tail_raw(name, 0, length)
        elif not overflow and offset > 0:
            # supervisord returns the last `length` bytes, which may start
            # before `offset`: keep only the new ones.
            new = size - offset
            raw = text.encode("utf-8")
            text = raw[len(raw) - new :].decode("utf-8", errors="replace") if new > 0 else ""
        return text, size, overflow

    async def tail_last(self, name: str, nbytes: int = 16384) -> tuple[str, int, bool]:
        """The last ``nbytes`` of the stdout log, with the offset to follow from.

        When the log is longer than ``nbytes`` the window starts mid-line; the
        partial first line is dropped (unless it is all the window holds).
        """
        text, size, overflow = await self.tail_log(name, 0, nbytes)
        if overflow and "\n" in text[:-1]:
            text = text[text.index("\n") + 1 :]
        return text, size, overflow

    # -- scaling --------------------------------------------------------------

    async def scale_group(self, group: str, count: int) -> ScaleResult:
        """Make exactly the first ``count`` members of ``group`` active.

        Starts inactive members among the first ``count`` and stops active ones
        beyond; members that stay are not touched (see module docstring).
        """
        members = await self.group_processes(group)
        if not 0 <= count <= len(members):
            raise SupervisorError(
                "SCALE_LIMIT",
                f"group {group!r} has {len(members)} slots, cannot run {count}; raise "
                f"numprocs of [program:{group}] in etc/supervisord.conf (applying it "
                "restarts the whole group)",
            )
        to_start = [p.name for p in members[:count] if not p.active]
        to_stop = [p.name for p in members[count:] if p.active]
        log.info("scaling %s to %d: start %s, stop %s", group, count, to_start, to_stop)
        started, stopped = await asyncio.gather(self.start_many(to_start), self.stop_many(to_stop))
        result = ScaleResult(group, count, tuple(started), tuple(stopped))
        if not result.ok:
            log.warning("scaling %s to %d partly failed: %s", group, count, result)
        return result
