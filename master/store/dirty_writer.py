"""Records kept in memory and written behind to one table: the one place
where the rule for a failed write lives.

A record says what of it is to be written: `dirty_full` (it registered or
changed state: its whole row, upserted) or only `dirty_seen` (a heartbeat or
report: a few figures, all such records in one Core UPDATE). A write takes
the marks off what it writes before it starts, so a change made while it
runs marks the record again for the next one. A write that fails puts back
the marks it took, shows in its WriteHealth (GetStats.problems, health
NOT_SERVING) and is logged; the next flush writes those records again.
Flushes are serialized (two upserts of a new row would both INSERT); the
lock is the writer's, for whoever else writes that table (a delete).

Used by master/registry.py (workers) and master/host_store.py (hosts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.sql import Executable
from sqlmodel import Session, SQLModel

from master.store.database import Database, upsert
from master.store.write_health import WriteHealth

log = logging.getLogger(__name__)

IDS_LOGGED = 512  # characters of record ids in the failure's log line


class Dirty(Protocol):
    dirty_full: bool  # the whole row is to be written
    dirty_seen: bool  # only its figures are


R = TypeVar("R", bound=Dirty)


class DirtyWriter(Generic[R]):
    def __init__(
        self,
        db: Database,
        model: type[SQLModel],
        health: WriteHealth,
        *,
        what: str,
        records: Callable[[], Iterable[R]],
        key: Callable[[R], str],
        row: Callable[[R], dict[str, Any]],
        figures: Callable[[R], dict[str, Any]],
        update_figures: Executable,
    ) -> None:
        """`records` are all of them (read when a flush starts); `row` is one's
        whole row; `figures` its parameters of `update_figures`."""
        self.db = db
        self.model = model
        self.health = health
        self.what = what  # e.g. "hosts", for the log line
        self.records = records
        self.key = key
        self.row = row
        self.figures = figures
        self.update_figures = update_figures
        self.lock = asyncio.Lock()

    async def flush(self) -> bool:
        """Writes what is marked; False (logged, marked again for the next
        try) when the database refused."""
        async with self.lock:
            return await self._flush()

    async def _flush(self) -> bool:
        records = list(self.records())
        full = [r for r in records if r.dirty_full]
        seen = [r for r in records if r.dirty_seen and not r.dirty_full]
        if not full and not seen:
            return True
        for record in (*full, *seen):
            record.dirty_full = record.dirty_seen = False
        rows = [self.row(r) for r in full]
        figures = [self.figures(r) for r in seen]

        def write(session: Session) -> None:
            for values in rows:
                upsert(session, self.model, values)
            if figures:
                session.execute(self.update_figures, figures)
            session.commit()

        try:
            with self.health.attempt():
                await self.db.run(write)
        except Exception:
            for record in full:
                record.dirty_full = True
            for record in seen:
                record.dirty_seen = True
            log.exception(
                "could not save %d %s (%s); will retry",
                len(full) + len(seen),
                self.what,
                ",".join(self.key(r) for r in (*full, *seen))[:IDS_LOGGED],
            )
            return False
        return True
