"""master/store/dirty_writer.py on a real SQLite file: a write the database
refuses writes nothing, puts back every mark it took (whole row or figures
only), shows as a problem; the next flush writes it all and the problem is
over; a record changed while nothing failed is written once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, update
from sqlmodel import select

from master.store.database import Database
from master.store.dirty_writer import DirtyWriter
from master.store.models import HostRow
from master.store.write_health import WriteHealth


@dataclass
class Rec:
    key: str
    hostname: str | None  # None: the table's NOT NULL refuses the row
    slots: int = 0
    dirty_full: bool = True
    dirty_seen: bool = False


def _writer(db: Database, records: dict[str, Rec]) -> DirtyWriter[Rec]:
    table = HostRow.__table__  # type: ignore[attr-defined]  # SQLModel sets it; its stubs omit it
    return DirtyWriter(
        db,
        HostRow,
        WriteHealth("saving test rows"),
        what="test rows",
        records=records.values,
        key=lambda r: r.key,
        row=lambda r: {"host_id": r.key, "hostname": r.hostname, "slots": r.slots},
        figures=lambda r: {"k": r.key, "slots": r.slots},
        update_figures=update(table)
        .where(table.c.host_id == bindparam("k"))
        .values(slots=bindparam("slots")),
    )


def _rows(db: Database) -> dict[str, tuple[str, int]]:
    with db.session() as session:
        return {r.host_id: (r.hostname, r.slots) for r in session.exec(select(HostRow))}


def _marks(records: dict[str, Rec]) -> dict[str, tuple[bool, bool]]:
    return {k: (r.dirty_full, r.dirty_seen) for k, r in records.items()}


async def test_a_refused_write_is_marked_again_and_the_next_flush_writes_it(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    db.migrate()
    try:
        records = {"a": Rec("a", "a.lan"), "b": Rec("b", "b.lan")}
        writer = _writer(db, records)
        assert await writer.flush()
        assert _rows(db) == {"a": ("a.lan", 0), "b": ("b.lan", 0)}
        assert _marks(records) == {"a": (False, False), "b": (False, False)}
        assert await writer.flush()  # nothing marked: nothing to do

        # a figure of a, and a new row c the database refuses, in one write
        records["a"].slots, records["a"].dirty_seen = 3, True
        records["c"] = Rec("c", None)
        assert not await writer.flush()
        assert _rows(db) == {"a": ("a.lan", 0), "b": ("b.lan", 0)}  # nothing half-written
        assert _marks(records) == {"a": (False, True), "b": (False, False), "c": (True, False)}
        problem = writer.health.problem(float("inf"))
        assert problem is not None and "saving test rows has failed" in problem
        assert not await writer.flush()  # still refused: still marked
        assert _marks(records)["c"] == (True, False) and _marks(records)["a"] == (False, True)

        # the record fixed: the next flush writes both, and health is back
        records["c"].hostname = "c.lan"
        assert await writer.flush()
        assert _rows(db) == {"a": ("a.lan", 3), "b": ("b.lan", 0), "c": ("c.lan", 0)}
        assert _marks(records) == {k: (False, False) for k in records}
        assert writer.health.problem(float("inf")) is None

        # whole row and figures both marked: the whole row is written, once
        records["b"].slots, records["b"].hostname = 7, "b2.lan"
        records["b"].dirty_full = records["b"].dirty_seen = True
        assert await writer.flush()
        assert _rows(db)["b"] == ("b2.lan", 7)
        assert _marks(records)["b"] == (False, False)
    finally:
        db.dispose()
