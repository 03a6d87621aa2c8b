"""The notification service: a separate consumer of the event bus.

A supervised task (master/app.py) subscribes to the bus only while there is
a target, turns events into notifications (messages.py) and hands them to
the dispatcher, which never makes it wait. If it still falls behind the
bus's bound, the bus cuts it off like any slow console; it subscribes again
and counts what it missed as dropped (GetStats, ListNotifiers, metrics).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hiscrm.v1 import control_pb2
from hiscrm_common import settings
from hiscrm_common.timeutil import aware, to_ts
from master.events import EventBus, SubscriberOverflow, Subscription
from master.notify.dispatcher import Dispatcher, Send, apprise_send
from master.notify.messages import KINDS, Notification, Translator
from master.notify.targets import Target, TargetStore
from master.store.database import Database

log = logging.getLogger(__name__)


class Notifications:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        notifying_rule: Callable[[str], bool],
        send: Send = apprise_send,
        on_result: Callable[[str, int], None] | None = None,
        states: Callable[[], tuple[dict[str, int], dict[str, int]]] | None = None,
    ) -> None:
        # current worker and account states (by id), read when subscribing
        self.states = states
        current = settings.get()
        self.bus = bus
        self.store = TargetStore(db)
        self.translator = Translator(notifying_rule)
        self.dispatcher = Dispatcher(
            send=send,
            max_per_minute=current.notify_max_per_minute,
            batch_seconds=current.notify_batch_seconds,
            queue_limit=current.notify_queue,
            retries=current.notify_retries,
            on_result=on_result,
        )
        self.targets: list[Target] = []
        self.missed = 0  # events lost when the bus cut this consumer off
        self._changed = asyncio.Event()

    async def reload(self) -> None:
        self.targets = await self.store.load()
        self.dispatcher.set_targets(self.targets)
        self._changed.set()

    @property
    def counts(self) -> tuple[int, int, int]:
        """sent, failed, dropped (messages; dropped are notifications)."""
        boxes = self.dispatcher.outboxes.values()
        return (
            sum(b.state.sent for b in boxes),
            sum(b.state.failed for b in boxes),
            self.dispatcher.dropped + self.missed,
        )

    async def run(self) -> None:
        await self.reload()
        try:
            while True:
                if not self.targets:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                sub = self.bus.subscribe([int(k) for k in KINDS], name="notifications")
                if self.states is not None:
                    self.translator.seed(*self.states())
                try:
                    await self._consume(sub)
                except SubscriberOverflow:
                    self.missed += sub.pending()
                    log.error("notifications fell behind the event bus: events were missed")
                finally:
                    self.bus.unsubscribe(sub)
        finally:
            self.dispatcher.close()

    async def _consume(self, sub: Subscription) -> None:
        while self.targets:
            self._changed.clear()
            nxt = asyncio.ensure_future(sub.next())
            changed = asyncio.ensure_future(self._changed.wait())
            try:
                done, _ = await asyncio.wait({nxt, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
            if nxt not in done:
                nxt.cancel()
                continue
            for note in self.translator.of(nxt.result()):
                self.dispatcher.offer(note)
            for event in sub.drain():
                for note in self.translator.of(event):
                    self.dispatcher.offer(note)

    def test(self, name: str) -> None:
        if name not in self.dispatcher.outboxes:
            from master.accounts import NotFound

            raise NotFound(f"no notifier {name!r}")
        self.dispatcher.offer(
            Notification(
                control_pb2.NOTIFICATION_KIND_TEST, "", f"hiscrm: a test message to {name}"
            ),
            only=name,
        )

    def listing(self) -> control_pb2.ListNotifiersResponse:
        resp = control_pb2.ListNotifiersResponse(dropped=self.counts[2])
        for target in self.targets:
            resp.notifiers.append(self.proto_of(target.name))
        return resp

    def proto_of(self, name: str) -> control_pb2.Notifier:
        target = next(t for t in self.targets if t.name == name)
        msg = control_pb2.Notifier(
            name=target.name,
            url_masked=target.url_masked,
            # NotificationKind values, kept as ints in Target
            kinds=sorted(target.kinds),  # type: ignore[arg-type]
            account_ids=sorted(target.account_ids),
            enabled=target.enabled,
            max_per_minute=target.max_per_minute,
            from_settings=target.from_settings,
        )
        box = self.dispatcher.outboxes.get(name)
        if box is not None:
            st = box.state
            msg.sent, msg.events, msg.failed = st.sent, st.events, st.failed
            msg.queued, msg.last_error = len(box.queue), st.last_error
            for field, value in (
                ("last_sent_at", st.last_sent_at),
                ("last_error_at", st.last_error_at),
            ):
                ts = to_ts(aware(value))
                if ts is not None:
                    getattr(msg, field).CopyFrom(ts)
        return msg
