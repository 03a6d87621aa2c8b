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
        assert items_of_a.queue.empty()
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
            bus.publish(worker=control_pb2.Worker(worker_id=str(i)))
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
