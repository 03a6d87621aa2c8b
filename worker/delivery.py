"""Moving the outbox to the master: a window of batches in flight, resent
after every reconnect until acknowledged (invariant 1).

Two tasks, both supervised (hiscrm_common/supervise.py): the pump sends
batches; the acker applies the master's Acks and Nacks to the outbox, in the
order they came (a Nack for seq N followed by an Ack past N must not delete
N's items as delivered). Every outbox call is retried with backoff when it
fails (a full disk: SQLITE_FULL, ENOSPC), and nothing is dropped meanwhile:
`error` says what fails, `errors` counts it, the heartbeats carry both to the
master (ListWorkers, GetStats.problems), and the items flow again as soon as
the call succeeds, with no reconnect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from google.protobuf import json_format

from hiscrm.v1 import common_pb2, gateway_pb2
from hiscrm_common.backoff import Backoff
from hiscrm_common.supervise import FAILURES, Failures
from hiscrm_common.supervise import start as supervised
from worker.link import Link
from worker.outbox import Outbox, frame_size

log = logging.getLogger(__name__)
T = TypeVar("T")

WINDOW = 8  # batches in flight per stream
RETRY_CAP_S = 2.0  # a freed disk is used again within this


class Delivery:
    def __init__(
        self,
        worker_id: str,
        outbox: Outbox,
        quarantine_dir: Path,
        on_refused: Callable[[str, str], None],
        failures: Failures = FAILURES,
    ) -> None:
        self.worker_id = worker_id
        self.outbox = outbox
        self.quarantine_dir = quarantine_dir
        self.on_refused = on_refused  # (account_id, reason): the account shows an error
        self.failures = failures
        self._wake = asyncio.Event()
        self._in_flight: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self.acked_seq = 0
        # ("ack", seq) and ("nack", Nack) in arrival order; consecutive acks merge
        # ("ack", seq) or ("nack", frame), applied in order by _apply_ops.
        self._ops: deque[tuple[str, int | gateway_pb2.Nack]] = deque()
        self._ops_ready = asyncio.Event()
        self._acker: asyncio.Task[None] | None = None
        self.error = ""  # what fails now; empty when delivery works
        self.errors = 0  # outbox failures since start

    @property
    def prefix(self) -> str:
        return f"worker {self.worker_id}"

    def notify(self) -> None:
        self._wake.set()

    def status(self) -> tuple[str, int]:
        """(error, count) for the heartbeat: an outbox failure, or a
        delivery task in a crash loop."""
        looping = [p for p in self.failures.crash_looping() if "delivery" in p]
        return (self.error or (looping[0] if looping else "")), self.errors

    def start(self, link: Link, welcome: gateway_pb2.Welcome) -> None:
        self.stop()
        if self._acker is None or self._acker.done():
            self._acker = supervised(
                "outbox-acks", self._apply_ops, failures=self.failures, context=self.prefix
            )
        self._in_flight.clear()
        self._task = supervised(
            "delivery",
            lambda: self._pump(link, welcome),
            failures=self.failures,
            context=self.prefix,
        )

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
        last = self._ops[-1][1] if self._ops else None
        if isinstance(last, int):  # the last op is an ack: acks are cumulative
            self._ops[-1] = ("ack", max(ack.seq, last))
        else:
            self._ops.append(("ack", ack.seq))
        self._ops_ready.set()

    async def on_nack(self, nack: gateway_pb2.Nack) -> None:
        """Also in the background, in order with the acks."""
        self._in_flight.discard(nack.seq)
        self._ops.append(("nack", nack))
        self._ops_ready.set()

    # ------------------------------------------------------------ outbox calls

    async def _outbox(self, what: str, fn: Callable[..., T], *args: object) -> T:
        """fn(*args) on a thread, retried with backoff until it succeeds."""
        backoff = Backoff(base=0.1, cap=RETRY_CAP_S)
        while True:
            try:
                result = await asyncio.to_thread(fn, *args)
            except (sqlite3.Error, OSError) as exc:
                self.errors += 1
                error = f"outbox {what} failed: {type(exc).__name__}: {exc}"
                if error != self.error:
                    log.error("%s: %s; retrying until it works", self.prefix, error)
                self.error = error
                await asyncio.sleep(backoff.next_delay())
                continue
            if self.error:
                log.warning("%s: outbox works again (%s)", self.prefix, what)
                self.error = ""
            return result

    async def _apply_ops(self) -> None:
        applied = 0
        while True:
            if not self._ops:
                self._ops_ready.clear()
                await self._ops_ready.wait()
                continue
            _, value = self._ops[0]
            if isinstance(value, int):  # an ack's seq
                target = value
                if target > applied:
                    await self._outbox("ack", self.outbox.ack, target)
                    applied = target
            else:
                await self._refused(value)
            self._ops.popleft()  # only once applied: a failure retries it
            self._wake.set()

    async def _refused(self, nack: gateway_pb2.Nack) -> None:
        only = list(nack.item_indexes) or None
        items = await self._outbox("read", self.outbox.batch_items, nack.seq)
        chosen = items if only is None else [items[i] for i in only if i < len(items)]
        what = "batch" if only is None else f"{len(chosen)} of {len(items)} items of batch"
        kind = nack.kind
        kind_name = (
            common_pb2.ErrorKind.Name(kind) if kind in common_pb2.ErrorKind.values() else kind
        )
        reason = f"master refused {what} {nack.seq} ({kind_name}): {nack.reason}"
        await self._quarantine(chosen, reason)
        await self._outbox("nack", self.outbox.nack, nack.seq, only)

    async def _quarantine(self, items: list[common_pb2.Item], reason: str) -> None:
        """Items that can never be delivered are kept on disk, never dropped:
        written there (retried like any outbox call) before they leave the
        outbox, then reported loudly."""
        if not items:
            return
        path = await self._outbox("quarantine", self._write_quarantine, items, reason)
        accounts = sorted({i.account_id for i in items})
        log.error(
            "%s: %d items of %s quarantined in %s: %s",
            self.prefix,
            len(items),
            ",".join(accounts),
            path,
            reason,
        )
        for account_id in accounts:
            self.on_refused(account_id, f"{len(items)} items quarantined in {path}: {reason}")

    def _write_quarantine(self, items: list[common_pb2.Item], reason: str) -> Path:
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        path = self.quarantine_dir / "items.jsonl"
        lines = "".join(
            json.dumps({"reason": reason, "item": json_format.MessageToDict(i)}, ensure_ascii=False)
            + "\n"
            for i in items
        )
        with path.open("a") as f:
            f.write(lines)
            f.flush()
        return path

    # ------------------------------------------------------------ sending

    async def _pump(self, link: Link, welcome: gateway_pb2.Welcome) -> None:
        limit = welcome.max_message_bytes
        batch_bytes = min(welcome.max_batch_bytes or limit // 2, limit)
        batch_items = welcome.max_batch_items or 1000
        resend = await self._outbox("read", self.outbox.unacked_batches)
        if resend:
            log.info("%s: resending %d unacked batches", self.prefix, len(resend))
        for batch in resend:
            await self._send(link, batch, limit)
        while True:
            room = WINDOW - len(self._in_flight)
            batches: list[gateway_pb2.ItemsBatch] = []
            if room > 0:
                batches = await self._outbox(
                    "batching", self._next_batches, batch_bytes, batch_items, room
                )
            for batch in batches:
                await self._send(link, batch, limit)
            if not batches:
                self._wake.clear()
                await self._wake.wait()

    def _next_batches(
        self, max_bytes: int, max_items: int, room: int
    ) -> list[gateway_pb2.ItemsBatch]:
        return self.outbox.next_batches(
            max_batch_bytes=max_bytes, max_batch_items=max_items, limit_batches=room
        )

    async def _send(self, link: Link, batch: gateway_pb2.ItemsBatch, limit: int) -> None:
        size = frame_size(batch)
        if size > limit:
            reason = (
                f"RESOURCE_EXHAUSTED: batch {batch.seq} is {size} bytes, over the master's "
                f"{limit}-byte message limit, and cannot be split further"
            )
            log.error("%s: %s", self.prefix, reason)
            await self._quarantine(list(batch.items), reason)
            await self._outbox("nack", self.outbox.nack, batch.seq, None)
            return
        if not link.send(gateway_pb2.WorkerFrame(items=batch)):
            raise asyncio.CancelledError  # the stream is gone; on_connected restarts us
        self._in_flight.add(batch.seq)
