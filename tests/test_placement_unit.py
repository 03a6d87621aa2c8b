"""master/placement.py: the pure placement decisions."""

from __future__ import annotations

from collections import Counter

from hiscrm.v1 import common_pb2
from master import placement
from master.registry import WorkerRecord
from master.store.models import AccountRow

DY = common_pb2.PLATFORM_DOUYIN
XHS = common_pb2.PLATFORM_XIAOHONGSHU


def worker(worker_id: str, platforms: list[int], max_accounts: int = 20) -> WorkerRecord:
    return WorkerRecord(worker_id=worker_id, platforms=platforms, max_accounts=max_accounts)


def account(account_id: str, platform: int = DY, pinned: str | None = None) -> AccountRow:
    return AccountRow(
        account_id=account_id,
        platform=common_pb2.Platform.Name(platform),
        pinned_worker_id=pinned,
        fingerprint_seed="s",
    )


def test_place_spreads_evenly_and_respects_capacity_and_platforms() -> None:
    online = {
        "w1": worker("w1", [DY]),
        "w2": worker("w2", [DY, XHS], max_accounts=3),
        "w3": worker("w3", [XHS]),
    }
    waiting = [account(f"dy-{i}") for i in range(10)] + [account(f"x-{i}", XHS) for i in range(4)]
    loads = {w: 0 for w in online}
    placed = placement.place(waiting, online, loads)
    where = {row.account_id: w for row, w in placed}
    assert len(where) == 14
    assert all(where[f"dy-{i}"] in ("w1", "w2") for i in range(10))
    assert all(where[f"x-{i}"] in ("w2", "w3") for i in range(4))
    counts = Counter(where.values())
    assert counts["w2"] == 3  # full, never over
    assert loads == dict(counts)


def test_place_leaves_waiting_when_every_worker_is_full() -> None:
    online = {"w1": worker("w1", [DY], max_accounts=2)}
    placed = placement.place([account(f"a{i}") for i in range(5)], online, {"w1": 0})
    assert len(placed) == 2


def test_pinned_account_goes_only_to_its_worker() -> None:
    online = {"w1": worker("w1", [DY]), "w2": worker("w2", [DY])}
    loads = {"w1": 0, "w2": 5}
    placed = placement.place([account("a", pinned="w2")], online, loads)
    assert [(r.account_id, w) for r, w in placed] == [("a", "w2")]
    # its worker away: it runs elsewhere rather than not at all
    assert [w for _, w in placement.place([account("b", pinned="gone")], online, loads)] == ["w1"]


def test_even_out_moves_the_minimum_and_skips_pinned_and_ineligible() -> None:
    online = {f"w{i}": worker(f"w{i}", [DY]) for i in range(4)}
    online["x"] = worker("x", [XHS])
    members = {w: [] for w in online}
    members["w0"] = [account(f"a{i}") for i in range(12)] + [account("p", pinned="w0")]
    moves = placement.even_out(online, members)
    assert sorted(len(members[f"w{i}"]) for i in range(4)) == [3, 3, 3, 4]
    assert members["x"] == []  # no Douyin account may go there
    assert len(moves) == 9  # 13 accounts over 4 workers: 9 leave w0, no more
    assert all(row.account_id != "p" for row, _, _ in moves)


def test_even_out_at_fleet_scale_converges() -> None:
    online = {f"w{i:04d}": worker(f"w{i:04d}", [DY]) for i in range(1000)}
    members = {w: [] for w in online}
    first = sorted(online)[:500]
    for n in range(10_000):
        members[first[n % 500]].append(account(f"a{n:05d}"))
    moves = placement.even_out(online, members)
    assert {len(m) for m in members.values()} == {10}
    assert len(moves) == 5000


def test_even_out_leaves_an_account_that_is_logging_in() -> None:
    """Its QR and page are on its worker: moved, the login would die there."""
    online = {"w1": worker("w1", [DY]), "w2": worker("w2", [DY])}
    logging_in = account("a0")
    logging_in.state = "RUN_STATE_LOGGING_IN"
    members = {"w1": [logging_in, account("a1"), account("a2")], "w2": []}
    moves = placement.even_out(online, members)
    assert [(row.account_id, busy, idle) for row, busy, idle in moves] == [("a1", "w1", "w2")]
    assert logging_in in members["w1"]
