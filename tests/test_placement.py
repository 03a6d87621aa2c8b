"""Placement with a real master and real workers: new accounts go to the
least-loaded worker without moving others, pinning follows its worker,
disabling revokes; ListAccounts pages in id order with filters."""

from __future__ import annotations

from collections import Counter

from hiscrm.v1 import common_pb2, control_pb2
from tests.delivery_helpers import account, create, synthetic_spec
from tests.harness import Cluster, wait_for

RUNNING = common_pb2.RUN_STATE_RUNNING


def _where(cluster: Cluster) -> dict[str, str]:
    listed = cluster.call("ListAccounts", control_pb2.ListAccountsRequest(page_size=1000))
    return {a.account_id: a.worker_id for a in listed.accounts}  # type: ignore[attr-defined]


def _settled(cluster: Cluster, ids: list[str]) -> dict[str, str] | None:
    accounts = [account(cluster, i) for i in ids]
    if all(a.state == RUNNING and a.acked_config_version == a.config_version for a in accounts):
        return {a.account_id: a.worker_id for a in accounts}
    return None


def test_placement_pinning_and_disable(cluster: Cluster) -> None:
    cluster.start_master()
    for worker_id in ("w1", "w2"):
        cluster.start_worker(worker_id)
    for worker_id in ("w1", "w2"):
        cluster.wait_worker_state(worker_id, common_pb2.WORKER_STATE_ONLINE)
    first = [f"p{i}" for i in range(4)]
    for account_id in first:
        create(cluster, account_id, synthetic_spec(rate=0.5, total=10_000, interval_ms=500))
    before = wait_for(lambda: _settled(cluster, first), what="4 accounts running")
    assert Counter(before.values()) == {"w1": 2, "w2": 2}

    # a new account lands on a least-loaded worker; nobody else moves
    create(cluster, "p4", synthetic_spec(rate=0.5, total=10_000, interval_ms=500))
    after = wait_for(lambda: _settled(cluster, [*first, "p4"]), what="p4 running")
    assert {k: after[k] for k in first} == before

    # pinned to the other worker: it moves there, and only it
    pinned = "p0"
    target = "w2" if before[pinned] == "w1" else "w1"
    cluster.call(
        "AssignAccount", control_pb2.AssignAccountRequest(account_id=pinned, worker_id=target)
    )
    moved = wait_for(
        lambda: (s := _settled(cluster, [*first, "p4"])) and s[pinned] == target and s,
        what="pinned account on its worker",
    )
    assert {k: moved[k] for k in first[1:]} == {k: after[k] for k in first[1:]}

    # its worker gone: the account runs elsewhere rather than not at all; back when it returns
    cluster.workers[target].kill9()
    other = "w1" if target == "w2" else "w2"
    wait_for(
        lambda: (s := _settled(cluster, [pinned])) and s[pinned] == other,
        what="pinned account running elsewhere while its worker is away",
    )
    cluster.start_worker(target)
    wait_for(
        lambda: (s := _settled(cluster, [pinned])) and s[pinned] == target,
        what="pinned account back on its worker",
    )

    # disabled: revoked and held by nobody; enabled again: placed again
    update = control_pb2.UpdateAccountRequest(
        account_id="p1", spec=common_pb2.AccountSpec(enabled=False)
    )
    update.update_mask.paths.append("enabled")
    cluster.call("UpdateAccount", update)
    wait_for(
        lambda: (
            (a := account(cluster, "p1")).state == common_pb2.RUN_STATE_DISABLED and not a.worker_id
        ),
        what="p1 disabled and unassigned",
    )
    update.spec.enabled = True
    cluster.call("UpdateAccount", update)
    wait_for(lambda: _settled(cluster, ["p1"]), what="p1 running again")
    holders = [
        w.worker_id for w in cluster.call("ListWorkers", control_pb2.ListWorkersRequest()).workers
    ]  # type: ignore[attr-defined]
    assert sorted(holders) == ["w1", "w2"]


def test_list_accounts_pages_in_order_with_filters(cluster: Cluster) -> None:
    cluster.start_master()
    ids = [f"acc-{n:02d}" for n in range(25)]
    for n, account_id in enumerate(reversed(ids)):
        spec = synthetic_spec(rate=1, total=1)
        spec.enabled = n % 5 != 0
        create(cluster, account_id, spec)
    cluster.call("DeleteAccount", control_pb2.DeleteAccountRequest(account_id="acc-07"))
    create(cluster, "acc-07b", synthetic_spec(rate=1, total=1))
    expected = sorted([*(i for i in ids if i != "acc-07"), "acc-07b"])

    def pages(**filters: object) -> list[list[str]]:
        found, token = [], ""
        while True:
            reply = cluster.call(
                "ListAccounts",
                control_pb2.ListAccountsRequest(page_size=10, page_token=token, **filters),
            )
            found.append([a.account_id for a in reply.accounts])  # type: ignore[attr-defined]
            token = reply.next_page_token  # type: ignore[attr-defined]
            if not token:
                return found

    got = pages()
    assert [len(p) for p in got] == [10, 10, 5]
    assert [i for p in got for i in p] == expected
    disabled = [i for p in pages(states=[common_pb2.RUN_STATE_DISABLED]) for i in p]
    assert disabled == sorted(ids[24 - n] for n in range(0, 25, 5))
    assert pages(worker_id="nobody") == [[]]
    # 20 unassigned accounts fill exactly two pages: no empty third page
    assert [len(p) for p in pages(states=[common_pb2.RUN_STATE_UNASSIGNED])] == [10, 10]
    assert _where(cluster).keys() == set(expected)
