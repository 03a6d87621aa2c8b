"""What a worker and the master say about each other when the other one
restarts, is killed or stops: no leaked tasks, no misleading hints, no stale
figures."""

from __future__ import annotations

import os
import re
import signal

from hiscrm.v1 import common_pb2
from tests.delivery_helpers import account, create, synthetic_spec
from tests.harness import Cluster, wait_for

ONLINE = common_pb2.WORKER_STATE_ONLINE
OFFLINE = common_pb2.WORKER_STATE_OFFLINE
MISSING = common_pb2.WORKER_STATE_MISSING

LEAKED_TASK = "Task was destroyed but it is pending"
# the transport's anonymous cancellation used to be explained as an oversized frame
OVERSIZE_HINTS = ("RESOURCE_EXHAUSTED", "hard limit", "oversized", "over gRPC")


def _connections(cluster: Cluster, worker_id: str) -> int:
    return cluster.workers[worker_id].log_text().count(f"worker {worker_id}: connected to")


def test_reconnects_leak_no_task_and_kill9_gives_no_oversize_hint(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("worker-0")
    cluster.wait_worker_state("worker-0", ONLINE, timeout=60)

    # the master restarts gracefully twice, then dies with kill -9
    for restart in range(3):
        before = _connections(cluster, "worker-0")
        assert cluster.master is not None
        if restart < 2:
            cluster.master.stop()
        else:
            cluster.master.kill9()
        cluster.start_master()
        wait_for(
            lambda before=before: _connections(cluster, "worker-0") > before,
            timeout=60,
            what="worker-0 reconnected",
        )
        cluster.wait_worker_state("worker-0", ONLINE, timeout=60)

    # the worker dies with kill -9: the master sees its stream go away
    master_log_before = cluster.master.log_text() if cluster.master else ""
    cluster.workers["worker-0"].kill9()
    cluster.wait_worker_state("worker-0", MISSING, timeout=60)
    assert cluster.master is not None
    master_said = cluster.master.log_text()[len(master_log_before) :]
    assert "worker-0" in master_said
    assert not [h for h in OVERSIZE_HINTS if h in master_said], master_said

    # a new worker process under the same id, stopped gracefully: the whole
    # log of reconnects and a clean exit holds no leaked task
    cluster.start_worker("worker-0")
    cluster.wait_worker_state("worker-0", ONLINE, timeout=60)
    cluster.master.kill9()
    cluster.start_master()
    cluster.wait_worker_state("worker-0", ONLINE, timeout=60)
    assert cluster.workers["worker-0"].stop() == 0
    worker_log = cluster.workers["worker-0"].log_text()
    assert worker_log.count("worker worker-0: connected to") >= 6
    assert LEAKED_TASK not in worker_log, worker_log[-5000:]
    assert not [h for h in OVERSIZE_HINTS if h in worker_log], worker_log[-5000:]


def test_a_stopped_worker_shows_no_stale_figures(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("worker-0")
    cluster.wait_worker_state("worker-0", ONLINE, timeout=60)
    wait_for(
        lambda: cluster.workers_by_id()["worker-0"].stats.rss_bytes > 0,
        timeout=60,
        what="worker-0 reports its memory",
    )
    cluster.workers["worker-0"].stop()
    stopped = cluster.wait_worker_state("worker-0", OFFLINE, timeout=60)
    assert stopped.stats == common_pb2.ProcessStats(), stopped.stats
    # and after a master restart too (the figures are stored)
    assert cluster.master is not None
    cluster.master.stop()
    cluster.start_master()
    assert cluster.workers_by_id()["worker-0"].stats == common_pb2.ProcessStats()


def test_a_master_restart_moves_no_account(cluster: Cluster) -> None:
    """Workers online when the master stopped get the usual silence
    allowance from its new start: the first one back does not take every
    account only for the others' to be revoked when they return."""
    cluster.start_master()
    for wid in ("keep-w1", "keep-w2", "keep-w3"):
        cluster.start_worker(wid)
    for wid in ("keep-w1", "keep-w2", "keep-w3"):
        cluster.wait_worker_state(wid, ONLINE)
    ids = [f"keep-a{n}" for n in range(9)]
    for account_id in ids:
        create(cluster, account_id, synthetic_spec(rate=1, total=1, interval_ms=1000))

    def placed() -> dict[str, str] | None:
        where = {a: account(cluster, a).worker_id for a in ids}
        counts = sorted(list(where.values()).count(w) for w in set(where.values()))
        return where if all(where.values()) and counts == [3, 3, 3] else None

    before = wait_for(placed, timeout=60, what="nine accounts on three workers")
    assert cluster.master is not None
    cluster.master.stop()
    # The stopping master saw its workers' streams close; it must not have
    # released their accounts (stored, that would leave the next master
    # nothing to hold back for them).
    stopping = cluster.master.log_text().split("master stopping", 1)[1]
    assert "rebalanced" not in stopping, stopping[-3000:]
    cluster.start_master()
    for wid in ("keep-w1", "keep-w2", "keep-w3"):
        cluster.wait_worker_state(wid, ONLINE)
    after = wait_for(placed, timeout=60, what="the accounts placed again")
    assert after == before
    log = cluster.master.log_text()  # type: ignore[union-attr]
    assert "revoking" not in log and "(reassigned)" not in log, log[-3000:]


def test_sigusr1_logs_where_every_task_waits(cluster: Cluster) -> None:
    master = cluster.start_master()
    worker = cluster.start_worker("dump-w")
    cluster.wait_worker_state("dump-w", ONLINE)
    for proc, context in ((worker, "worker dump-w"), (master, "master")):
        os.kill(proc.pid, signal.SIGUSR1)
        marker = re.compile(rf"{context}: \d+ asyncio tasks\n--- ")
        wait_for(lambda: marker.search(proc.log_text()), what=f"the {context} task dump")  # noqa: B023  # used within this turn
        assert proc.alive()
