"""Unit tests for the worker's durable outbox (invariant 1: nothing is lost silently)."""

import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.outbox import Outbox, _varint_len, frame_size, item_key

BIG = 1 << 30


def make_item(
    account: str = "acc-1",
    n: int = 0,
    content: str = "hello",
    kind: int = common_pb2.ITEM_KIND_COMMENT,
) -> common_pb2.Item:
    return common_pb2.Item(
        platform=common_pb2.PLATFORM_DEMO,
        account_id=account,
        kind=kind,
        platform_item_id=f"{account}-{n}",
        author_name="someone",
        content=content,
    )


def ids(items: object) -> list[str]:
    return [i.platform_item_id for i in items]  # type: ignore[attr-defined]


def all_batches(ob: Outbox, **limits: int) -> list[gateway_pb2.ItemsBatch]:
    limits.setdefault("max_batch_bytes", BIG)
    limits.setdefault("max_batch_items", 1000)
    return ob.next_batches(limit_batches=10_000, **limits)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sub" / "outbox.sqlite"


@pytest.fixture
def outbox(path: Path) -> Iterator[Outbox]:
    ob = Outbox(path)
    yield ob
    ob.close()


def test_file_is_wal(outbox: Outbox, path: Path) -> None:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_added_items_survive_reopen(path: Path) -> None:
    items = [make_item(n=i) for i in range(5)]
    with Outbox(path) as ob:
        assert ob.add(items).accepted == 5
    with Outbox(path) as ob:
        assert ob.pending_count() == 5
        (batch,) = all_batches(ob)
        assert list(batch.items) == items


def test_items_and_seqs_survive_a_crash(path: Path) -> None:
    # A process that dies without close(): committed data must be in the file.
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from hiscrm.v1 import common_pb2
        from worker.outbox import Outbox
        ob = Outbox(Path({str(path)!r}))
        ob.add([common_pb2.Item(account_id="a", platform_item_id=str(i)) for i in range(6)])
        batches = ob.next_batches(max_batch_bytes=1 << 20, max_batch_items=2, limit_batches=2)
        print(",".join(str(b.seq) for b in batches))
        os._exit(0)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1,2"
    with Outbox(path) as ob:
        assert ob.pending_count() == 6
        unacked = ob.unacked_batches()
        assert [(b.seq, ids(b.items)) for b in unacked] == [(1, ["0", "1"]), (2, ["2", "3"])]
        (rest,) = all_batches(ob)
        assert rest.seq == 3 and ids(rest.items) == ["4", "5"]


def test_assigned_batches_rebuilt_identically_after_reopen(path: Path) -> None:
    with Outbox(path) as ob:
        ob.add([make_item(acc, i, "x" * 100) for i in range(10) for acc in ("a", "b")])
        sent = ob.next_batches(max_batch_bytes=600, max_batch_items=3, limit_batches=5)
        assert len(sent) == 5
        assert ob.unacked_batches() == sorted(sent, key=lambda b: b.seq)
    with Outbox(path) as ob:
        rebuilt = ob.unacked_batches()
        assert [b.SerializeToString() for b in rebuilt] == [b.SerializeToString() for b in sent]
        # The rebuilt batches are not handed out again as new ones.
        fresh = all_batches(ob)
        seen = [i for b in rebuilt + fresh for i in ids(b.items)]
        assert sorted(seen) == sorted(set(seen)) and len(seen) == 20
        assert min(b.seq for b in fresh) == 6


def test_seq_is_monotonic_across_acks_and_restarts(path: Path) -> None:
    seqs: list[int] = []
    with Outbox(path) as ob:
        assert ob.last_seq() == 0
        ob.add([make_item(n=i) for i in range(3)])
        batches = all_batches(ob, max_batch_items=1)
        seqs += [b.seq for b in batches]
        assert ob.ack(batches[-1].seq) == 3
        assert ob.pending_count() == 0
        ob.add([make_item(n=10)])
        seqs += [b.seq for b in all_batches(ob)]
    with Outbox(path) as ob:
        assert ob.last_seq() == 4
        ob.add([make_item(n=11), make_item(n=12)])
        seqs += [b.seq for b in all_batches(ob, max_batch_items=1)]
    assert seqs == [1, 2, 3, 4, 5, 6]


