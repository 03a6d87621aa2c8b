"""master/host_store.py on a real SQLite file: what a master restart keeps
of each host, how loaded hosts are seeded (missing, or offline when they
left) without touching their workers, last seen written behind, failed
writes kept and retried, and forgetting a host."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from hiscrm.v1 import common_pb2, gateway_pb2, hosts_pb2
from master.config import MasterConfig
from master.events import EventBus
from master.host_store import RESTARTED, HostStore
from master.hosts import DRAINING, MISSING, HostRegistry
from master.registry import OFFLINE, ONLINE, WorkerRegistry
from master.store.database import Database
from master.store.models import HostRow

GIB = 1 << 30
CONFIG = MasterConfig(
    listen="127.0.0.1:0",
    heartbeat_interval_ms=500,
    missing_after_beats=2.5,
    offline_after_ms=4000,
    max_message_bytes=4 << 20,
    max_batch_bytes=1 << 20,
    max_batch_items=500,
    metrics_listen="",
)


class Master:
    """The parts of one master run that hosts touch, on one database file."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self.db.migrate()
        self.workers = WorkerRegistry(CONFIG, self.db, EventBus())
        self.hosts = HostRegistry(CONFIG, self.workers)
        self.store = HostStore(self.db, self.hosts)
        self.changes = 0
        self.hosts.on_change.append(self._count)

    def _count(self) -> None:
        self.changes += 1

    async def start(self) -> None:
        await self.workers.load()
        await self.store.load()

    def rows(self) -> dict[str, HostRow]:
        with self.db.session() as session:
            return {r.host_id: r for r in session.exec(select(HostRow))}

    def close(self) -> None:
        self.db.dispose()


def hello(host_id: str, memory: int = 8 * GIB) -> hosts_pb2.HostHello:
    return hosts_pb2.HostHello(
        host_id=host_id,
        hostname=f"{host_id}.lan",
        version="0.1.0",
        slots=3,
        resources=hosts_pb2.HostResources(memory_total_bytes=memory),
        processes=[hosts_pb2.HostProcess(worker_id=f"{host_id}-worker-0")],
    )


def register(worker_id: str, host: str) -> gateway_pb2.Register:
    return gateway_pb2.Register(
        worker_id=worker_id, host=host, platforms=[common_pb2.PLATFORM_SYNTHETIC]
    )


async def joined_before(url: str, *host_ids: str) -> None:
    """A master run in which these hosts said hello, then stopped."""
    master = Master(url)
    await master.start()
    for host_id in host_ids:
        master.hosts.attach(hello(host_id))
    assert await master.store.flush()
    master.close()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


async def test_a_restart_keeps_every_host_missing_until_it_says_hello(url: str) -> None:
    first = Master(url)
    await first.start()
    record, link = first.hosts.attach(hello("hb"))
    first.hosts.attach(hello("hc", memory=24 * GIB))
    assert await first.store.flush()
    stored = first.rows()
    assert set(stored) == {"hb", "hc"}
    assert stored["hb"].state == "WORKER_STATE_ONLINE" and stored["hb"].slots == 3
    assert stored["hc"].memory_total_bytes == 24 * GIB
    first.hosts.detach(record, link, "connection lost")  # hb's agent stops
    assert await first.store.flush()
    first.close()

    second = Master(url)
    await second.start()
    hosts = second.hosts.hosts
    assert set(hosts) == {"hb", "hc"}
    for host_id in ("hb", "hc"):
        assert hosts[host_id].state == MISSING
        assert hosts[host_id].state_reason == RESTARTED
        assert hosts[host_id].last_report_at is not None
    assert hosts["hb"].hostname == "hb.lan" and hosts["hb"].version == "0.1.0"
    assert second.hosts.caps()["hc"] > second.hosts.caps()["hb"]  # the cap from its memory
    assert second.hosts.problems() == [
        f"host hb: missing ({RESTARTED})",
        f"host hc: missing ({RESTARTED})",
    ]
    assert second.changes == 0  # seeding is no state change: nothing re-placed
    # the new states are written, so a second restart reads them too
    assert await second.store.flush()
    assert second.rows()["hb"].state_reason == RESTARTED

    # its agent says hello again: online as before
    second.hosts.attach(hello("hb"))
    assert hosts["hb"].state == ONLINE
    assert second.hosts.problems() == [f"host hc: missing ({RESTARTED})"]
    assert await second.store.flush()
    assert second.rows()["hb"].state == "WORKER_STATE_ONLINE"
    second.close()


