"""Which workers exist, which are connected, and how they are doing.

The registry is the live truth for worker state; the database is its
persistence (state changes at once, heartbeat figures in periodic batches,
so 1,000 heartbeating workers cost one transaction per flush, not 500/s).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import update
from sqlmodel import Session, select

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from hiscrm_common.backoff import RECONNECT_CAP_S
from hiscrm_common.timeutil import aware, to_ts, utcnow
from master.config import MasterConfig
from master.events import EventBus
from master.limits import ID_RE
from master.store.database import Database
from master.store.dirty_writer import DirtyWriter
from master.store.models import WorkerRow
from master.store.write_health import WriteHealth

log = logging.getLogger(__name__)

WORKER_ID_RE = ID_RE
OUTBOUND_QUEUE_SIZE = 10_000
SWEEP_PERIOD_S = 0.25

ONLINE = common_pb2.WORKER_STATE_ONLINE
MISSING = common_pb2.WORKER_STATE_MISSING
OFFLINE = common_pb2.WORKER_STATE_OFFLINE


class RegistrationError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # "ALREADY_EXISTS" | "INVALID_ARGUMENT"


class OutboundOverflow(Exception):
    """A worker stopped reading its stream; its connection is closed."""


@dataclass(eq=False)
class Connection:
    """One live stream to a worker."""

    connection_id: str
    worker_id: str
    outbound: asyncio.Queue[gateway_pb2.MasterFrame] = field(
        default_factory=lambda: asyncio.Queue(OUTBOUND_QUEUE_SIZE)
    )
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_reason: str = ""
    oversized: bool = False
    goodbye: bool = False
    frames_in: int = 0  # after Register: any means the worker took its Welcome in

    def send(self, frame: gateway_pb2.MasterFrame) -> None:
        if self.closed.is_set():
            return
        try:
            self.outbound.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(f"outbound queue full ({OUTBOUND_QUEUE_SIZE} frames); worker not reading")

    def close(self, reason: str) -> None:
        if not self.closed.is_set():
            self.close_reason = reason
            self.closed.set()


@dataclass(eq=False)
class WorkerRecord:
    worker_id: str
    host: str = ""
    pid: int = 0
    version: str = ""
    platforms: list[common_pb2.Platform] = field(default_factory=list)
    max_accounts: int = 0
    boot_id: str = ""
    state: common_pb2.WorkerState = OFFLINE
    state_changed_at: datetime = field(default_factory=utcnow)
    registered_at: datetime = field(default_factory=utcnow)
    connected_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    last_seen_monotonic: float = 0.0
    stats: common_pb2.ProcessStats = field(default_factory=common_pb2.ProcessStats)
    account_status: dict[str, gateway_pb2.AccountStatus] = field(default_factory=dict)
    outbox_pending: int = 0
    delivery_error: str = ""  # the worker's outbox fails (Heartbeat.delivery_error)
    delivery_errors: int = 0
    connections: int = 0
    conn: Connection | None = None
    dirty_seen: bool = False  # heartbeat figures changed
    dirty_full: bool = True  # registration or state changed (or never written)

    def to_proto(self, account_ids: list[str] | None = None) -> control_pb2.Worker:
        msg = control_pb2.Worker(
            worker_id=self.worker_id,
            host=self.host,
            pid=self.pid,
            version=self.version,
            platforms=self.platforms,
            max_accounts=self.max_accounts,
            state=self.state,
            stats=self.stats,
            connections=self.connections,
            outbox_pending=self.outbox_pending,
            boot_id=self.boot_id,
            account_ids=account_ids or [],
            delivery_error=self.delivery_error,
            delivery_errors=self.delivery_errors,
        )
        for name in ("last_heartbeat_at", "connected_at", "state_changed_at"):
            ts = to_ts(getattr(self, name))
            if ts is not None:
                getattr(msg, name).CopyFrom(ts)
        return msg

    def to_row(self) -> WorkerRow:
        return WorkerRow(
            worker_id=self.worker_id,
            host=self.host,
            pid=self.pid,
            version=self.version,
            platforms=",".join(common_pb2.Platform.Name(p) for p in self.platforms),
            max_accounts=self.max_accounts,
            state=common_pb2.WorkerState.Name(self.state),
            boot_id=self.boot_id,
            registered_at=self.registered_at,
            connected_at=self.connected_at,
            last_heartbeat_at=self.last_heartbeat_at,
            state_changed_at=self.state_changed_at,
            cpu_percent=self.stats.cpu_percent,
            rss_bytes=self.stats.rss_bytes,
            uss_bytes=self.stats.uss_bytes,
            process_count=self.stats.process_count,
            browser_rss_bytes=self.stats.browser_rss_bytes,
            browser_process_count=self.stats.browser_process_count,
            outbox_pending=self.outbox_pending,
            connections=self.connections,
        )

    @classmethod
    def from_row(cls, row: WorkerRow) -> WorkerRecord:
        return cls(
            worker_id=row.worker_id,
            host=row.host,
            pid=row.pid,
            version=row.version,
            # Value() is typed int in the generated stubs; these are the enums' values.
            platforms=[
                cast(common_pb2.Platform, common_pb2.Platform.Value(p))
                for p in row.platforms.split(",")
                if p
            ],
            max_accounts=row.max_accounts,
            boot_id=row.boot_id,
            state=cast(common_pb2.WorkerState, common_pb2.WorkerState.Value(row.state)),
            state_changed_at=aware(row.state_changed_at) or utcnow(),
            registered_at=aware(row.registered_at) or utcnow(),
            connected_at=aware(row.connected_at),
            last_heartbeat_at=aware(row.last_heartbeat_at),
            stats=common_pb2.ProcessStats(
                cpu_percent=row.cpu_percent,
                rss_bytes=row.rss_bytes,
                uss_bytes=row.uss_bytes,
                process_count=row.process_count,
                browser_rss_bytes=row.browser_rss_bytes,
                browser_process_count=row.browser_process_count,
            ),
            outbox_pending=row.outbox_pending,
            connections=row.connections,
        )


StateListener = Callable[[WorkerRecord, int], None]


def _beat_figures(w: WorkerRecord) -> dict[str, Any]:
    """A heartbeat's figures: one row's parameters of the bulk UPDATE."""
    return {
        "worker_id": w.worker_id,
        "last_heartbeat_at": w.last_heartbeat_at,
        "cpu_percent": w.stats.cpu_percent,
        "rss_bytes": w.stats.rss_bytes,
        "uss_bytes": w.stats.uss_bytes,
        "process_count": w.stats.process_count,
        "browser_rss_bytes": w.stats.browser_rss_bytes,
        "browser_process_count": w.stats.browser_process_count,
        "outbox_pending": w.outbox_pending,
    }


class WorkerRegistry:
    def __init__(self, config: MasterConfig, db: Database, bus: EventBus) -> None:
        self.config = config
        self.db = db
        self.bus = bus
        self.workers: dict[str, WorkerRecord] = {}
        self.listeners: list[StateListener] = []
        self.accounts_of: Callable[[str], list[str]] = lambda _worker_id: []
        self.stream_connects = 0
        # held so the loop does not drop them half-way ("Task was destroyed")
        self._flushes: set[asyncio.Task[None]] = set()
        # workers online when the last master stopped: their accounts wait
        # restart_allowance_s from this start for them
        self._returning: set[str] = set()
        self._loaded_at = 0.0
        self.writes = WriteHealth("saving worker states")
        self.writer = DirtyWriter(
            db,
            WorkerRow,
            self.writes,
            what="worker records",
            records=lambda: self.workers.values(),
            key=lambda w: w.worker_id,
            row=lambda w: w.to_row().model_dump(),
            figures=_beat_figures,
            update_figures=update(WorkerRow),  # ORM bulk UPDATE by primary key
        )

    # ------------------------------------------------------------ start-up

    async def load(self) -> None:
        """Known workers from earlier runs. Those that were online lost their
        stream when the master stopped, so they start as missing and get the
        usual grace period to reconnect."""

        def read(session: Session) -> list[WorkerRow]:
            return list(session.exec(select(WorkerRow)))

        now = utcnow()
        for row in await self.db.run(read):
            record = WorkerRecord.from_row(row)
            if record.state != OFFLINE:
                record.state = MISSING
                record.state_changed_at = now
                record.dirty_seen = True
                self._returning.add(record.worker_id)
            record.last_seen_monotonic = time.monotonic()
            record.dirty_full = record.dirty_seen
            self.workers[record.worker_id] = record
        self._loaded_at = time.monotonic()
        await self.flush()

    @property
    def restart_allowance_s(self) -> float:
        """How long after this master's start the workers of its last run
        may take to come back: their reconnect backoff's longest wait plus
        the usual silence allowance (they may have been waiting their
        longest when the master came up)."""
        return RECONNECT_CAP_S + self.config.missing_after_s

    def awaited(self) -> set[str]:
        """Workers of the last run not back yet whose accounts still wait for
        them (restart_allowance_s from this master's start; it ends early
        when all are back). Without it the first worker to reconnect took
        every account and the others' came back only to be revoked: a
        reshuffle of the whole fleet at every master restart."""
        if not self._returning:
            return set()
        if time.monotonic() - self._loaded_at >= self.restart_allowance_s:
            self._returning.clear()
            return set()
        return {w for w in self._returning if self.workers[w].state != ONLINE}

    def awaited_for_s(self) -> float:
        """How long awaited() may still hold accounts back (0: not at all)."""
        if not self._returning:
            return 0.0
        return max(0.0, self.restart_allowance_s - (time.monotonic() - self._loaded_at))

    # ------------------------------------------------------------ connections

    def attach(self, reg: gateway_pb2.Register) -> tuple[WorkerRecord, Connection]:
        if not WORKER_ID_RE.match(reg.worker_id):
            raise RegistrationError(
                "INVALID_ARGUMENT",
                f"worker id {reg.worker_id!r} is invalid: use 1-64 letters, digits, '_.:-', "
                "starting with a letter or digit",
            )
        if not reg.platforms:
            raise RegistrationError("INVALID_ARGUMENT", "Register.platforms is empty")
        record = self.workers.get(reg.worker_id)
        if record and record.conn and not record.conn.closed.is_set():
            if record.state == ONLINE:
                raise RegistrationError(
                    "ALREADY_EXISTS",
                    f"worker {reg.worker_id} is already online (pid {record.pid} on "
                    f"{record.host}); stop it first or choose another --id",
                )
            record.conn.close("replaced by a new connection with the same worker id")
        if record is None:
            record = WorkerRecord(worker_id=reg.worker_id)
            self.workers[reg.worker_id] = record
        now = utcnow()
        record.host = reg.host
        record.pid = reg.pid
        record.version = reg.version
        record.platforms = list(reg.platforms)
        record.max_accounts = reg.max_accounts
        record.boot_id = reg.boot_id
        record.outbox_pending = reg.outbox_pending
        record.connected_at = now
        record.last_heartbeat_at = now
        record.last_seen_monotonic = time.monotonic()
        record.connections += 1
        record.dirty_full = True
        self.stream_connects += 1
        conn = Connection(connection_id=uuid.uuid4().hex, worker_id=reg.worker_id)
        record.conn = conn
        self._set_state(record, ONLINE, "registered")
        log.info(
            "worker %s online: host=%s pid=%d platforms=%s max_accounts=%d",
            record.worker_id,
            record.host,
            record.pid,
            ",".join(common_pb2.Platform.Name(p) for p in record.platforms),
            record.max_accounts,
        )
        return record, conn

    def detach(self, record: WorkerRecord, conn: Connection, *, graceful: bool, why: str) -> None:
        if record.conn is not conn:
            return  # a newer connection already replaced this one
        record.conn = None
        if graceful:
            self._set_state(record, OFFLINE, why)
        elif record.state == ONLINE:
            self._set_state(record, MISSING, why)

    def mark_missing(self, record: WorkerRecord, why: str) -> None:
        """Its host is gone (master/hosts.py): missing now, its stream closed,
        so its accounts move without waiting for its own deadline."""
        if record.state != ONLINE:
            return
        if record.conn:
            record.conn.close(why)
        self._set_state(record, MISSING, why)

    def seen(self, record: WorkerRecord) -> None:
        record.last_seen_monotonic = time.monotonic()

    def heartbeat(self, record: WorkerRecord, hb: gateway_pb2.Heartbeat) -> None:
        record.last_heartbeat_at = utcnow()
        record.last_seen_monotonic = time.monotonic()
        record.stats.CopyFrom(hb.stats)
        record.outbox_pending = hb.outbox_pending
        if hb.delivery_error != record.delivery_error:
            level = logging.ERROR if hb.delivery_error else logging.INFO
            log.log(
                level,
                "worker %s: delivery %s",
                record.worker_id,
                f"failing: {hb.delivery_error}" if hb.delivery_error else "works again",
            )
            record.delivery_error = hb.delivery_error
            self.bus.publish(worker=self.describe(record))
        record.delivery_errors = hb.delivery_errors
        record.account_status = {a.account_id: a for a in hb.accounts}
        record.dirty_seen = True

    def monitor_page(self, worker_id: str, account_id: str) -> common_pb2.MonitorPage | None:
        """The account's monitor page as its worker's last heartbeat measured
        it; None unless that worker is online (a silent worker's figures are
        stale) and reported the account."""
        record = self.workers.get(worker_id)
        if record is None or record.state != ONLINE:
            return None
        status = record.account_status.get(account_id)
        return status.monitor_page if status is not None else None

    # ------------------------------------------------------------ liveness

    def sweep(self) -> None:
        now = time.monotonic()
        for record in list(self.workers.values()):
            silent = now - record.last_seen_monotonic
            if record.state == ONLINE and silent > self.config.missing_after_s:
                reason = f"no heartbeat for {silent:.1f}s"
                if record.conn:
                    record.conn.close(reason)
                self._set_state(record, MISSING, reason)
            elif record.state == MISSING and (
                now - record.last_seen_monotonic > self.config.offline_after_s
            ):
                self._set_state(record, OFFLINE, "missing for too long")

    def _set_state(self, record: WorkerRecord, state: common_pb2.WorkerState, why: str) -> None:
        if record.state == state:
            return
        old = record.state
        record.state = state
        record.state_changed_at = utcnow()
        record.dirty_full = True
        if state == OFFLINE:
            # figures of a process that is gone would read as a live one's
            record.stats = common_pb2.ProcessStats()
        if state != ONLINE:
            log.warning(
                "worker %s %s -> %s: %s",
                record.worker_id,
                common_pb2.WorkerState.Name(old),
                common_pb2.WorkerState.Name(state),
                why,
            )
        self.bus.publish(worker=self.describe(record))
        for listener in self.listeners:
            listener(record, old)
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushes.add(task)
        task.add_done_callback(self._flush_done)

    def _flush_done(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("worker list not saved", exc_info=task.exception())

    # ------------------------------------------------------------ views

    def describe(self, record: WorkerRecord) -> control_pb2.Worker:
        return record.to_proto(self.accounts_of(record.worker_id))

    def online(self) -> list[WorkerRecord]:
        return [w for w in self.workers.values() if w.state == ONLINE and w.conn is not None]

    def delivery_problems(self) -> list[str]:
        return [
            f"worker {w.worker_id}: delivery failing: {w.delivery_error}"
            for w in sorted(self.workers.values(), key=lambda w: w.worker_id)
            if w.delivery_error and w.state == ONLINE
        ]

    def counts_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.workers.values():
            name = common_pb2.WorkerState.Name(record.state)
            counts[name] = counts.get(name, 0) + 1
        return counts

    # ------------------------------------------------------------ persistence

    async def flush(self) -> None:
        """Whole rows for what registered or changed state; for the rest,
        one bulk UPDATE of the heartbeat columns (1,000 workers beat every
        2 s: a row each, one statement, no per-row model building). A failed
        write is logged and retried by the next flush (master/store/dirty_writer.py)."""
        await self.writer.flush()

    async def run_maintenance(self) -> None:
        """Sweep for silent workers and persist heartbeat figures, forever.
        The sweep is cheap and runs often, so that a frozen worker is noticed
        close to its deadline; the flush runs twice per heartbeat interval."""
        flush_every = self.config.heartbeat_interval_ms / 1000 / 2
        sweep_every = min(SWEEP_PERIOD_S, flush_every)
        last_flush = time.monotonic()
        while True:
            await asyncio.sleep(sweep_every)
            self.sweep()
            if time.monotonic() - last_flush >= flush_every:
                last_flush = time.monotonic()
                await self.flush()
