"""The event bus behind Control.WatchEvents.

Publishing never waits. Two kinds of events:

- happenings (items, logins, replies, notices) queue in order,
  and a subscriber more than `limit` of them behind is cut off (its stream
  ends with RESOURCE_EXHAUSTED) instead of slowing ingest or growing without
  bound;
- snapshots (an account's or a worker's current state, an account's
  deletion, the newest config version an account's worker acknowledged)
  replace an undelivered older snapshot of the same thing and keep
  its place in line, so a snapshot may arrive with a higher seq than the
  events after it. Only the newest matters to a console, and a rebalance of
  10,000 accounts publishes 10,000 of them at once, which used to cut every
  console off; now what waits is bounded by the number of accounts and
  workers. Unread counts are not snapshots: consoles add the items that come
  after a count to it, so a count must never overtake them (master/unread.py
  already sends few of them).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field

from hiscrm.v1 import control_pb2
from hiscrm_common.timeutil import to_ts, utcnow

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000

SnapshotKey = tuple[str, str]
# payload field -> what its snapshot is of (deletion replaces the account's state)
_SNAPSHOT_OF = {
    "account": "account",
    "account_deleted": "account",
    "worker": "worker",
    "config_acked": "config_acked",
}


class SubscriberOverflow(Exception):
    """The subscriber did not keep up and was dropped."""


@dataclass(eq=False)
class Subscription:
    kinds: frozenset[int]
    account_ids: frozenset[str]
    name: str = ""
    limit: int = DEFAULT_QUEUE_SIZE
    overflowed: bool = False
    happenings: int = 0  # queued events that are not snapshots
    _line: deque[control_pb2.Event | SnapshotKey] = field(default_factory=deque)
    _snapshots: dict[SnapshotKey, control_pb2.Event] = field(default_factory=dict)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, kind: int, account_id: str) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        return not (self.account_ids and account_id and account_id not in self.account_ids)

    def empty(self) -> bool:
        return not self._line

    def pending(self) -> int:
        return len(self._line)

    def offer(self, event: control_pb2.Event, key: SnapshotKey | None) -> bool:
        """Queue the event; False when that puts the subscriber over its limit."""
        if key is not None:
            if key not in self._snapshots:
                self._line.append(key)
            self._snapshots[key] = event
        else:
            if self.happenings >= self.limit:
                self.overflowed = True
                self._ready.set()
                return False
            self._line.append(event)
            self.happenings += 1
        self._ready.set()
        return True

    def drain(self) -> list[control_pb2.Event]:
        """Every event waiting now, without waiting for more."""
        taken = []
        while self._line:
            entry = self._line.popleft()
            if isinstance(entry, tuple):
                taken.append(self._snapshots.pop(entry))
            else:
                self.happenings -= 1
                taken.append(entry)
        return taken

    async def next(self) -> control_pb2.Event:
        while not self._line:
            if self.overflowed:
                raise SubscriberOverflow(
                    f"subscriber fell more than {self.limit} events behind and was cut "
                    "off; reconnect and re-read state with the List RPCs"
                )
            self._ready.clear()
            await self._ready.wait()
        entry = self._line.popleft()
        if isinstance(entry, tuple):
            return self._snapshots.pop(entry)
        self.happenings -= 1
        return entry


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
    "conversation": control_pb2.EVENT_KIND_CONVERSATION,
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
            frozenset(kinds or ()), frozenset(account_ids or ()), name=name, limit=self._queue_size
        )
        self._subs.add(sub)
        return sub

    def wanted(self, field_name: str, account_id: str = "") -> bool:
        """Whether any subscriber would get such an event (skip building it if not)."""
        kind = _KIND_OF_FIELD[field_name]
        return any(sub.wants(kind, account_id) for sub in self._subs)

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, account_id: str = "", **payload: object) -> None:
        """publish(item=StoredItem) / publish(worker=Worker) / ... exactly one payload."""
        ((field_name, value),) = payload.items()
        kind = _KIND_OF_FIELD[field_name]
        key: SnapshotKey | None = None
        snapshot_of = _SNAPSHOT_OF.get(field_name)
        if snapshot_of is not None:
            # payload values are messages; the "worker" snapshot's is a Worker (has worker_id).
            subject = value.worker_id if snapshot_of == "worker" else account_id  # type: ignore[attr-defined]
            key = (snapshot_of, subject)
        event: control_pb2.Event | None = None
        for sub in list(self._subs):
            if sub.overflowed or not sub.wants(kind, account_id):
                continue
            if event is None:
                event = control_pb2.Event(seq=next(self._seq), at=to_ts(utcnow()))
                getattr(event, field_name).CopyFrom(value)
            if not sub.offer(event, key):
                self.dropped_subscribers += 1
                self._subs.discard(sub)
                log.warning("event subscriber %s cut off: fell behind", sub.name or id(sub))
        self.published += 1
