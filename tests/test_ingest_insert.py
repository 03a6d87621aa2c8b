"""Ingest's insert path (master/store/insert_new.py) on SQLite and
PostgreSQL: it stores what SQLAlchemy would have stored, reports exactly the
new rows across statement boundaries, and a failed commit leaves neither
items nor conversations behind, in the database or in the cache."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, insert, select, text

from hiscrm.v1 import common_pb2, gateway_pb2
from master.accounts import AccountStore
from master.counters import Counters
from master.events import EventBus
from master.ingest import Ingest, Pending, row_of
from master.registry import Connection, WorkerRecord
from master.store.database import Database
from master.store.insert_new import InsertNew
from master.store.models import ConversationRow, ItemRow
from master.threads import Threads
from tests.databases import BACKENDS, fresh_database
from tests.delivery_helpers import synthetic_spec

ITEMS: Table = ItemRow.__table__  # type: ignore[attr-defined]
CONVERSATIONS: Table = ConversationRow.__table__  # type: ignore[attr-defined]
IDENTITY = ("platform", "account_id", "kind", "platform_item_id")
ITEM_KEY = ("id", "account_id", "kind", "platform_item_id")


def _item(n: int, **fields: Any) -> dict[str, Any]:
    row = {
        "platform": "PLATFORM_SYNTHETIC",
        "account_id": "acc",
        "kind": "ITEM_KIND_COMMENT",
        "platform_item_id": f"p-{n}",
        "author_id": "u",
        "author_name": "用户 ☃",
        "content": "内容 'quoted' \"and\" ?",
        "post_id": "post",
        "post_title": "",
        "conversation_id": "",
        "parent_id": "",
        "outgoing": False,
        "created_at": datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
        "received_at": datetime(2026, 3, 4, 5, 6, 8, tzinfo=UTC),
        "read": False,
        "worker_id": "w",
        "raw_json": "{}",
        "conversation_ref": 7,
    }
    row.update(fields)
    return row


def _stored(db: Database, table: Table, key: str, value: str) -> dict[str, Any]:
    """The row as the database holds it (SQLite: its text, not parsed)."""
    with db.engine.connect() as conn:
        found = conn.execute(
            text(f"SELECT * FROM {table.name} WHERE {key} = :v"), {"v": value}
        ).mappings()
        rows = [dict(r) for r in found]
    assert len(rows) == 1, rows
    rows[0].pop("id")
    rows[0].pop(key)
    return rows[0]


@contextmanager
def migrated(backend: str, tmp_path: Path) -> Iterator[Database]:
    with fresh_database(backend, tmp_path) as url:
        db = Database(url)
        db.migrate()
        try:
            yield db
        finally:
            db.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_it_stores_what_sqlalchemy_stores(backend: str, tmp_path: Path) -> None:
    with migrated(backend, tmp_path) as db:
        items = InsertNew(ITEMS, IDENTITY, ITEM_KEY)
        east = timezone(timedelta(hours=8))
        cases = [
            {},
            {"created_at": None, "outgoing": True, "read": True},
            # an aware time in another zone is stored as UTC, as SQLAlchemy does
            {"created_at": datetime(2026, 3, 4, 13, 6, 7, 5, tzinfo=east)},
        ]
        for i, fields in enumerate(cases):
            with db.session() as s:
                s.execute(insert(ITEMS), [_item(1000 + i, **fields)])
                new = items.run(s, [_item(i, **fields)])
                s.commit()
            assert [r[1:] for r in new] == [("acc", "ITEM_KIND_COMMENT", f"p-{i}")]
            assert _stored(db, ITEMS, "platform_item_id", f"p-{i}") == _stored(
                db, ITEMS, "platform_item_id", f"p-{1000 + i}"
            )
        # columns a row leaves out get their defaults, as with SQLAlchemy
        conversations = InsertNew(
            CONVERSATIONS, ("account_id", "kind", "thread_key"), ("id", "thread_key")
        )
        conv = {"account_id": "acc", "platform": "P", "kind": "K", "thread_key": "t1"}
        with db.session() as s:
            s.execute(insert(CONVERSATIONS), [{**conv, "thread_key": "t0"}])
            conversations.run(s, [conv])
            s.commit()
        mine, theirs = (_stored(db, CONVERSATIONS, "thread_key", t) for t in ("t1", "t0"))
        for stamp in ("created_at", "updated_at"):  # each is "now" when stored
            assert mine.pop(stamp) and theirs.pop(stamp)
        assert mine == theirs


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_new_rows_come_back_across_statements(backend: str, tmp_path: Path) -> None:
    with migrated(backend, tmp_path) as db:
        items = InsertNew(ITEMS, IDENTITY, ITEM_KEY)
        with db.session() as s:
            first = items.run(s, [_item(n) for n in range(0, 3000, 3)])
            s.commit()
        assert len(first) == 1000
        # 2,500 rows (SQLite: statements of 1024, 1024, 256, 128, 64 and 4
        # rows), a third of them stored before, and 5 twice in the batch
        batch = [_item(n) for n in range(2500)] + [_item(n) for n in range(1, 11, 2)]
        with db.session() as s:
            new = items.run(s, batch)
            s.commit()
        expected = {f"p-{n}" for n in range(2500) if n % 3}
        assert sorted(r[3] for r in new) == sorted(expected)
        with db.session() as s:
            ids = [r[0] for r in s.execute(select(ITEMS.c.id))]
        assert len(ids) == len(set(ids)) == 1000 + len(expected)
        assert {r[0] for r in new} <= set(ids)


def _batch(seq: int, ids: list[str]) -> gateway_pb2.ItemsBatch:
    return gateway_pb2.ItemsBatch(
        seq=seq,
        account_id="acc",
        items=[
            common_pb2.Item(
                platform=common_pb2.PLATFORM_SYNTHETIC,
                account_id="acc",
                kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE,
                platform_item_id=i,
                author_id=f"customer-{i[-1]}",
                conversation_id=f"c-{i[-1]}",
                content=f"hello {i}",
            )
            for i in ids
        ],
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_commit_leaves_no_items_and_no_conversations(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(url: str) -> None:
        db = Database(url)
        db.migrate()
        bus = EventBus()
        accounts = AccountStore(db, bus)
        await accounts.create("acc", synthetic_spec(rate=1, total=1))
        accounts.rows["acc"].worker_id = "w"
        ingest = Ingest(db, accounts, bus, Counters())
        conn = Connection(connection_id="c", worker_id="w")
        record = WorkerRecord(worker_id="w")

        def counts() -> tuple[int, int, list[tuple[str, int]]]:
            with db.session() as s:
                n_items = len(list(s.execute(select(ITEMS.c.id))))
                convs = sorted(
                    (r.thread_key, r.item_count)
                    for r in s.execute(
                        select(CONVERSATIONS.c.thread_key, CONVERSATIONS.c.item_count)
                    )
                )
            return n_items, len(convs), convs

        await ingest._commit([Pending(record, conn, _batch(1, ["a1", "a2"]))])
        assert conn.outbound.get_nowait().ack.stored == 2
        assert counts() == (2, 2, [("c-1", 1), ("c-2", 1)])

        # the items and a new conversation are written, then the fold fails
        def broken(self: Threads, session: Any, rows: Any) -> Any:
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(Threads, "update", broken)
        with pytest.raises(RuntimeError, match="disk on fire"):
            await db.run(
                lambda s: ingest._insert(
                    s, [row_of(i, "w", datetime.now(UTC)) for i in _batch(2, ["b1", "b3"]).items]
                )
            )
        assert conn.outbound.empty()  # nothing acked
        assert counts() == (2, 2, [("c-1", 1), ("c-2", 1)])
        assert ("acc", "CONVERSATION_KIND_DIRECT_MESSAGE", "c-3") not in ingest.threads._ids

        # the resend lands whole: its items, the new conversation, the counts
        monkeypatch.undo()
        await ingest._commit([Pending(record, conn, _batch(2, ["b1", "b3"]))])
        ack = conn.outbound.get_nowait().ack
        assert (ack.seq, ack.stored, ack.duplicates) == (2, 2, 0)
        assert counts() == (4, 3, [("c-1", 2), ("c-2", 1), ("c-3", 1)])
        await ingest._commit([Pending(record, conn, _batch(3, ["b1", "a2"]))])
        ack = conn.outbound.get_nowait().ack
        assert (ack.stored, ack.duplicates) == (0, 2)
        assert counts() == (4, 3, [("c-1", 2), ("c-2", 1), ("c-3", 1)])
        db.dispose()

    with fresh_database(backend, tmp_path) as url:
        asyncio.run(scenario(url))