def test_chunks_by_bytes_tightly(outbox: Outbox) -> None:
    items = [make_item(n=i, content="é" * (100 + 13 * i)) for i in range(60)]
    outbox.add(items)
    limit = 4096
    batches = all_batches(outbox, max_batch_bytes=limit)
    assert len(batches) > 5
    got = [i for b in batches for i in b.items]
    assert got == items  # every item exactly once, in order
    for b, nxt in zip(batches, [*batches[1:], None], strict=True):
        assert frame_size(b) <= limit
        if nxt is not None:
            # Not needlessly small: the next item would not have fitted.
            bigger = gateway_pb2.ItemsBatch()
            bigger.CopyFrom(b)
            bigger.items.append(nxt.items[0])
            assert frame_size(bigger) > limit


def test_chunk_size_edge_is_exact(outbox: Outbox) -> None:
    # A limit exactly equal to a two-item frame must give two-item batches.
    items = [make_item(n=i, content="z" * 200) for i in range(4)]
    outbox.add(items)
    probe = gateway_pb2.ItemsBatch(seq=1, account_id="acc-1", items=items[:2])
    limit = frame_size(probe)
    batches = all_batches(outbox, max_batch_bytes=limit)
    assert [len(b.items) for b in batches] == [2, 2]
    assert all(frame_size(b) <= limit for b in batches)


def test_chunk_sizes_are_exact_for_many_limits(outbox: Outbox) -> None:
    # Item lengths straddle the 1- and 2-byte length prefixes, and seqs pass 127,
    # so any miscounted varint shows up as an oversized or needlessly split batch.
    items = [make_item(n=i, content="q" * (i * 7 % 260)) for i in range(40)]
    outbox.add(items)
    for limit in range(60, 1400, 9):
        outbox.reset_unsent()
        batches = all_batches(outbox, max_batch_bytes=limit)
        assert [i for b in batches for i in b.items] == items
        for b, nxt in zip(batches, [*batches[1:], None], strict=True):
            size = frame_size(b)
            assert size <= limit or len(b.items) == 1, (limit, b.seq)
            if nxt is not None:
                bigger = gateway_pb2.ItemsBatch()
                bigger.CopyFrom(b)
                bigger.items.append(nxt.items[0])
                assert frame_size(bigger) > limit, (limit, b.seq)
    assert outbox.last_seq() > 300


