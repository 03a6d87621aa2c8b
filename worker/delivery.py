"""Moving the outbox to the master: a window of batches in flight, resent
after every reconnect until acknowledged (invariant 1)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path

from google.protobuf import json_format

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.link import Link
from worker.outbox import Outbox, frame_size

log = logging.getLogger(__name__)

WINDOW = 8  # batches in flight per stream


class Delivery:
    def __init__(
        self,
        worker_id: str,
        outbox: Outbox,
        quarantine_dir: Path,
        on_refused: Callable[[str, str], None],
    ) -> None:
        self.worker_id = worker_id
        self.outbox = outbox
        self.quarantine_dir = quarantine_dir
        self.on_refused = on_refused  # (account_id, reason): the account shows an error
        self._wake = asyncio.Event()
        self._in_flight: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self.acked_seq = 0
        self._ack_ready = asyncio.Event()
        self._acker: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    def start(self, link: Link, welcome: gateway_pb2.Welcome) -> None:
        self.stop()
        if self._acker is None or self._acker.done():
            self._acker = asyncio.create_task(self._apply_acks(), name="outbox-acks")
        self._in_flight.clear()
        self._task = asyncio.create_task(self._pump(link, welcome), name="delivery")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def on_ack(self, ack: gateway_pb2.Ack) -> None:
        """Never waits for the outbox: acks are cumulative, so the latest one
        is applied in the background and the frame loop goes straight on to
        the next frame (a ConfigUpdate must not queue behind acks)."""
        self.acked_seq = max(self.acked_seq, ack.seq)
        self._in_flight = {s for s in self._in_flight if s > ack.seq}
        self._ack_ready.set()

    async def _apply_acks(self) -> None:
        applied = 0
        while True:
            await self._ack_ready.wait()
            self._ack_ready.clear()
            target = self.acked_seq
            if target > applied:
                await asyncio.to_thread(self.outbox.ack, target)
                applied = target
                self._wake.set()

    async def on_nack(self, nack: gateway_pb2.Nack) -> None:
        items = await asyncio.to_thread(self.outbox.nack, nack.seq)
        self._in_flight.discard(nack.seq)
        self._quarantine(items, f"master refused batch {nack.seq}: {nack.reason}")
        self._wake.set()

    def _quarantine(self, items: list[common_pb2.Item], reason: str) -> None:
        """Items that can never be delivered are kept on disk, never dropped."""
        if not items:
            return
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        path = self.quarantine_dir / "items.jsonl"
        with path.open("a") as f:
            for item in items:
                record = {"reason": reason, "item": json_format.MessageToDict(item)}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        accounts = sorted({i.account_id for i in items})
        log.error(
            "worker %s: %d items of %s quarantined in %s: %s",
            self.worker_id,
            len(items),
            ",".join(accounts),
            path,
            reason,
        )
        for account_id in accounts:
            self.on_refused(account_id, f"{len(items)} items quarantined in {path}: {reason}")

    async def _pump(self, link: Link, welcome: gateway_pb2.Welcome) -> None:
        limit = welcome.max_message_bytes
        batch_bytes = min(welcome.max_batch_bytes or limit // 2, limit)
        batch_items = welcome.max_batch_items or 1000
        resend = await asyncio.to_thread(self.outbox.unacked_batches)
        if resend:
            log.info("worker %s: resending %d unacked batches", self.worker_id, len(resend))
        for batch in resend:
            await self._send(link, batch, limit)
        while True:
            room = WINDOW - len(self._in_flight)
            batches: list[gateway_pb2.ItemsBatch] = []
            if room > 0:
                batches = await asyncio.to_thread(
                    self.outbox.next_batches,
                    max_batch_bytes=batch_bytes,
                    max_batch_items=batch_items,
                    limit_batches=room,
                )
            for batch in batches:
                await self._send(link, batch, limit)
            if not batches:
                self._wake.clear()
                await self._wake.wait()

    async def _send(self, link: Link, batch: gateway_pb2.ItemsBatch, limit: int) -> None:
        size = frame_size(batch)
        if size > limit:
            reason = (
                f"RESOURCE_EXHAUSTED: batch {batch.seq} is {size} bytes, over the master's "
                f"{limit}-byte message limit, and cannot be split further"
            )
            log.error("worker %s: %s", self.worker_id, reason)
            items = await asyncio.to_thread(self.outbox.nack, batch.seq)
            self._quarantine(items, reason)
            return
        if not link.send(gateway_pb2.WorkerFrame(items=batch)):
            raise asyncio.CancelledError  # the stream is gone; on_connected restarts us
        self._in_flight.add(batch.seq)
