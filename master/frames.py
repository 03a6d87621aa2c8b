"""Every frame a worker sends after Register, checked and dispatched by one table.

Reading order for one comment: gateway.py (the stream) -> frames.py (this
table) -> ingest.py (stored, acked, published) -> events.py -> control/live.py.

A frame is checked against master/limits.py before its handler sees it; one
that fails is refused on its own (logged with the worker id, counted in
frames_rejected) and the stream goes on: a newer worker's unknown enum value
costs that one frame, never the stream or a task. Items are checked one by
one in ingest.py, so that a bad item is Nacked by its index and the rest of
its batch is sent again.

A handler that raises unexpectedly (a database that fails under it) ends the
stream: the worker reconnects and re-sends what must survive (its unacked
batches, its account states); the failure is logged with its traceback and
counted under the task name "frame:<kind>".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hiscrm.v1 import gateway_pb2
from hiscrm_common.supervise import Failures
from master.limits import LimitError, check_frame
from master.registry import Connection, WorkerRecord

if TYPE_CHECKING:
    from master.app import MasterApp

log = logging.getLogger(__name__)

Frame = gateway_pb2.WorkerFrame
Handler = Callable[[WorkerRecord, Connection, Frame], Awaitable[None]]


@dataclass
class StreamEnd:
    graceful: bool
    why: str


class FrameRouter:
    def __init__(self, app: MasterApp, failures: Failures) -> None:
        self.app = app
        self.failures = failures
        self.table: dict[str, Handler] = {
            "heartbeat": self._heartbeat,
            "items": self._items,
            "config_ack": self._config_ack,
            "account_state": self._account_state,
            "command_result": self._command_result,
            "login": self._login,
            "session_refresh": self._session_refresh,
        }

    async def handle(
        self, record: WorkerRecord, conn: Connection, frame: gateway_pb2.WorkerFrame
    ) -> StreamEnd | None:
        """None to go on reading; a StreamEnd when this frame ends the stream."""
        kind = frame.WhichOneof("frame")
        self.app.registry.seen(record)  # any frame shows the worker is alive
        try:
            check_frame(kind, frame)
        except LimitError as exc:
            self._refuse(record, kind, str(exc))
            return None
        if kind == "goodbye":
            log.info("worker %s said goodbye: %s", record.worker_id, frame.goodbye.reason)
            conn.goodbye = True
            return StreamEnd(True, f"goodbye: {frame.goodbye.reason}")
        handler = self.table.get(kind or "")
        if handler is None:  # a second Register
            self._refuse(record, kind, f"{kind} is only valid as the first frame")
            return None
        try:
            await handler(record, conn, frame)
        except Exception as exc:
            self.failures.record(f"frame:{kind}", f"{type(exc).__name__}: {exc}"[:500])
            log.exception(
                "worker %s: handling its %s frame failed; closing the stream so that it "
                "reconnects and re-sends",
                record.worker_id,
                kind,
            )
            return StreamEnd(False, f"{kind} frame failed on the master: {type(exc).__name__}")
        return None

    def _refuse(self, record: WorkerRecord, kind: str | None, reason: str) -> None:
        log.error("worker %s: %s frame refused: %s", record.worker_id, kind, reason)
        self.app.counters.frames_rejected += 1

    # ------------------------------------------------------------ handlers

    async def _heartbeat(self, record: WorkerRecord, conn: Connection, frame: Frame) -> None:
        self.app.registry.heartbeat(record, frame.heartbeat)
        self.app.counters.latencies.heartbeat(record.worker_id, frame.heartbeat, self._platform_of)
        self.app.counters.page_renewals.heartbeat(record.worker_id, record.boot_id, frame.heartbeat)

    def _platform_of(self, account_id: str) -> str | None:
        row = self.app.accounts.rows.get(account_id)
        return row.platform if row is not None else None

    async def _items(self, record: WorkerRecord, conn: Connection, frame: Frame) -> None:
        await self.app.ingest.submit(record, conn, frame.items)

    async def _config_ack(self, record: WorkerRecord, conn: Connection, frame: Frame) -> None:
        self.app.scheduler.on_config_ack(record, frame.config_ack)

    async def _command_result(self, record: WorkerRecord, conn: Connection, frame: Frame) -> None:
        await self.app.replies.on_result(record, frame.command_result)

    async def _login(self, record: WorkerRecord, conn: Connection, frame: Frame) -> None:
        await self.app.logins.on_event(record, frame.login)

    async def _session_refresh(self, record: WorkerRecord, conn: Connection, frame: Frame) -> None:
        await self.app.sessions.on_refresh(record, frame.session_refresh)

    async def _account_state(self, record: WorkerRecord, conn: Connection, frame: Frame) -> None:
        state = frame.account_state
        if not await self.app.accounts.apply_state(record.worker_id, state):
            log.warning(
                "worker %s reported state for account %s, which it does not hold",
                record.worker_id,
                state.account_id,
            )
