"""The event bus behind Control.WatchEvents.

Publishing never waits: each subscriber has a bounded queue, and one that
falls behind is cut off (its stream ends with RESOURCE_EXHAUSTED) instead of
slowing ingest or growing without bound.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field

from hiscrm.v1 import control_pb2
from hiscrm_common.timeutil import to_ts, utcnow

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000


class SubscriberOverflow(Exception):
    """The subscriber did not keep up and was dropped."""


@dataclass(eq=False)
class Subscription:
    kinds: frozenset[int]
    account_ids: frozenset[str]
    queue: asyncio.Queue[control_pb2.Event | None] = field(
        default_factory=lambda: asyncio.Queue(DEFAULT_QUEUE_SIZE)
    )
    overflowed: bool = False
    name: str = ""
    limit: int = DEFAULT_QUEUE_SIZE

    def wants(self, kind: int, account_id: str) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        return not (self.account_ids and account_id and account_id not in self.account_ids)

    async def next(self) -> control_pb2.Event:
        event = await self.queue.get()
        if event is None:
            raise SubscriberOverflow(
                f"subscriber fell more than {self.limit} events behind and was cut "
                "off; reconnect and re-read state with the List RPCs"
            )
        return event


_KIND_OF_FIELD = {
    "item": control_pb2.EVENT_KIND_ITEM,
    "worker": control_pb2.EVENT_KIND_WORKER,
    "account": control_pb2.EVENT_KIND_ACCOUNT,
    "config_acked": control_pb2.EVENT_KIND_CONFIG_ACK,
    "login": control_pb2.EVENT_KIND_LOGIN,
    "reply": control_pb2.EVENT_KIND_REPLY,
    "notice": control_pb2.EVENT_KIND_NOTICE,
    "unread": control_pb2.EVENT_KIND_UNREAD,
    "account_deleted": control_pb2.EVENT_KIND_ACCOUNT,
}


class EventBus:
    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._subs: set[Subscription] = set()
        self._seq = itertools.count(1)
        self._queue_size = queue_size
        self.published = 0
        self.dropped_subscribers = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def subscribe(
        self, kinds: list[int] | None = None, account_ids: list[str] | None = None, name: str = ""
    ) -> Subscription:
        sub = Subscription(
            frozenset(kinds or ()),
            frozenset(account_ids or ()),
            asyncio.Queue(self._queue_size + 1),  # +1 leaves room for the cut-off marker
            name=name,
            limit=self._queue_size,
        )
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, account_id: str = "", **payload: object) -> None:
        """publish(item=StoredItem) / publish(worker=Worker) / ... exactly one payload."""
        ((field_name, value),) = payload.items()
        kind = _KIND_OF_FIELD[field_name]
        event: control_pb2.Event | None = None
        for sub in list(self._subs):
            if sub.overflowed or not sub.wants(kind, account_id):
                continue
            if event is None:
                event = control_pb2.Event(seq=next(self._seq), at=to_ts(utcnow()))
                getattr(event, field_name).CopyFrom(value)
            if sub.queue.qsize() >= self._queue_size:
                sub.overflowed = True
                self.dropped_subscribers += 1
                sub.queue.put_nowait(None)
                self._subs.discard(sub)
                log.warning("event subscriber %s cut off: fell behind", sub.name or id(sub))
                continue
            sub.queue.put_nowait(event)
        self.published += 1
