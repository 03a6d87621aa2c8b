"""The database goes away while a failover is decided, and the master is
then killed and restarted with the old holder back first: on SQLite (the
file locked by another process) and on PostgreSQL (a server of the test's
own, stopped and started).

A move is written before it is sent, so the restarted master knows every
worker that ran each account and refuses none of their batches: 0 lost,
0 duplicated, nothing quarantined; meanwhile the outage is visible (health
NOT_SERVING, GetStats.problems)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hiscrm.v1 import common_pb2, control_pb2
from tests.delivery_helpers import account, create, synthetic_spec
from tests.harness import Cluster, Proc, wait_for
from tests.private_postgres import private_postgres, unavailable

ONLINE = common_pb2.WORKER_STATE_ONLINE
PER_ACCOUNT = 1500
ACCOUNTS = ("dbo-0", "dbo-1")


class Outage:
    """down() makes every write of the master fail or wait; up() ends it."""

    env: dict[str, str]

    def down(self) -> None: ...
    def up(self) -> None: ...


class SqliteLock(Outage):
    def __init__(self, home: Path) -> None:
        self.path = home / "hiscrm.db"
        self.env = {"HISCRM_SQLITE_BUSY_MS": "1000"}
        self.conn: sqlite3.Connection | None = None

    def down(self) -> None:
        self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.conn.execute("BEGIN EXCLUSIVE")

    def up(self) -> None:
        assert self.conn is not None
        self.conn.execute("ROLLBACK")
        self.conn.close()
        self.conn = None


class PostgresStop(Outage):
    def __init__(self, pg: object) -> None:
        self.pg = pg
        self.env = {"HISCRM_DATABASE_URL": pg.url}  # type: ignore[attr-defined]

    def down(self) -> None:
        self.pg.stop()  # type: ignore[attr-defined]

    def up(self) -> None:
        self.pg.start()  # type: ignore[attr-defined]


@contextlib.contextmanager
def outage_for(backend: str, home: Path) -> Iterator[Outage]:
    if backend == "sqlite":
        yield SqliteLock(home)
        return
    why = unavailable()
    if why:
        pytest.skip(why)
    with private_postgres() as pg:
        yield PostgresStop(pg)


def signal_group(proc: Proc, sig: signal.Signals) -> None:
    os.killpg(proc.pid, sig)


def stored(cluster: Cluster) -> list[tuple[str, str]]:
    rows, token = [], ""
    while True:
        page = cluster.call(
            "ListItems", control_pb2.ListItemsRequest(page_size=1000, page_token=token)
        )
        rows += [(s.item.account_id, s.item.platform_item_id) for s in page.items]  # type: ignore[attr-defined]
        token = page.next_page_token  # type: ignore[attr-defined]
        if not token:
            return rows


def count(cluster: Cluster, account_id: str) -> int:
    return sum(1 for a, _ in stored(cluster) if a == account_id)


def not_serving(cluster: Cluster) -> bool:
    stub = health_pb2_grpc.HealthStub(cluster.channel())
    status = stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status
    return status == health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_outage_during_failover_then_restart_loses_nothing(cluster: Cluster, backend: str) -> None:
    with outage_for(backend, cluster.home) as db:
        master = cluster.start_master(**db.env)
        workers = {w: cluster.start_worker(w, **db.env) for w in ("dbo-a", "dbo-b")}
        for w in workers:
            cluster.wait_worker_state(w, ONLINE)
        for a in ACCOUNTS:
            create(cluster, a, synthetic_spec(rate=100, total=PER_ACCOUNT))
        wait_for(
            lambda: all(
                account(cluster, a).state == common_pb2.RUN_STATE_RUNNING for a in ACCOUNTS
            ),
            timeout=60,
            what="both accounts running",
        )
        wait_for(lambda: count(cluster, "dbo-0") >= 150, timeout=60, what="first items")
        victim_id = account(cluster, "dbo-0").worker_id
        survivor_id = next(w for w in workers if w != victim_id)

        # the outage, and a failover decided during it
        db.down()
        workers[victim_id].kill9()
        cluster.wait_worker_state(victim_id, common_pb2.WORKER_STATE_MISSING)
        wait_for(
            lambda: "database: writing assignments failed" in master.log_text(),
            timeout=60,
            what="a failed assignment write",
        )
        wait_for(lambda: not_serving(cluster), timeout=30, what="health NOT_SERVING")
        problems = cluster.call("GetStats", control_pb2.GetStatsRequest()).problems  # type: ignore[attr-defined]
        assert any(p.startswith("database:") for p in problems), problems
        db.up()

        # the survivor runs the account, its cursor is written
        wait_for(lambda: account(cluster, "dbo-0").worker_id == survivor_id, what="failover")
        moved_at = count(cluster, "dbo-0")
        wait_for(lambda: count(cluster, "dbo-0") >= moved_at + 100, timeout=60, what="progress")
        wait_for(lambda: not not_serving(cluster), what="health SERVING again")

        # a second outage leaves the survivor with unacked batches; then the
        # survivor freezes, the master dies, and the old holder is back first
        db.down()
        wait_for(
            lambda: cluster.workers_by_id()[survivor_id].outbox_pending > 0,
            timeout=30,
            what="unacked items on the survivor",
        )
        signal_group(workers[survivor_id], signal.SIGSTOP)
        master.kill9()
        db.up()
        cluster.start_worker(victim_id, **db.env)
        cluster.start_master(**db.env)
        cluster.wait_worker_state(victim_id, ONLINE)
        signal_group(workers[survivor_id], signal.SIGCONT)

        total = PER_ACCOUNT * len(ACCOUNTS)
        wait_for(lambda: len(stored(cluster)) >= total, timeout=180, interval=0.5, what="all items")
        rows = stored(cluster)
        expected = {(a, f"{a}-{n}") for a in ACCOUNTS for n in range(PER_ACCOUNT)}
        assert len(rows) == total, f"{len(rows)} rows, expected {total}"
        assert set(rows) == expected  # 0 lost; the unique key and the count: 0 duplicated
        stats = cluster.call("GetStats", control_pb2.GetStatsRequest())
        assert stats.batches_refused == 0 and stats.items_refused == 0  # type: ignore[attr-defined]
        for w in workers:
            assert not (cluster.home / "workers" / w / "quarantine").exists(), w
