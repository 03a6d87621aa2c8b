"""Worker hosts: which exist, which are connected, how they are doing.

Each worker host runs supervisord and one host agent (worker/hostagent/)
that holds HostGateway.Connect. A host is online while its stream lives and
it reports; it is missing after the workers' own deadline of silence (or at
once when the stream breaks), and then its workers are missing too, so the
scheduler moves their accounts at once instead of waiting for each worker's
own deadline. The registry is the live truth; master/host_store.py keeps
it in the database (state changes at once, last seen written behind), so a
master restart lists every host it knew: missing until its agent says hello
again (or offline after the deadline), and a host that left stays offline.

Commands to a host (start, stop, restart, scale, tail log) go down its
stream with a request id and are answered by a HostCommandResult with the
same id (HostLink.call).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from hiscrm.v1 import common_pb2, control_pb2, hosts_pb2
from hiscrm_common import settings
from hiscrm_common.timeutil import to_ts, utcnow
from master.config import MasterConfig
from master.limits import ID_RE, MAX_HOST
from master.registry import (
    MISSING,
    OFFLINE,
    ONLINE,
    RegistrationError,
    WorkerRecord,
    WorkerRegistry,
)

log = logging.getLogger(__name__)

DRAINING = common_pb2.WORKER_STATE_DRAINING
OUTBOUND_QUEUE_SIZE = 1_000
SWEEP_PERIOD_S = 0.25
MAX_PROCESSES = 1_000
MAX_SLOTS = 1_000
MAX_TEXT = 64 * 1024
MIB = 1 << 20


class HostFrameError(Exception):
    """A frame from a host agent that breaks a bound: refused alone."""


def account_cap(resources: hosts_pb2.HostResources) -> int:
    """Most accounts the master places on one host, from its memory.

    cap = (memory_total - reserve) / per_account, where reserve
    (HISCRM_HOST_RESERVE_MIB, default 1024 MiB) is for the OS, supervisord,
    the agent and each worker's own Chromium, and per_account
    (HISCRM_HOST_ACCOUNT_MIB, default 64 MiB) is what one more monitored
    account costs with headroom (docs/performance.md measured 38.2 MiB per
    extra account). A host that has not reported memory yet has no cap (0).
    """
    current = settings.get()
    total = resources.memory_total_bytes
    if total == 0:
        return 0
    usable = total - current.host_reserve_mib * MIB
    return max(1, usable // (current.host_account_mib * MIB))


def check_hello(hello: hosts_pb2.HostHello) -> None:
    if not ID_RE.match(hello.host_id):
        raise HostFrameError(
            f"host id {hello.host_id[:64]!r} is invalid: use 1-64 letters, digits, '_.:-'"
        )
    if len(hello.hostname.encode()) > MAX_HOST or len(hello.version.encode()) > MAX_HOST:
        raise HostFrameError(f"hostname and version are at most {MAX_HOST} bytes")
    if hello.slots > MAX_SLOTS:
        raise HostFrameError(f"slots {hello.slots} is over {MAX_SLOTS}")
    check_processes(hello.processes)


def check_processes(processes: Iterable[hosts_pb2.HostProcess]) -> None:
    procs = list(processes)
    if len(procs) > MAX_PROCESSES:
        raise HostFrameError(f"{len(procs)} processes is over {MAX_PROCESSES}")
    for proc in procs:
        if not ID_RE.match(proc.worker_id):
            raise HostFrameError(f"process name {proc.worker_id[:64]!r} is not a worker id")
        if proc.state not in common_pb2.ProcessState.values():
            raise HostFrameError(f"unknown process state {proc.state}")


@dataclass(eq=False)
class HostLink:
    """One live stream to a host agent."""

    connection_id: str
    host_id: str
    outbound: asyncio.Queue[hosts_pb2.HostCommandFrame] = field(
        default_factory=lambda: asyncio.Queue(OUTBOUND_QUEUE_SIZE)
    )
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_reason: str = ""
    pending: dict[str, asyncio.Future[hosts_pb2.HostCommandResult]] = field(default_factory=dict)

    def send(self, frame: hosts_pb2.HostCommandFrame) -> None:
        if self.closed.is_set():
            return
        try:
            self.outbound.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(f"outbound queue full ({OUTBOUND_QUEUE_SIZE} frames); agent not reading")

    def close(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"host {self.host_id}: {reason}"))
        self.pending.clear()

    async def call(
        self, command: hosts_pb2.HostCommand, within_s: float
    ) -> hosts_pb2.HostCommandResult:
        """Send one command and wait for its result (same request id)."""
        if self.closed.is_set():
            raise ConnectionError(f"host {self.host_id}: {self.close_reason or 'not connected'}")
        command.request_id = uuid.uuid4().hex
        future: asyncio.Future[hosts_pb2.HostCommandResult] = (
            asyncio.get_running_loop().create_future()
        )
        self.pending[command.request_id] = future
        self.send(hosts_pb2.HostCommandFrame(command=command))
        try:
            return await asyncio.wait_for(future, within_s)
        except TimeoutError:
            raise TimeoutError(
                f"host {self.host_id} did not answer {hosts_pb2.HostAction.Name(command.action)} "
                f"within {within_s:g}s"
            ) from None
        finally:
            self.pending.pop(command.request_id, None)

    def resolve(self, result: hosts_pb2.HostCommandResult) -> bool:
        future = self.pending.get(result.request_id)
        if future is None or future.done():
            return False
        future.set_result(result)
        return True


@dataclass(eq=False)
class HostRecord:
    host_id: str
    hostname: str = ""
    version: str = ""
    pid: int = 0
    slots: int = 0
    resources: hosts_pb2.HostResources = field(default_factory=hosts_pb2.HostResources)
    processes: list[hosts_pb2.HostProcess] = field(default_factory=list)
    state: common_pb2.WorkerState = OFFLINE
    state_reason: str = ""
    state_changed_at: datetime = field(default_factory=utcnow)
    last_report_at: datetime | None = None
    last_seen_monotonic: float = 0.0
    link: HostLink | None = None
    joined_at: datetime = field(default_factory=utcnow)
    left_at: datetime | None = None  # drained and stopped: it left the fleet
    dirty_full: bool = True  # identity or state changed (or never written)
    dirty_seen: bool = False  # a report since the last write: last seen, memory

    def process_names(self) -> set[str]:
        return {p.worker_id for p in self.processes}


class HostRegistry:
    def __init__(self, config: MasterConfig, workers: WorkerRegistry) -> None:
        self.config = config
        self.workers = workers
        self.hosts: dict[str, HostRecord] = {}
        # the scheduler re-places when a host changes (draining, missing)
        self.on_change: list[Callable[[], None]] = []
        # master/host_store.py: a record changed and is to be written soon
        self.wake_writer: Callable[[], None] = lambda: None

    def seed(self, record: HostRecord) -> None:
        """A host known from the database, before any agent connected: kept
        as loaded, without _set_state's effects (its workers' own records
        were loaded from the database already)."""
        record.last_seen_monotonic = time.monotonic()  # the deadline counts from now
        self.hosts[record.host_id] = record

    def forget(self, host_id: str) -> HostRecord | None:
        """Drop a host gone for good (Control.ForgetHost); a stream that
        connected meanwhile is closed."""
        record = self.hosts.pop(host_id, None)
        if record is not None and record.link is not None:
            record.link.close("the host was forgotten by an admin")
        return record

    def _changed(self, record: HostRecord) -> None:
        record.dirty_full = True
        self.wake_writer()

    # ------------------------------------------------------------ connections

    def attach(self, hello: hosts_pb2.HostHello) -> tuple[HostRecord, HostLink]:
        check_hello(hello)
        record = self.hosts.get(hello.host_id)
        if record and record.link and not record.link.closed.is_set():
            raise RegistrationError(
                "ALREADY_EXISTS",
                f"host {hello.host_id} is already connected (agent pid {record.pid} on "
                f"{record.hostname}); a second agent for it is refused",
            )
        if record is None:
            record = HostRecord(host_id=hello.host_id)
            self.hosts[hello.host_id] = record
        record.hostname = hello.hostname
        record.version = hello.version
        record.pid = hello.pid
        record.slots = hello.slots
        record.resources.CopyFrom(hello.resources)
        record.processes = list(hello.processes)
        record.last_report_at = utcnow()
        record.last_seen_monotonic = time.monotonic()
        record.left_at = None  # back in the fleet
        link = HostLink(connection_id=uuid.uuid4().hex, host_id=hello.host_id)
        record.link = link
        self._changed(record)
        self._set_state(record, ONLINE, "connected")
        log.info(
            "host %s online: hostname=%s slots=%d memory=%d MiB cap=%d accounts",
            record.host_id,
            record.hostname,
            record.slots,
            record.resources.memory_total_bytes // MIB,
            account_cap(record.resources),
        )
        return record, link

    def detach(self, record: HostRecord, link: HostLink, why: str) -> None:
        link.close(why)
        if record.link is not link:
            return
        record.link = None
        if record.state == DRAINING:
            # it asked to leave (hiscrm leave), was drained, and stopped
            record.left_at = utcnow()
            self._set_state(record, OFFLINE, f"left the fleet ({why})")
        elif record.state == ONLINE:
            self._set_state(record, MISSING, why)

    def report(self, record: HostRecord, report: hosts_pb2.HostReport) -> None:
        check_processes(report.processes)
        record.resources.CopyFrom(report.resources)
        record.processes = list(report.processes)
        record.last_report_at = utcnow()
        record.last_seen_monotonic = time.monotonic()
        record.dirty_seen = True  # written behind (master/host_store.py)

    def drain(self, record: HostRecord) -> None:
        self._set_state(record, DRAINING, "leaving: its accounts move to other hosts")

    # ------------------------------------------------------------ liveness

    def sweep(self) -> None:
        now = time.monotonic()
        for record in list(self.hosts.values()):
            silent = now - record.last_seen_monotonic
            if record.state in (ONLINE, DRAINING) and silent > self.config.missing_after_s:
                reason = f"no report for {silent:.1f}s"
                if record.link:
                    record.link.close(reason)
                self._set_state(record, MISSING, reason)
            elif record.state == MISSING and silent > self.config.offline_after_s:
                self._set_state(record, OFFLINE, _offline_reason(record))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_PERIOD_S)
            self.sweep()

    def _set_state(self, record: HostRecord, state: common_pb2.WorkerState, why: str) -> None:
        if record.state == state:
            return
        old = record.state
        record.state = state
        record.state_reason = why
        record.state_changed_at = utcnow()
        self._changed(record)
        level = logging.INFO if state == ONLINE else logging.WARNING
        log.log(
            level,
            "host %s %s -> %s: %s",
            record.host_id,
            common_pb2.WorkerState.Name(old),
            common_pb2.WorkerState.Name(state),
            why,
        )
        if state == MISSING:
            # its workers cannot be healthy: their accounts move now
            for worker in self.workers_of(record.host_id):
                self.workers.mark_missing(worker, f"its host {record.host_id} is missing: {why}")
        for listener in self.on_change:
            listener()

    # ------------------------------------------------------------ views

    def workers_of(self, host_id: str) -> list[WorkerRecord]:
        record = self.hosts.get(host_id)
        names = record.process_names() if record else set()
        return [
            w for w in self.workers.workers.values() if w.host == host_id or w.worker_id in names
        ]

    def host_of(self, worker_id: str) -> HostRecord | None:
        """The host agent that runs this worker: the one whose supervisord has
        a process by that name, else the one the worker registered from
        (unless that host left the fleet: a worker seen there now runs
        elsewhere, e.g. on the master's machine under the same name)."""
        for record in self.hosts.values():
            if worker_id in record.process_names():
                return record
        worker = self.workers.workers.get(worker_id)
        registered = self.hosts.get(worker.host) if worker is not None else None
        if registered is not None and registered.left_at is None:
            return registered
        return None

    def host_map(self, worker_ids: Iterable[str]) -> dict[str, str]:
        """host_of for many workers at once (placement runs it per decision)."""
        by_process = {p.worker_id: h.host_id for h in self.hosts.values() for p in h.processes}
        found = {}
        for worker_id in worker_ids:
            host = by_process.get(worker_id)
            if host is None:
                worker = self.workers.workers.get(worker_id)
                record = self.hosts.get(worker.host) if worker is not None else None
                if record is not None and record.left_at is None:
                    host = record.host_id
            if host is not None:
                found[worker_id] = host
        return found

    def process_states(self) -> dict[str, common_pb2.ProcessState]:
        """supervisord's state of each worker on a connected host, as its
        agent last reported it (ListWorkers' process_state)."""
        return {p.worker_id: p.state for h in self.online() for p in h.processes}

    def draining(self, host_id: str) -> bool:
        record = self.hosts.get(host_id)
        return record is not None and record.state == DRAINING

    def caps(self) -> dict[str, int]:
        """Account cap by host id, for hosts that reported their memory."""
        found = {}
        for record in self.hosts.values():
            cap = account_cap(record.resources)
            if cap:
                found[record.host_id] = cap
        return found

    def describe(
        self, record: HostRecord, accounts_of: Callable[[str], list[str]]
    ) -> control_pb2.Host:
        workers = sorted(w.worker_id for w in self.workers_of(record.host_id))
        count = sum(len(accounts_of(w)) for w in workers)
        msg = control_pb2.Host(
            host_id=record.host_id,
            hostname=record.hostname,
            state=record.state,
            state_reason=record.state_reason,
            slots=record.slots,
            resources=record.resources,
            processes=record.processes,
            worker_ids=workers,
            account_count=count,
            account_cap=account_cap(record.resources),
            version=record.version,
        )
        for name in ("last_report_at", "state_changed_at", "left_at"):
            ts = to_ts(getattr(record, name))
            if ts is not None:
                getattr(msg, name).CopyFrom(ts)
        return msg

    def problems(self) -> list[str]:
        """Hosts an operator must look at now (GetStats.problems): missing
        ones, until they come back or are offline for good."""
        return [
            f"host {h.host_id}: missing ({h.state_reason})"
            for h in sorted(self.hosts.values(), key=lambda h: h.host_id)
            if h.state == MISSING
        ]

    def online(self) -> list[HostRecord]:
        return [h for h in self.hosts.values() if h.state == ONLINE and h.link is not None]


def _offline_reason(record: HostRecord) -> str:
    if record.last_report_at is None:
        return "missing for too long"
    seen = record.last_report_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"missing for too long (last seen {seen})"


def spread(count: int, hosts: list[HostRecord]) -> dict[str, int]:
    """count workers shared over hosts by free memory, each at most its slots:
    one at a time to the host with the most free memory per worker it would
    then run (so a host twice as free gets about twice as many)."""
    shares = {h.host_id: 0 for h in hosts}
    free = {h.host_id: h.resources.memory_available_bytes for h in hosts}
    for _ in range(count):
        room = [h for h in hosts if shares[h.host_id] < h.slots]
        if not room:
            break
        best = max(room, key=lambda h: (free[h.host_id] / (shares[h.host_id] + 1), h.host_id))
        shares[best.host_id] += 1
    return shares


__all__ = [
    "DRAINING",
    "MISSING",
    "HostFrameError",
    "HostLink",
    "HostRecord",
    "HostRegistry",
    "account_cap",
    "spread",
]
