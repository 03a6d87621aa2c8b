"""The event bus on its own: filters, bounded queues, cutting off a laggard."""

from __future__ import annotations

import asyncio

import pytest

from hiscrm.v1 import control_pb2
from master.events import EventBus, SubscriberOverflow


def _notice(text: str) -> control_pb2.Notice:
    return control_pb2.Notice(message=text)


def test_filters_by_kind_and_account() -> None:
    async def scenario() -> None:
        bus = EventBus()
        items_of_a = bus.subscribe([control_pb2.EVENT_KIND_ITEM], ["a"])
        everything = bus.subscribe()
        bus.publish(account_id="a", item=control_pb2.StoredItem(id=1))
        bus.publish(account_id="b", item=control_pb2.StoredItem(id=2))
        bus.publish(notice=_notice("hello"))
        assert (await items_of_a.next()).item.id == 1
        assert items_of_a.empty()
        seen = [await everything.next() for _ in range(3)]
        assert [e.WhichOneof("event") for e in seen] == ["item", "item", "notice"]
        assert seen[0].seq < seen[1].seq < seen[2].seq

    asyncio.run(scenario())


def test_a_subscriber_that_falls_behind_is_cut_off_and_others_are_not() -> None:
    async def scenario() -> None:
        bus = EventBus(queue_size=10)
        slow = bus.subscribe()
        fast = bus.subscribe()
        for i in range(25):
            bus.publish(account_id="a", item=control_pb2.StoredItem(id=i))
            await fast.next()
        assert bus.subscriber_count == 1 and bus.dropped_subscribers == 1
        for _ in range(10):
            await slow.next()
        with pytest.raises(SubscriberOverflow, match="fell more than 10 events behind"):
            await slow.next()

    asyncio.run(scenario())


def test_publish_never_blocks_with_no_subscribers() -> None:
    bus = EventBus()
    for _ in range(1000):
        bus.publish(account_id="x", account=control_pb2.Account(account_id="x"))
    assert bus.published == 1000
    assert bus.dropped_subscribers == 0


def test_unread_counts_are_coalesced_per_account() -> None:
    from master.inbox import Inbox
    from master.unread import UnreadEvents

    async def scenario() -> None:
        bus = EventBus()
        inbox = Inbox(None)  # type: ignore[arg-type]  (counts live in memory)
        live = {"a", "b"}
        unread = UnreadEvents(bus, inbox, live.__contains__, interval=0.2)
        unread.changed(["a"])  # nobody listens yet: nothing is kept
        assert unread.flush() == 0
        sub = bus.subscribe([control_pb2.EVENT_KIND_UNREAD])
        task = asyncio.create_task(unread.run())
        try:
            for n in range(50):  # a burst: one event per account
                inbox.added("a", 1 + n % 2)
                unread.changed(["a"])
            inbox.added("b", 1)
            unread.changed(["b"])
            first = [await asyncio.wait_for(sub.next(), 5) for _ in range(2)]
            assert {e.unread.account_id: e.unread for e in first} == {
                "a": control_pb2.UnreadCount(account_id="a", comments=25, direct_messages=25),
                "b": control_pb2.UnreadCount(account_id="b", comments=1),
            }
            inbox.added("a", 2)
            unread.changed(["a"])  # within the interval: comes after it, not lost
            later = await asyncio.wait_for(sub.next(), 5)
            assert (later.unread.account_id, later.unread.direct_messages) == ("a", 26)
            live.discard("b")
            unread.changed(["b"])  # deleted meanwhile: not published
            unread.changed(["a"])
            unread.forget("a")
            await asyncio.sleep(0.5)
            assert sub.empty()
            unread.publish_now(["a"])  # read marks: at once
            assert (await asyncio.wait_for(sub.next(), 1)).unread.account_id == "a"
        finally:
            task.cancel()

    asyncio.run(scenario())


def test_deletions_and_counts_have_their_kinds() -> None:
    async def scenario() -> None:
        bus = EventBus()
        accounts = bus.subscribe([control_pb2.EVENT_KIND_ACCOUNT])
        counts = bus.subscribe([control_pb2.EVENT_KIND_UNREAD], ["a"])
        bus.publish(account_id="a", account_deleted=control_pb2.AccountDeleted(account_id="a"))
        bus.publish(account_id="a", unread=control_pb2.UnreadCount(account_id="a"))
        bus.publish(account_id="b", unread=control_pb2.UnreadCount(account_id="b"))
        assert (await accounts.next()).WhichOneof("event") == "account_deleted"
        assert accounts.empty()
        assert (await counts.next()).unread.account_id == "a"
        assert counts.empty()

    asyncio.run(scenario())


def test_snapshots_replace_older_ones_in_line_and_never_cut_a_subscriber_off() -> None:
    async def scenario() -> None:
        bus = EventBus(queue_size=10)
        sub = bus.subscribe()
        for version in range(1, 4):  # a rebalance's worth, three times over
            for n in range(100):
                account = control_pb2.Account(account_id=f"a{n}", config_version=version)
                bus.publish(account_id=f"a{n}", account=account)
        for version in range(2, 5):
            ack = control_pb2.ConfigAcked(account_id="a1", config_version=version, ok=True)
            bus.publish(account_id="a1", config_acked=ack)
        bus.publish(account_id="a1", item=control_pb2.StoredItem(id=7))
        bus.publish(worker=control_pb2.Worker(worker_id="w", pid=1))
        bus.publish(worker=control_pb2.Worker(worker_id="w", pid=2))
        bus.publish(account_id="a5", account_deleted=control_pb2.AccountDeleted(account_id="a5"))
        assert bus.subscriber_count == 1 and sub.pending() == 103
        seen = [await sub.next() for _ in range(103)]
        assert sub.empty()
        accounts = [e.account for e in seen if e.HasField("account")]
        assert [a.account_id for a in accounts] == [f"a{n}" for n in range(100) if n != 5]
        assert {a.config_version for a in accounts} == {3}  # only the newest of each
        assert seen[5].WhichOneof("event") == "account_deleted"  # in a5's place, not after
        assert seen[100].config_acked.config_version == 4  # the newest acknowledged
        assert seen[101].item.id == 7 and seen[102].worker.pid == 2

    asyncio.run(scenario())
