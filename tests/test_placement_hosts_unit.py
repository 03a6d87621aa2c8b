"""master/placement.py with hosts (issue 17): a failed host's accounts
spread over the survivors, each host within its memory-derived cap; and
master/hosts.py's cap formula and worker spread."""

from __future__ import annotations

from collections import Counter

import pytest

from hiscrm.v1 import common_pb2, hosts_pb2
from master import placement
from master.hosts import HostRecord, account_cap, spread
from master.registry import WorkerRecord
from master.store.models import AccountRow

SYN = common_pb2.PLATFORM_SYNTHETIC
GIB = 1 << 30
MIB = 1 << 20


def worker(worker_id: str, max_accounts: int = 100) -> WorkerRecord:
    return WorkerRecord(worker_id=worker_id, platforms=[SYN], max_accounts=max_accounts)


def account(account_id: str) -> AccountRow:
    return AccountRow(
        account_id=account_id, platform=common_pb2.Platform.Name(SYN), fingerprint_seed="s"
    )


def fleet(layout: dict[str, int]) -> tuple[dict[str, WorkerRecord], placement.Hosts]:
    """layout: host id -> workers there, named <host>-w<n>."""
    online: dict[str, WorkerRecord] = {}
    hosts = placement.Hosts()
    for host, count in layout.items():
        for n in range(count):
            wid = f"{host}-w{n}"
            online[wid] = worker(wid)
            hosts.host_of[wid] = host
    return online, hosts


def by_host(placed: list[tuple[AccountRow, str]], hosts: placement.Hosts) -> Counter[str]:
    return Counter(hosts.host_of[w] for _, w in placed)


def test_a_failed_hosts_accounts_spread_over_every_survivor() -> None:
    # hosts b, c, d had 10 accounts on each worker; host a failed with 12
    online, hosts = fleet({"b": 2, "c": 2, "d": 2})
    loads = {w: 10 for w in online}
    placed = placement.place([account(f"a-{i}") for i in range(12)], online, loads, hosts)
    assert by_host(placed, hosts) == {"b": 4, "c": 4, "d": 4}
    assert set(loads.values()) == {12}


def test_equal_workers_break_ties_by_the_less_loaded_host() -> None:
    # every worker equally loaded, but host b holds more in all: the single
    # waiting account goes to host c, not to b (where the worker id sorts first)
    online, hosts = fleet({"b": 3, "c": 1})
    loads = {w: 5 for w in online}
    placed = placement.place([account("x")], online, loads, hosts)
    assert by_host(placed, hosts) == {"c": 1}


def test_a_host_never_goes_over_its_cap() -> None:
    online, hosts = fleet({"b": 2, "c": 2})
    hosts.caps = {"b": 5}  # c has no cap (no memory reported)
    loads = {w: 0 for w in online}
    placed = placement.place([account(f"a-{i}") for i in range(20)], online, loads, hosts)
    counts = by_host(placed, hosts)
    assert counts["b"] == 5
    assert counts["c"] == 15
    # nothing more fits on b, even when its workers are the least loaded
    more = placement.place(
        [account("late")], online, {"b-w0": 3, "b-w1": 2, "c-w0": 9, "c-w1": 9}, hosts
    )
    assert [w for _, w in more] in (["c-w0"], ["c-w1"])


def test_every_host_full_leaves_accounts_waiting() -> None:
    online, hosts = fleet({"b": 1, "c": 1})
    hosts.caps = {"b": 2, "c": 3}
    placed = placement.place(
        [account(f"a-{i}") for i in range(9)], online, {w: 0 for w in online}, hosts
    )
    assert by_host(placed, hosts) == {"b": 2, "c": 3}


def test_even_out_moves_no_account_onto_a_full_host() -> None:
    online, hosts = fleet({"b": 1, "c": 1})
    hosts.caps = {"c": 2}
    members = {
        "b-w0": [account(f"a-{i}") for i in range(10)],
        "c-w0": [account("c-0"), account("c-1")],
    }
    moves = placement.even_out(online, members, hosts)
    assert moves == []
    hosts.caps = {"c": 4}
    moves = placement.even_out(online, members, hosts)
    assert len(moves) == 2 and len(members["c-w0"]) == 4


def test_account_cap_from_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISCRM_HOST_ACCOUNT_MIB", "64")
    monkeypatch.setenv("HISCRM_HOST_RESERVE_MIB", "1024")
    assert account_cap(hosts_pb2.HostResources(memory_total_bytes=24 * GIB)) == (23 * 1024) // 64
    assert account_cap(hosts_pb2.HostResources(memory_total_bytes=512 * MIB)) == 1
    assert account_cap(hosts_pb2.HostResources()) == 0  # not reported yet: no cap


def test_spread_shares_workers_by_free_memory_within_slots() -> None:
    def host(host_id: str, free_gib: int, slots: int) -> HostRecord:
        return HostRecord(
            host_id=host_id,
            slots=slots,
            resources=hosts_pb2.HostResources(memory_available_bytes=free_gib * GIB),
        )

    assert spread(6, [host("b", 8, 16), host("c", 4, 16)]) == {"b": 4, "c": 2}
    assert spread(6, [host("b", 8, 1), host("c", 4, 16)]) == {"b": 1, "c": 5}
    assert spread(40, [host("b", 8, 2), host("c", 4, 3)]) == {"b": 2, "c": 3}