async def test_seeding_leaves_the_workers_alone(url: str) -> None:
    await joined_before(url, "hb")
    second = Master(url)
    await second.workers.load()
    # a worker of that host connected before the hosts were loaded
    worker, conn = second.workers.attach(register("hb-worker-0", "hb"))
    await second.store.load()
    assert second.hosts.hosts["hb"].state == MISSING
    # a host going missing marks its workers missing; one seeded missing does not
    assert worker.state == ONLINE and not conn.closed.is_set()
    second.close()


async def test_a_host_that_left_stays_offline_and_is_no_problem(url: str) -> None:
    first = Master(url)
    await first.start()
    record, link = first.hosts.attach(hello("hb"))
    first.hosts.drain(record)
    assert record.state == DRAINING
    first.hosts.detach(record, link, "the agent closed its stream")
    assert record.state == OFFLINE and record.left_at is not None
    assert await first.store.flush()
    assert first.rows()["hb"].left_at is not None
    first.close()

    second = Master(url)
    await second.start()
    kept = second.hosts.hosts["hb"]
    assert kept.state == OFFLINE
    assert kept.state_reason.startswith("left the fleet")
    assert kept.left_at is not None
    assert second.hosts.problems() == []
    # a worker seen from that name now runs elsewhere: not routed to the host that left
    second.workers.attach(register("w-local", "hb"))
    assert second.hosts.host_of("w-local") is None
    assert second.hosts.host_map(["w-local"]) == {}
    # it joins again: back in the fleet
    second.hosts.attach(hello("hb"))
    assert kept.state == ONLINE and kept.left_at is None
    assert second.hosts.host_of("w-local") is kept
    assert second.hosts.host_map(["w-local"]) == {"w-local": "hb"}
    assert await second.store.flush()
    assert second.rows()["hb"].left_at is None
    second.close()


async def test_a_missing_host_goes_offline_with_when_it_was_last_seen(url: str) -> None:
    await joined_before(url, "hb")
    second = Master(url)
    await second.start()
    record = second.hosts.hosts["hb"]
    second.hosts.sweep()
    assert record.state == MISSING  # the deadline counts from the master's start
    record.last_seen_monotonic -= CONFIG.offline_after_s + 1
    second.hosts.sweep()
    assert record.state == OFFLINE
    assert record.state_reason.startswith("missing for too long (last seen 20")
    assert second.hosts.problems() == []
    assert await second.store.flush()
    second.close()

    third = Master(url)
    await third.start()
    assert third.hosts.hosts["hb"].state == OFFLINE  # not missing again after a restart
    assert third.hosts.hosts["hb"].state_reason.startswith("missing for too long")
    third.close()


async def test_reports_are_written_behind_not_at_once(url: str) -> None:
    master = Master(url)
    await master.start()
    record, _link = master.hosts.attach(hello("hb"))
    assert await master.store.flush()
    written = master.rows()["hb"].last_seen_at
    master.hosts.report(
        record,
        hosts_pb2.HostReport(resources=hosts_pb2.HostResources(memory_total_bytes=16 * GIB)),
    )
    assert record.dirty_seen and not record.dirty_full  # no write of its own
    assert master.rows()["hb"].last_seen_at == written
    assert await master.store.flush()
    row = master.rows()["hb"]
    assert row.memory_total_bytes == 16 * GIB
    assert row.last_seen_at is not None and written is not None and row.last_seen_at > written
    master.close()


async def test_a_failed_write_is_kept_visible_and_retried(url: str) -> None:
    master = Master(url)
    await master.start()
    real_run = master.db.run
    calls: list[int] = []

    async def broken(fn: Callable[..., Any]) -> Awaitable[Any]:
        calls.append(1)
        raise OSError("disk I/O error")

    master.db.run = broken  # type: ignore[method-assign]
    record, _link = master.hosts.attach(hello("hb"))
    assert not await master.store.flush()
    assert calls and record.dirty_full  # kept for the next try
    problem = master.store.writes.problem(float("inf"))
    assert problem is not None and "saving host states" in problem
    master.db.run = real_run  # type: ignore[method-assign]
    assert await master.store.flush()
    assert master.store.writes.problem(float("inf")) is None
    assert master.rows()["hb"].state == "WORKER_STATE_ONLINE"
    master.close()


async def test_forget_removes_the_host_for_good(url: str) -> None:
    master = Master(url)
    await master.start()
    record, link = master.hosts.attach(hello("hb"))
    master.hosts.attach(hello("hc"))
    master.hosts.detach(record, link, "connection lost")
    assert await master.store.flush()
    forgotten = await master.store.forget("hb")
    assert forgotten is record
    assert "hb" not in master.hosts.hosts
    assert set(master.rows()) == {"hc"}
    assert await master.store.forget("hb") is None
    master.close()

    again = Master(url)
    await again.start()
    assert set(again.hosts.hosts) == {"hc"}
    again.close()
