"""Delivery to one target: a bounded queue, batching, a rate limit, retries.

Each target has its own queue and sender task, so a slow or failing target
delays nobody else, and enqueueing never waits: a full queue drops the new
notification and counts it. The sender waits `batch_seconds` after the first
notification for others to go with it, waits for the target's rate
(max_per_minute messages in any minute), and sends them as one message,
retried with exponential backoff and jitter before it counts as failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from hiscrm_common.backoff import Backoff
from hiscrm_common.timeutil import utcnow
from master.notify.messages import Notification
from master.notify.targets import Target

log = logging.getLogger(__name__)

MAX_LINES = 50  # per message; the rest go in the next one
TITLE = "hiscrm"

Send = Callable[[str, str, str], Awaitable[None]]  # url, title, body; raises on failure


class DeliveryFailed(Exception):
    pass


async def apprise_send(url: str, title: str, body: str) -> None:
    """apprise's notify is blocking (HTTP clients): off the event loop."""

    def send() -> bool:
        import apprise

        client = apprise.Apprise()
        if not client.add(url):
            raise DeliveryFailed("apprise does not accept the target's URL")
        return bool(client.notify(body=body, title=title))

    if not await asyncio.to_thread(send):
        raise DeliveryFailed("apprise reported the delivery as failed")


@dataclass
class TargetState:
    sent: int = 0  # messages
    events: int = 0  # notifications inside them
    failed: int = 0  # messages given up
    dropped: int = 0
    last_error: str = ""
    last_sent_at: datetime | None = None
    last_error_at: datetime | None = None


@dataclass
class Outbox:
    target: Target
    limit: int
    queue: deque[Notification] = field(default_factory=deque)
    state: TargetState = field(default_factory=TargetState)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent_at: deque[float] = field(default_factory=deque)  # monotonic, last minute
    task: asyncio.Task[None] | None = None


class Dispatcher:
    def __init__(
        self,
        *,
        send: Send = apprise_send,
        max_per_minute: int = 20,
        batch_seconds: float = 2.0,
        queue_limit: int = 1000,
        retries: int = 4,
        on_result: Callable[[str, int], None] | None = None,
    ) -> None:
        self.send = send
        self.max_per_minute = max_per_minute
        self.batch_seconds = batch_seconds
        self.queue_limit = queue_limit
        self.retries = retries
        self.on_result = on_result  # (outcome, count): the metrics
        self.outboxes: dict[str, Outbox] = {}
        self.dropped = 0

    def set_targets(self, targets: list[Target]) -> None:
        """Replaces the targets; a kept target keeps its queue and counters."""
        fresh = {t.name: t for t in targets}
        for name in list(self.outboxes):
            box = self.outboxes[name]
            if name not in fresh or fresh[name].url != box.target.url:
                if box.task is not None:
                    box.task.cancel()
                del self.outboxes[name]
        for name, target in fresh.items():
            kept = self.outboxes.get(name)
            if kept is not None:
                kept.target = target
                continue
            box = Outbox(target, self.queue_limit)
            box.task = asyncio.get_running_loop().create_task(
                self._sender(box), name=f"notify-{name}"
            )
            self.outboxes[name] = box

    def close(self) -> None:
        for box in self.outboxes.values():
            if box.task is not None:
                box.task.cancel()
        self.outboxes.clear()

    def offer(self, note: Notification, only: str = "") -> None:
        """Queues the notification for every target that wants it (or the one named)."""
        for box in self.outboxes.values():
            if only:
                if box.target.name != only:
                    continue
            elif not box.target.wants(note.kind, note.account_id):
                continue
            if len(box.queue) >= box.limit:
                box.state.dropped += 1
                self.dropped += 1
                if self.on_result is not None:
                    self.on_result("dropped", 1)
                continue
            box.queue.append(note)
            box.wake.set()

    def _rate(self, box: Outbox) -> int:
        return box.target.max_per_minute or self.max_per_minute

    async def _sender(self, box: Outbox) -> None:
        while True:
            try:
                await self._send_next(box)
            except asyncio.CancelledError:
                raise
            except Exception:
                # never a dead target: logged with its traceback, and on with the next
                log.exception("notifier %s: the sender failed; it goes on", box.target.name)
                await asyncio.sleep(1.0)

    async def _send_next(self, box: Outbox) -> None:
        while not box.queue:
            box.wake.clear()
            await box.wake.wait()
        await asyncio.sleep(self.batch_seconds)
        await self._wait_for_rate(box)
        batch = [box.queue.popleft() for _ in range(min(MAX_LINES, len(box.queue)))]
        more = len(box.queue)
        body = "\n".join(n.text for n in batch)
        if more:
            body += f"\n(+{more} more in the next message)"
        title = TITLE if len(batch) > 1 else f"{TITLE}: {batch[0].text[:60]}"
        backoff = Backoff(base=1.0, cap=60.0)
        for attempt in range(1, self.retries + 1):
            box.sent_at.append(time.monotonic())
            try:
                await self.send(box.target.url, title, body)
            except Exception as exc:
                said = str(exc).replace(box.target.url, box.target.url_masked)
                box.state.last_error = f"attempt {attempt}: {type(exc).__name__}: {said}"[:300]
                box.state.last_error_at = utcnow()
                # the URL is the secret: only the target's name goes in the log
                log.warning(
                    "notifier %s: delivery of %d notification(s) failed (attempt %d of %d): %s",
                    box.target.name,
                    len(batch),
                    attempt,
                    self.retries,
                    type(exc).__name__,
                )
                if attempt < self.retries:
                    await asyncio.sleep(backoff.next_delay())
                    await self._wait_for_rate(box)
                continue
            box.state.sent += 1
            box.state.events += len(batch)
            box.state.last_sent_at = utcnow()
            if self.on_result is not None:
                self.on_result("sent", 1)
            return
        box.state.failed += 1
        if self.on_result is not None:
            self.on_result("failed", 1)
        log.error(
            "notifier %s: gave up on a message of %d notification(s) after %d attempts",
            box.target.name,
            len(batch),
            self.retries,
        )

    async def _wait_for_rate(self, box: Outbox) -> None:
        while True:
            now = time.monotonic()
            while box.sent_at and now - box.sent_at[0] >= 60.0:
                box.sent_at.popleft()
            if len(box.sent_at) < self._rate(box):
                return
            await asyncio.sleep(60.0 - (now - box.sent_at[0]) + 0.01)
