"""The faults of issue 13 from outside, with a hand-written worker next to a
real one: a newer enum, an absurd number, an oversized field, a second
Register, ghost registrations. Each is a typed refusal of that one frame or
item, seen where an operator looks (GetStats, the log), while the real
worker's items keep arriving: 0 lost, 0 duplicated."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from tests.delivery_helpers import create, stored_ids, synthetic_spec
from tests.harness import Cluster, wait_for
from tests.raw_worker import RawWorker, item, register

ONLINE = common_pb2.WORKER_STATE_ONLINE


def expected_ids(account_id: str, total: int) -> set[tuple[str, str]]:
    return {(account_id, f"{account_id}-{n}") for n in range(total)}


def rows_of(cluster: Cluster, account_id: str) -> list[tuple[str, str]]:
    return [r for r in stored_ids(cluster) if r[0] == account_id]


def stats(cluster: Cluster) -> control_pb2.Stats:
    return cluster.call("GetStats", control_pb2.GetStatsRequest())  # type: ignore[return-value]


def serving(cluster: Cluster) -> bool:
    stub = health_pb2_grpc.HealthStub(cluster.channel())
    status = stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status
    return status == health_pb2.HealthCheckResponse.SERVING


def list_everything(cluster: Cluster) -> int:
    """Every List RPC, every page; returns the number of items listed."""
    cluster.call("ListWorkers", control_pb2.ListWorkersRequest())
    token = ""
    while True:
        page = cluster.call("ListAccounts", control_pb2.ListAccountsRequest(page_token=token))
        token = page.next_page_token  # type: ignore[attr-defined]
        if not token:
            break
    listed, token = 0, ""
    while True:
        page = cluster.call(
            "ListItems", control_pb2.ListItemsRequest(page_size=1000, page_token=token)
        )
        listed += len(page.items)  # type: ignore[attr-defined]
        token = page.next_page_token  # type: ignore[attr-defined]
        if not token:
            return listed


def pinned_account(cluster: Cluster, account_id: str, worker_id: str) -> None:
    spec = synthetic_spec(rate=1, total=1)
    spec.enabled = False
    create(cluster, account_id, spec)
    cluster.call(
        "AssignAccount",
        control_pb2.AssignAccountRequest(account_id=account_id, worker_id=worker_id),
    )
    cluster.call(
        "UpdateAccount",
        control_pb2.UpdateAccountRequest(
            account_id=account_id,
            spec=common_pb2.AccountSpec(enabled=True),
            update_mask={"paths": ["enabled"]},
        ),
    )


def batch(seq: int, account_id: str, *items: common_pb2.Item) -> gateway_pb2.WorkerFrame:
    return gateway_pb2.WorkerFrame(
        items=gateway_pb2.ItemsBatch(seq=seq, account_id=account_id, items=items)
    )


def test_hostile_frames_are_refused_one_by_one_and_nothing_is_lost(cluster: Cluster) -> None:
    total = 400
    cluster.start_master()
    cluster.start_worker("real-1")
    cluster.wait_worker_state("real-1", ONLINE)
    raw = RawWorker(cluster, register("raw-1"))
    raw.welcomed()
    pinned_account(cluster, "raw-acc", "raw-1")
    raw.assigned("raw-acc")
    create(cluster, "real-acc", synthetic_spec(rate=200, total=total))

    # an unknown kind (a newer worker) and a 1 MB comment next to a good item:
    # those two are refused by index, none of the batch is stored
    raw.send(
        batch(
            1,
            "raw-acc",
            item("raw-acc", 0, kind=99),
            item("raw-acc", 1),
            item("raw-acc", 2, content="x" * (1 << 20)),
        )
    )
    nack = raw.wait("nack", lambda n: n.seq == 1)
    assert list(nack.item_indexes) == [0, 2]  # type: ignore[attr-defined]
    assert nack.kind == common_pb2.ERROR_KIND_INVALID_REQUEST  # type: ignore[attr-defined]
    assert "Item.kind=99" in nack.reason  # type: ignore[attr-defined]
    # the worker sends the rest again, in a new batch
    raw.send(batch(2, "raw-acc", item("raw-acc", 1)))
    ack = raw.wait("ack", lambda a: a.seq == 2)
    assert ack.stored == 1  # type: ignore[attr-defined]

    # frames that must not touch state: each refused alone, the stream goes on
    hostile = [
        gateway_pb2.WorkerFrame(heartbeat=gateway_pb2.Heartbeat(outbox_pending=2**64 - 1)),
        gateway_pb2.WorkerFrame(
            account_state=gateway_pb2.AccountState(account_id="raw-acc", state=99)
        ),
        gateway_pb2.WorkerFrame(
            account_state=gateway_pb2.AccountState(
                account_id="raw-acc",
                state=common_pb2.RUN_STATE_ERROR,
                reason="r" * (7 << 20),
            )
        ),
        register("raw-1"),  # a second Register
        gateway_pb2.WorkerFrame(),  # no frame field set (a newer frame kind)
        gateway_pb2.WorkerFrame(
            config_ack=gateway_pb2.ConfigAck(account_id="raw-acc", config_version=-5)
        ),
    ]
    rejected_before = stats(cluster).frames_rejected
    for frame in hostile:
        raw.send(frame)
    raw.send(batch(3, "raw-acc", item("raw-acc", 3)))
    raw.wait("ack", lambda a: a.seq == 3)
    assert not raw.ended.is_set()
    wait_for(
        lambda: stats(cluster).frames_rejected >= rejected_before + len(hostile),
        what="every hostile frame counted",
    )

    # a Control request over its limit: INVALID_ARGUMENT, nothing stored
    with pytest.raises(grpc.RpcError) as refused:
        create(
            cluster,
            "huge-name",
            common_pb2.AccountSpec(
                platform=common_pb2.PLATFORM_DEMO,
                demo=common_pb2.DemoOptions(base_url="http://x:1", username="u" * (1 << 20)),
            ),
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "username" in refused.value.details()

    wait_for(lambda: len(rows_of(cluster, "real-acc")) == total, timeout=90, what="real items")
    assert set(rows_of(cluster, "real-acc")) == expected_ids("real-acc", total)
    assert sorted(rows_of(cluster, "raw-acc")) == [
        ("raw-acc", "raw-acc-1"),
        ("raw-acc", "raw-acc-3"),
    ]
    s = stats(cluster)
    assert s.items_refused == 2
    assert sum(s.task_failures.values()) == 0, dict(s.task_failures)
    assert list(s.problems) == []
    assert serving(cluster)
    assert list_everything(cluster) == total + 2
    workers = cluster.workers_by_id()
    assert workers["raw-1"].outbox_pending == 0  # the absurd heartbeat never landed
    log = cluster.master.log_text()  # type: ignore[union-attr]
    assert "Item.kind=99 is not a ItemKind this master knows" in log
    assert "heartbeat frame refused: Heartbeat.outbox_pending=18446744073709551615" in log
    raw.close()

    # the rows written meanwhile are sane: a restarted master reads them all
    cluster.master.stop()  # type: ignore[union-attr]
    cluster.start_master()
    # (raw-acc may run on real-1 by now, its pinned worker being gone)
    assert list_everything(cluster) == len(stored_ids(cluster)) >= total + 2
    assert cluster.workers_by_id()["raw-1"].outbox_pending == 0


def test_ghost_registrations_are_refused_and_failover_still_works(cluster: Cluster) -> None:
    total = 600
    cluster.start_master()
    ghosts = [
        register("ghost-platform", platforms=[99]),
        register("ghost-platform-2", platforms=[common_pb2.PLATFORM_SYNTHETIC, 7]),
        register("ghost-outbox", outbox_pending=2**64 - 1),
        register("ghost-version", version="v" * 100_000),
        register("ghost-host", host="h" * 100_000),
        register("ghost-held", held_accounts=[gateway_pb2.HeldAccount(account_id="a" * 5000)]),
        register("bad id with spaces"),
    ] + [register(f"ghost-{i}", platforms=[50 + i]) for i in range(12)]
    for frame in ghosts:
        raw = RawWorker(cluster, frame)
        raw.ended.wait(15)
        assert raw.error is not None, frame.register.worker_id
        assert raw.error.code() == grpc.StatusCode.INVALID_ARGUMENT, raw.error.details()
    assert cluster.workers_by_id() == {}  # no ghost, ONLINE or otherwise

    w1 = cluster.start_worker("fo-1")
    cluster.wait_worker_state("fo-1", ONLINE)
    create(cluster, "fo-acc", synthetic_spec(rate=100, total=total))
    wait_for(lambda: len(rows_of(cluster, "fo-acc")) >= total // 4, timeout=60, what="first items")
    cluster.start_worker("fo-2")
    cluster.wait_worker_state("fo-2", ONLINE)
    w1.kill9()
    cluster.wait_worker_state("fo-1", common_pb2.WORKER_STATE_MISSING)
    wait_for(lambda: len(rows_of(cluster, "fo-acc")) == total, timeout=120, what="all items")
    assert set(rows_of(cluster, "fo-acc")) == expected_ids("fo-acc", total)
    s = stats(cluster)
    assert s.frames_rejected >= len(ghosts)
    assert sum(s.task_failures.values()) == 0, dict(s.task_failures)
    assert sorted(cluster.workers_by_id()) == ["fo-1", "fo-2"]
    assert serving(cluster)
