"""Live unread counts: an `unread` event per account whose count changed.

Ingest marks the accounts that got new items; a task publishes their counts
at most once per interval, so a burst of thousands of items costs each
subscriber one event per account, and the last change is always followed by
an event (a console never rests on a stale count). Read marks publish at once:
they are rare and the operator is looking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from master.events import EventBus
from master.inbox import Inbox

INTERVAL_S = 0.5


class UnreadEvents:
    def __init__(
        self,
        bus: EventBus,
        inbox: Inbox,
        exists: Callable[[str], bool] | None = None,
        interval: float = INTERVAL_S,
    ) -> None:
        self.bus = bus
        self.inbox = inbox
        # Whether an account still exists: a count that changed just before
        # its account was deleted is not published after the deletion.
        self.exists = exists
        self.interval = interval
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()

    def changed(self, account_ids: Iterable[str]) -> None:
        # Nobody listening: nothing to say; a subscriber that comes later
        # reads the counts with GetUnreadCounts first.
        if self.bus.subscriber_count == 0:
            return
        self._dirty.update(account_ids)
        if self._dirty:
            self._wake.set()

    def forget(self, account_id: str) -> None:
        self._dirty.discard(account_id)

    def publish_now(self, account_ids: Iterable[str]) -> None:
        for account_id in sorted(account_ids):
            self._dirty.discard(account_id)
            self._publish(account_id)

    def flush(self) -> int:
        dirty, self._dirty = self._dirty, set()
        for account_id in sorted(dirty):
            self._publish(account_id)
        return len(dirty)

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self.flush()
            await asyncio.sleep(self.interval)

    def _publish(self, account_id: str) -> None:
        if self.exists is not None and not self.exists(account_id):
            return
        counts = self.inbox.counts([account_id]).counts[0]
        self.bus.publish(account_id=account_id, unread=counts)
