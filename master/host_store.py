"""Worker hosts in the database, so that a master restart forgets none.

master/hosts.py is the live truth; this keeps it (the `hosts` table):
- at start, every stored host is loaded. One that had not left the fleet
  is missing ("not reconnected since the master started") until its agent
  says hello again, or offline once the usual deadline passes, still listed
  with when it was last seen; one that left stays offline.
- a hello, a state change or leaving is written at once (by the writer
  task, woken by the registry); when a host was last seen (each report) is
  written behind, every SEEN_FLUSH_S, like credentials' last use.
- a write that fails is logged with its traceback, shows in
  GetStats.problems (WriteHealth) and is retried with backoff until it
  works; the records stay marked meanwhile, so nothing is lost. No write
  ever runs on the path of a frame: the writer is its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, cast

from sqlalchemy import bindparam, delete, update
from sqlmodel import Session, select

from hiscrm.v1 import common_pb2, hosts_pb2
from hiscrm_common.timeutil import aware, utcnow
from master.hosts import HostRecord, HostRegistry
from master.registry import MISSING, OFFLINE
from master.store.database import Database
from master.store.dirty_writer import DirtyWriter
from master.store.models import HostRow
from master.store.write_health import FIRST_DELAY_S, MAX_DELAY_S, WriteHealth

log = logging.getLogger(__name__)

SEEN_FLUSH_S = 30.0
RESTARTED = "not reconnected since the master started"


def to_row(record: HostRecord) -> HostRow:
    return HostRow(
        host_id=record.host_id,
        hostname=record.hostname,
        version=record.version,
        slots=record.slots,
        memory_total_bytes=record.resources.memory_total_bytes,
        state=common_pb2.WorkerState.Name(record.state),
        state_reason=record.state_reason,
        state_changed_at=record.state_changed_at,
        joined_at=record.joined_at,
        last_seen_at=record.last_report_at,
        left_at=record.left_at,
    )


def from_row(row: HostRow) -> HostRecord:
    """The host as the master starts: missing unless it was offline (left,
    or missing for too long) when it was last written."""
    state = cast(common_pb2.WorkerState, common_pb2.WorkerState.Value(row.state))
    record = HostRecord(
        host_id=row.host_id,
        hostname=row.hostname,
        version=row.version,
        slots=row.slots,
        resources=hosts_pb2.HostResources(memory_total_bytes=row.memory_total_bytes),
        state=state,
        state_reason=row.state_reason,
        state_changed_at=aware(row.state_changed_at) or utcnow(),
        last_report_at=aware(row.last_seen_at),
        joined_at=aware(row.joined_at) or utcnow(),
        left_at=aware(row.left_at),
        dirty_full=False,
    )
    if row.left_at is None and state != OFFLINE:
        # its stream ended with the old master; it has the usual grace to come back
        record.state = MISSING
        record.state_reason = RESTARTED
        record.state_changed_at = utcnow()
        record.dirty_full = True
    return record


def _figures(record: HostRecord) -> dict[str, Any]:
    """A report's figures: the parameters of the writer's UPDATE."""
    return {
        "h": record.host_id,
        "at": record.last_report_at,
        "memory": record.resources.memory_total_bytes,
    }


class HostStore:
    def __init__(self, db: Database, hosts: HostRegistry) -> None:
        self.db = db
        self.hosts = hosts
        self.writes = WriteHealth("saving host states")
        self._wake = asyncio.Event()
        table = HostRow.__table__  # type: ignore[attr-defined]  # SQLModel sets it; its stubs omit it
        self.writer = DirtyWriter(
            db,
            HostRow,
            self.writes,
            what="hosts",
            records=lambda: hosts.hosts.values(),
            key=lambda h: h.host_id,
            row=lambda h: to_row(h).model_dump(),
            figures=_figures,
            # Core, not ORM: no model objects for a report's two columns
            update_figures=update(table)
            .where(table.c.host_id == bindparam("h"))
            .values(last_seen_at=bindparam("at"), memory_total_bytes=bindparam("memory")),
        )
        hosts.wake_writer = self._wake.set

    async def load(self) -> None:
        def read(session: Session) -> list[HostRow]:
            return list(session.exec(select(HostRow)))

        for row in await self.db.run(read):
            record = from_row(row)
            self.hosts.seed(record)
            log.info(
                "host %s known from before: %s (%s), last seen %s",
                record.host_id,
                common_pb2.WorkerState.Name(record.state),
                record.state_reason,
                record.last_report_at.isoformat() if record.last_report_at else "never",
            )
        self._wake.set()  # the new states of the loaded hosts

    async def run(self) -> None:
        """The writer (a long-lived task): changes when woken, last seen
        every SEEN_FLUSH_S, failed writes again after a backoff."""
        seen_due = time.monotonic() + SEEN_FLUSH_S
        delay = FIRST_DELAY_S
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, seen_due - time.monotonic()))
            self._wake.clear()
            if time.monotonic() >= seen_due:
                seen_due = time.monotonic() + SEEN_FLUSH_S
            if await self.flush():
                delay = FIRST_DELAY_S
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
            self._wake.set()

    async def flush(self) -> bool:
        """Writes what changed; False (logged, kept for the next try) when
        the database refused."""
        return await self.writer.flush()

    async def forget(self, host_id: str) -> HostRecord | None:
        """Removes a host from the registry and the database; on a failed
        delete it is put back (and written again) and the error raised."""
        record = self.hosts.forget(host_id)
        if record is None:
            return None

        def remove(session: Session) -> None:
            table = HostRow.__table__  # type: ignore[attr-defined]  # SQLModel sets it; its stubs omit it
            session.execute(delete(table).where(table.c.host_id == host_id))
            session.commit()

        try:
            async with self.writer.lock:  # not under a write of that row
                await self.db.run(remove)
        except Exception:
            self.hosts.hosts.setdefault(host_id, record)
            record.dirty_full = True
            self._wake.set()
            raise
        log.warning("host %s forgotten: removed from the fleet's hosts", host_id)
        return record
