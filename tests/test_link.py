"""Master and workers as real processes on loopback: registration, liveness,
reconnects, authentication and frame limits."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2, gateway_pb2_grpc
from hiscrm_common.channel import open_channel
from tests.harness import Cluster, wait_for

ONLINE = common_pb2.WORKER_STATE_ONLINE
MISSING = common_pb2.WORKER_STATE_MISSING
OFFLINE = common_pb2.WORKER_STATE_OFFLINE


def test_two_workers_online_with_memory(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("worker-a")
    cluster.start_worker("worker-b")
    for wid in ("worker-a", "worker-b"):
        worker = cluster.wait_worker_state(wid, ONLINE)
        assert worker.pid == cluster.workers[wid].pid

    # heartbeats carry the process tree's memory
    def both_have_memory() -> bool:
        ws = cluster.workers_by_id()
        return all(ws[w].stats.rss_bytes > 10_000_000 for w in ("worker-a", "worker-b"))

    wait_for(both_have_memory, what="memory figures")
    stats = cluster.call("GetStats", control_pb2.GetStatsRequest())
    assert stats.workers_by_state["WORKER_STATE_ONLINE"] == 2
    assert stats.database == "sqlite"
    got = cluster.call("GetWorker", control_pb2.GetWorkerRequest(worker_id="worker-a"))
    assert got.worker_id == "worker-a" and got.last_heartbeat_at.seconds > 0
    with pytest.raises(grpc.RpcError) as err:
        cluster.call("GetWorker", control_pb2.GetWorkerRequest(worker_id="nope"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_killed_worker_goes_missing_then_offline_and_returns(cluster: Cluster) -> None:
    cluster.start_master()
    proc = cluster.start_worker("worker-k")
    cluster.wait_worker_state("worker-k", ONLINE)
    proc.kill9()
    cluster.wait_worker_state("worker-k", MISSING)
    cluster.wait_worker_state("worker-k", OFFLINE)
    again = cluster.start_worker("worker-k")
    worker = cluster.wait_worker_state("worker-k", ONLINE)
    assert worker.pid == again.pid
    assert worker.connections == 2


def test_clean_stop_goes_offline_at_once(cluster: Cluster) -> None:
    cluster.start_master(HISCRM_OFFLINE_AFTER_MS="600000")
    proc = cluster.start_worker("worker-s")
    cluster.wait_worker_state("worker-s", ONLINE)
    assert proc.stop() == 0
    cluster.wait_worker_state("worker-s", OFFLINE)
    assert "said goodbye" in cluster.master.log_text()  # type: ignore[union-attr]


def test_workers_reconnect_after_master_restart(cluster: Cluster) -> None:
    master = cluster.start_master()
    cluster.start_worker("worker-r1")
    cluster.start_worker("worker-r2")
    cluster.wait_worker_state("worker-r1", ONLINE)
    cluster.wait_worker_state("worker-r2", ONLINE)
    master.stop()
    cluster.start_master()
    for wid in ("worker-r1", "worker-r2"):
        worker = cluster.wait_worker_state(wid, ONLINE)
        assert worker.connections == 2
    assert "reconnecting" in cluster.workers["worker-r1"].log_text()


def test_duplicate_worker_id_is_refused(cluster: Cluster) -> None:
    cluster.start_master()
    first = cluster.start_worker("worker-d")
    cluster.wait_worker_state("worker-d", ONLINE)
    second = cluster.start_worker("worker-d")  # shares worker-d.log with the first
    wait_for(
        lambda: "ALREADY_EXISTS" in second.log_text(), what="ALREADY_EXISTS in the duplicate's log"
    )
    assert cluster.workers_by_id()["worker-d"].pid == first.pid


def test_wrong_or_missing_token_is_unauthenticated(cluster: Cluster) -> None:
    cluster.start_master()
    stub = cluster.control()
    for metadata in ([], [("authorization", "Bearer wrong")]):
        with pytest.raises(grpc.RpcError) as err:
            stub.ListWorkers(control_pb2.ListWorkersRequest(), metadata=metadata, timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "token" in err.value.details()
    proc = cluster.start_worker("worker-t", HISCRM_WORKER_CREDENTIAL="not-the-credential-" * 3)
    wait_for(lambda: "UNAUTHENTICATED" in proc.log_text(), what="worker told it is unauthenticated")
    assert "worker-t" not in cluster.workers_by_id()


async def _send_oversized(cluster: Cluster, size: int) -> grpc.aio.AioRpcError:
    async with open_channel(cluster.address, cluster.enrollment_token()) as channel:
        call = gateway_pb2_grpc.WorkerGatewayStub(channel).Connect()
        await call.write(
            gateway_pb2.WorkerFrame(
                register=gateway_pb2.Register(worker_id="raw", platforms=[1], max_accounts=1)
            )
        )
        welcome = await call.read()
        assert welcome.welcome.max_message_bytes == 65536
        item = common_pb2.Item(content="x" * size)
        await call.write(gateway_pb2.WorkerFrame(items=gateway_pb2.ItemsBatch(seq=1, items=[item])))
        try:
            while True:
                frame = await call.read()
                if frame is grpc.aio.EOF:
                    break
        except grpc.aio.AioRpcError as exc:
            return exc
        raise AssertionError(f"stream ended with {await call.code()}")


def test_oversized_frame_is_refused_loudly(cluster: Cluster) -> None:
    cluster.start_master(HISCRM_MAX_MESSAGE_BYTES="65536")
    err = asyncio.run(_send_oversized(cluster, 100_000))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "over the 65536-byte limit" in err.details()
    wait_for(
        lambda: "RESOURCE_EXHAUSTED" in cluster.master.log_text(),  # type: ignore[union-attr]
        what="the master logging the refused frame",
    )


async def _enroll_and_vanish(cluster: Cluster, worker_id: str) -> str:
    """Register with the enrollment token, take the Welcome (and the
    credential in it), and go before sending anything: killed just before or
    just after the credential was written down. Returns the credential."""
    async with open_channel(cluster.address, cluster.enrollment_token()) as channel:
        call = gateway_pb2_grpc.WorkerGatewayStub(channel).Connect()
        await call.write(
            gateway_pb2.WorkerFrame(
                register=gateway_pb2.Register(worker_id=worker_id, platforms=[1], max_accounts=1)
            )
        )
        welcome = await call.read()
        assert welcome.welcome.credential
        call.cancel()
        return str(welcome.welcome.credential)


def test_a_worker_gone_before_keeping_its_credential_enrolls_again(cluster: Cluster) -> None:
    cluster.start_master()
    asyncio.run(_enroll_and_vanish(cluster, "worker-v"))
    proc = cluster.start_worker("worker-v")  # no credential on disk: enrolls again
    # online as itself (the vanished stream showed online with pid 0 for a moment)
    wait_for(lambda: _online_as(cluster, "worker-v", proc.pid), timeout=60, what="worker-v online")


def test_a_worker_gone_after_keeping_its_credential_connects_with_it(cluster: Cluster) -> None:
    """The other side of the same moment: the credential was written down, so
    the worker's next start uses it, and it must still be valid."""
    cluster.start_master()
    credential = asyncio.run(_enroll_and_vanish(cluster, "worker-k"))
    proc = cluster.start_worker("worker-k", HISCRM_WORKER_CREDENTIAL=credential)
    wait_for(lambda: _online_as(cluster, "worker-k", proc.pid), timeout=60, what="worker-k online")
    # used once, it is confirmed: the enrollment token cannot take the id any more
    proc.stop()
    cluster.wait_worker_state("worker-k", OFFLINE)
    assert "already enrolled" in asyncio.run(_refused_enrollment(cluster, "worker-k"))