def test_varint_length_at_boundaries() -> None:
    for n in [0, 1, 127, 128, 129, 16383, 16384, 2**21 - 1, 2**21, 2**63]:
        assert _varint_len(n) == max(1, -(-n.bit_length() // 7)), n
        if 0 < n <= 2**21:  # cross-check against protobuf's own length prefix
            assert common_pb2.Item(platform_item_id="x" * n).ByteSize() == 1 + _varint_len(n) + n


def test_chunks_by_count(outbox: Outbox) -> None:
    items = [make_item(n=i) for i in range(25)]
    outbox.add(items)
    batches = all_batches(outbox, max_batch_items=10)
    assert [len(b.items) for b in batches] == [10, 10, 5]
    assert [i for b in batches for i in b.items] == items


def test_limit_batches_and_no_repeats(outbox: Outbox) -> None:
    outbox.add([make_item(n=i) for i in range(7)])
    first = outbox.next_batches(max_batch_bytes=BIG, max_batch_items=2, limit_batches=2)
    second = outbox.next_batches(max_batch_bytes=BIG, max_batch_items=2, limit_batches=2)
    third = outbox.next_batches(max_batch_bytes=BIG, max_batch_items=2, limit_batches=2)
    assert [len(x) for x in (first, second, third)] == [2, 2, 0]
    rest = all_batches(outbox, max_batch_items=2)
    seen = [i for b in first + second + third + rest for i in ids(b.items)]
    assert seen == [f"acc-1-{i}" for i in range(7)]
    assert outbox.next_batches(max_batch_bytes=BIG, max_batch_items=2, limit_batches=0) == []


def test_one_account_per_batch_in_order(outbox: Outbox) -> None:
    accounts = ["a", "b", "c"]
    items = [make_item(acc, i) for i in range(9) for acc in accounts]
    outbox.add(items)
    batches = all_batches(outbox, max_batch_items=4)
    assert [b.seq for b in batches] == list(range(1, len(batches) + 1))
    for acc in accounts:
        mine = [b for b in batches if b.account_id == acc]
        assert ids(i for b in mine for i in b.items) == [f"{acc}-{i}" for i in range(9)]
    for b in batches:
        assert b.items and all(i.account_id == b.account_id for i in b.items)
    # Accounts take turns rather than one draining first.
    assert [b.account_id for b in batches[:3]] == accounts


def test_ack_is_cumulative(outbox: Outbox) -> None:
    outbox.add([make_item(n=i) for i in range(6)])
    batches = all_batches(outbox, max_batch_items=2)
    assert [b.seq for b in batches] == [1, 2, 3]
    assert outbox.ack(2) == 4
    assert outbox.pending_count() == 2
    assert [(b.seq, ids(b.items)) for b in outbox.unacked_batches()] == [
        (3, ["acc-1-4", "acc-1-5"])
    ]
    assert outbox.ack(2) == 0
    assert outbox.ack(3) == 2
    assert outbox.pending_count() == 0
    assert outbox.unacked_batches() == []


def test_ack_leaves_unbatched_items(outbox: Outbox) -> None:
    outbox.add([make_item(n=0)])
    (b,) = all_batches(outbox)
    outbox.add([make_item(n=1)])
    assert outbox.ack(b.seq + 5) == 1
    assert ids(all_batches(outbox)[0].items) == ["acc-1-1"]


def test_acked_keys_are_not_resent(path: Path) -> None:
    with Outbox(path) as ob:
        ob.add([make_item(n=0), make_item(n=1)])
        (b,) = all_batches(ob)
        ob.ack(b.seq)
        r = ob.add([make_item(n=0), make_item(n=2)])
        assert (r.accepted, r.duplicates, r.refused) == (1, 1, 0)
    with Outbox(path) as ob:
        assert ob.add([make_item(n=1)]).duplicates == 1
        assert ob.pending_count() == 1


def test_delivered_keys_are_bounded(path: Path) -> None:
    with Outbox(path, delivered_keys=3) as ob:
        ob.add([make_item(n=i) for i in range(5)])
        ob.ack(all_batches(ob)[0].seq)
        # The two oldest deliveries are forgotten, the three newest remembered.
        r = ob.add([make_item(n=i) for i in range(5)])
        assert (r.accepted, r.duplicates) == (2, 3)
        assert ids(all_batches(ob)[0].items) == ["acc-1-0", "acc-1-1"]


def test_nack_removes_and_returns_items(outbox: Outbox) -> None:
    items = [make_item(n=i) for i in range(6)]
    outbox.add(items)
    batches = all_batches(outbox, max_batch_items=2)
    assert outbox.nack(batches[1].seq) == items[2:4]
    assert outbox.pending_count() == 4
    assert [b.seq for b in outbox.unacked_batches()] == [1, 3]
    assert outbox.nack(batches[1].seq) == []
    # A refused key is not "delivered": a later re-detection is accepted again.
    assert outbox.add([items[2]]).accepted == 1


def test_nack_of_some_items_removes_those_and_rebatches_the_rest_in_order(
    outbox: Outbox,
) -> None:
    items = [make_item(n=i) for i in range(5)]
    outbox.add(items)
    first = all_batches(outbox, max_batch_items=5)[0]
    assert outbox.batch_items(first.seq) == items
    assert outbox.nack(first.seq, [1, 3]) == [items[1], items[3]]
    assert outbox.pending_count() == 3
    assert outbox.unacked_batches() == []  # the rest lost its seq...
    again = all_batches(outbox, max_batch_items=5)
    assert again[0].seq > first.seq  # ...and goes out under a new one, in order
    assert list(again[0].items) == [items[0], items[2], items[4]]


def test_max_items_refuses_overflow_in_order(path: Path) -> None:
    items = [make_item(n=i) for i in range(8)]
    with Outbox(path, max_items=5) as ob:
        r = ob.add(items)
        assert (r.accepted, r.duplicates, r.refused) == (5, 0, 3)
        assert r.refused_items == items[5:]
        assert ob.pending_count() == 5
        # Still full: keys already pending are duplicates, new ones refused.
        r = ob.add([items[0], items[6]])
        assert (r.accepted, r.duplicates, r.refused) == (0, 1, 1)
        (b,) = all_batches(ob, max_batch_items=2)[:1]
        ob.ack(b.seq)
        r = ob.add(items[5:])
        assert (r.accepted, r.refused) == (2, 1)
        assert r.refused_items == items[7:]
    with Outbox(path, max_items=5) as ob:  # the count is rebuilt from the file
        assert ob.pending_count() == 5
        assert ob.add([items[7]]).refused == 1


def test_duplicates_of_pending_keys_are_skipped(outbox: Outbox) -> None:
    a = make_item(n=1)
    same_key = make_item(n=1, content="edited")
    other_kind = make_item(n=1, kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE)
    r = outbox.add([a, same_key, other_kind])
    assert (r.accepted, r.duplicates, r.refused) == (2, 1, 0)
    all_batches(outbox)  # batched but unacked is still pending
    assert outbox.add([a]).duplicates == 1
    assert outbox.pending_count() == 2


def test_items_without_identity_are_rejected(outbox: Outbox) -> None:
    with pytest.raises(ValueError):
        outbox.add([make_item(n=0), common_pb2.Item(account_id="acc-1")])
    assert outbox.pending_count() == 0


@pytest.mark.timeout(20)
def test_oversized_item_goes_alone_and_is_not_dropped(outbox: Outbox) -> None:
    items = [make_item(n=0), make_item(n=1, content="x" * 5000), make_item(n=2)]
    outbox.add(items)
    limit = 1000
    batches = all_batches(outbox, max_batch_bytes=limit)
    assert [ids(b.items) for b in batches] == [["acc-1-0"], ["acc-1-1"], ["acc-1-2"]]
    oversized = [b for b in batches if frame_size(b) > limit]
    assert [b.seq for b in oversized] == [2]
    assert ids(outbox.unacked_batches()[1].items) == ["acc-1-1"]
    assert outbox.pending_count() == 3


def test_pending_by_account(outbox: Outbox) -> None:
    outbox.add([make_item("a", 0), make_item("b", 0), make_item("a", 1)])
    assert outbox.pending_by_account() == {"a": 2, "b": 1}
    assert outbox.pending_count("a") == 2
    assert outbox.pending_count("zzz") == 0


def test_reset_unsent_rechunks_with_new_seqs(outbox: Outbox) -> None:
    items = [make_item(n=i) for i in range(4)]
    outbox.add(items)
    old = all_batches(outbox, max_batch_items=4)
    assert outbox.reset_unsent() == 4
    assert outbox.unacked_batches() == []
    new = all_batches(outbox, max_batch_items=1)
    assert [b.seq for b in new] == [2, 3, 4, 5]
    assert [i for b in new for i in b.items] == items
    assert outbox.ack(old[0].seq) == 0  # a late ack for the forgotten seq removes nothing


def test_concurrent_adds_respect_the_bound(path: Path) -> None:
    with Outbox(path, max_items=150) as ob:
        results = []

        def worker(t: int) -> None:
            for j in range(10):
                results.append(ob.add([make_item(f"t{t}", j * 10 + k) for k in range(10)]))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sum(r.accepted for r in results) == 150
        assert sum(r.refused for r in results) == 250
        assert ob.pending_count() == 150 == sum(ob.pending_by_account().values())
        keys = {item_key(i) for b in all_batches(ob) for i in b.items}
        assert len(keys) == 150
