"""The master's store on SQLite and PostgreSQL: migrations, idempotent
ingest, and a full master on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, inspect
from sqlmodel import SQLModel, select

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from master.accounts import AccountStore
from master.counters import Counters
from master.events import EventBus
from master.ingest import Ingest, Pending
from master.registry import Connection, WorkerRecord
from master.store.database import Database
from master.store.models import ItemRow
from tests.databases import BACKENDS, fresh_database
from tests.delivery_helpers import create, items_total, synthetic_spec
from tests.harness import Cluster, wait_for


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_build_exactly_the_models(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        db = Database(url)
        db.migrate()
        db.migrate()  # idempotent
        tables = set(inspect(db.engine).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        db.dispose()


def _batch(account: str, ids: list[str], seq: int) -> gateway_pb2.ItemsBatch:
    return gateway_pb2.ItemsBatch(
        seq=seq,
        account_id=account,
        items=[
            common_pb2.Item(
                platform=common_pb2.PLATFORM_SYNTHETIC,
                account_id=account,
                kind=common_pb2.ITEM_KIND_COMMENT,
                platform_item_id=i,
                content=f"内容 {i}",
            )
            for i in ids
        ],
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_ingest_is_idempotent_and_acks_after_commit(backend: str, tmp_path: Path) -> None:
    async def scenario(url: str) -> None:
        db = Database(url)
        db.migrate()
        bus = EventBus()
        sub = bus.subscribe()
        accounts = AccountStore(db, bus)
        spec = synthetic_spec(rate=1, total=1)
        await accounts.create("acc", spec)
        accounts.rows["acc"].worker_id = "w"
        counters = Counters()
        ingest = Ingest(db, accounts, bus, counters)
        conn = Connection(connection_id="c", worker_id="w")
        record = WorkerRecord(worker_id="w")
        work = [
            Pending(record, conn, _batch("acc", ["1", "2", "3"], 1)),
            Pending(record, conn, _batch("acc", ["3", "4"], 2)),  # "3" again
            Pending(record, conn, _batch("acc", ["1", "2", "3", "4"], 3)),  # a resend
        ]
        await ingest._commit(work)
        # one cumulative Ack per stream per commit, with the counts summed
        ack = conn.outbound.get_nowait().ack
        assert (ack.seq, ack.stored, ack.duplicates) == (3, 4, 5)
        assert conn.outbound.empty()
        # a refused batch in the middle: the earlier ones are acked before its Nack
        await ingest._commit(
            [
                Pending(record, conn, _batch("acc", ["5"], 4)),
                Pending(record, conn, gateway_pb2.ItemsBatch(seq=5), refused="not yours"),
                Pending(record, conn, _batch("acc", ["6"], 6)),
            ]
        )
        frames = [conn.outbound.get_nowait() for _ in range(3)]
        assert [f.WhichOneof("frame") for f in frames] == ["ack", "nack", "ack"]
        assert [frames[0].ack.seq, frames[1].nack.seq, frames[2].ack.seq] == [4, 5, 6]
        rows = await db.run(lambda s: s.exec(select(func.count()).select_from(ItemRow)).one())
        assert rows == 6
        events = sub.drain()
        item_ids = sorted(e.item.item.platform_item_id for e in events if e.HasField("item"))
        assert item_ids == ["1", "2", "3", "4", "5", "6"]  # only new items are published
        # a worker that never held the account is refused with a Nack
        stranger = WorkerRecord(worker_id="stranger")
        assert "not assigned" in ingest.refuse_reason(stranger, _batch("acc", ["9"], 1))
        db.dispose()

    with fresh_database(backend, tmp_path) as url:
        asyncio.run(scenario(url))


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_master_on_postgresql_delivers_and_keeps_data(
    backend: str, tmp_path: Path, cluster: Cluster
) -> None:
    with fresh_database(backend, tmp_path) as url:
        master = cluster.start_master(HISCRM_DATABASE_URL=url)
        cluster.start_worker("pg-1")
        cluster.wait_worker_state("pg-1", common_pb2.WORKER_STATE_ONLINE)
        create(cluster, "pg-acc", synthetic_spec(rate=500, total=1500))
        wait_for(lambda: items_total(cluster) == 1500, timeout=60, what="1500 items on PG")
        stats = cluster.call("GetStats", control_pb2.GetStatsRequest())
        assert stats.database == "postgresql"
        master.stop()
        cluster.start_master(HISCRM_DATABASE_URL=url)
        assert items_total(cluster) == 1500
        cluster.stop_all()