def test_whether_a_credential_was_kept_survives_a_master_restart(cluster: Cluster) -> None:
    """A credential handed over but never used may still be replaced after
    the master restarts; one that was used may not, and its last use shows."""
    cluster.start_master()
    asyncio.run(_enroll_and_vanish(cluster, "worker-n"))  # never used
    kept = asyncio.run(_enroll_and_vanish(cluster, "worker-u"))
    used = cluster.start_worker("worker-u", HISCRM_WORKER_CREDENTIAL=kept)
    wait_for(lambda: _online_as(cluster, "worker-u", used.pid), timeout=60, what="worker-u online")
    used.stop()
    cluster.wait_worker_state("worker-u", OFFLINE)
    assert cluster.master is not None
    cluster.master.stop()
    cluster.start_master()

    assert "already enrolled" in asyncio.run(_refused_enrollment(cluster, "worker-u"))
    tokens = cluster.call("ListTokens", control_pb2.ListTokensRequest()).tokens
    last_use = {t.name: t.last_used_at.seconds for t in tokens}  # type: ignore[attr-defined]
    assert last_use["worker:worker-u"] > 0 and last_use["worker:worker-n"] == 0
    fresh = cluster.start_worker("worker-n")  # no credential on disk: enrolls again
    wait_for(lambda: _online_as(cluster, "worker-n", fresh.pid), timeout=60, what="worker-n online")
    names = [t.name for t in cluster.call("ListTokens", control_pb2.ListTokensRequest()).tokens]  # type: ignore[attr-defined]
    assert names.count("worker:worker-n") == 1  # the unkept one was replaced, not doubled


def _online_as(cluster: Cluster, worker_id: str, pid: int) -> bool:
    worker = cluster.workers_by_id().get(worker_id)
    return worker is not None and worker.state == ONLINE and worker.pid == pid


async def _refused_enrollment(cluster: Cluster, worker_id: str) -> str:
    async with open_channel(cluster.address, cluster.enrollment_token()) as channel:
        call = gateway_pb2_grpc.WorkerGatewayStub(channel).Connect()
        await call.write(
            gateway_pb2.WorkerFrame(
                register=gateway_pb2.Register(worker_id=worker_id, platforms=[1], max_accounts=1)
            )
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call.read()
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        return str(refused.value.details())
