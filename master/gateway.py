"""WorkerGateway.Connect: one bidirectional stream per worker.

The first frame must be Register, checked against master/limits.py
(INVALID_ARGUMENT before any state is touched: no ghost worker). After
Welcome, a reader task hands every frame to master/frames.py (one table for
all of them) and this coroutine writes the connection's outbound queue, so a
slow database never stalls heartbeats and a slow worker never stalls the
master (its queue is bounded; overflow closes the stream loudly).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import grpc

from hiscrm.v1 import gateway_pb2, gateway_pb2_grpc
from hiscrm_common import __version__
from master import principals
from master.enrollment import certificate_identity
from master.limits import LimitError, check_register
from master.registry import Connection, RegistrationError, WorkerRecord

if TYPE_CHECKING:
    from master.app import MasterApp

log = logging.getLogger(__name__)

REGISTER_TIMEOUT_S = 15.0


def transport_limit(protocol_limit: int) -> int:
    """gRPC's own receive limit sits above the protocol's, so that a frame a
    little too big reaches our check and gets a precise error on both sides
    instead of the transport's anonymous cancellation."""
    return protocol_limit * 2


class WorkerGateway(gateway_pb2_grpc.WorkerGatewayServicer):
    def __init__(self, app: MasterApp) -> None:
        self.app = app

    async def Connect(self, request_iterator: object, context: grpc.aio.ServicerContext) -> None:
        peer = context.peer()
        try:
            first = await asyncio.wait_for(context.read(), REGISTER_TIMEOUT_S)
        except TimeoutError:
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"no Register frame within {REGISTER_TIMEOUT_S:.0f}s",
            )
            return
        if first is grpc.aio.EOF or first.WhichOneof("frame") != "register":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "the first frame on a stream must be Register"
            )
            return
        reg = first.register
        principal = principals.current()
        cert = certificate_identity(context)
        credential = ""
        try:
            check_register(reg)
            self.app.enrollment.check(principal, reg, cert)
            # enrolled before it is online: whoever sees the worker online can
            # rely on its credential (and certificate binding) being stored
            if principal is not None:
                credential = await self.app.enrollment.issue(principal, reg.worker_id, cert)
            try:
                record, conn = self.app.registry.attach(reg)
            except RegistrationError:
                if credential:
                    await self.app.enrollment.withdraw(reg.worker_id)
                raise
        except (LimitError, RegistrationError) as exc:
            code = getattr(exc, "code", "INVALID_ARGUMENT")
            log.warning("worker %.64r refused from %s: %s", reg.worker_id, peer, exc)
            self.app.counters.frames_rejected += 1
            self.app.audit.record_later(
                "worker/register",
                principal=principal,
                worker_id=reg.worker_id[:64],
                outcome=code,
                detail=str(exc)[:512],
                peer=peer,
            )
            await context.abort(getattr(grpc.StatusCode, code), str(exc))
            return
        if credential:
            self.app.audit.record_later(
                "worker/enrolled", principal=principal, worker_id=reg.worker_id, peer=peer
            )
        cfg = self.app.config
        await context.write(
            gateway_pb2.MasterFrame(
                welcome=gateway_pb2.Welcome(
                    connection_id=conn.connection_id,
                    heartbeat_interval_ms=cfg.heartbeat_interval_ms,
                    max_message_bytes=cfg.max_message_bytes,
                    max_batch_bytes=cfg.max_batch_bytes,
                    max_batch_items=cfg.max_batch_items,
                    master_version=__version__,
                    credential=credential,
                )
            )
        )
        graceful = False
        why = "stream ended"
        reader = asyncio.create_task(self._read(record, conn, context))
        try:
            await self.app.on_worker_connected(record, conn, reg)
            graceful, why = await self._write(conn, reader, context)
        except asyncio.CancelledError:
            why = "stream cancelled"
            if conn.goodbye:
                graceful, why = True, "goodbye"
                raise
            if self.app.stopping:
                why = "the master is stopping"
                log.info("worker %s: stream closed: the master is stopping", record.worker_id)
            else:
                # gRPC cancels the handler without saying why. A frame over
                # the transport's limit cannot be the reason in practice: the
                # worker refuses to send one over Welcome.max_message_bytes,
                # half the transport's limit, and it is the worker that gets
                # the RESOURCE_EXHAUSTED status when one is sent anyway.
                why = "connection lost without a goodbye"
                log.warning(
                    "worker %s: stream cancelled by the transport: the worker's connection "
                    "closed or broke without a goodbye (process killed, host or network down)",
                    record.worker_id,
                )
            raise
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            self.app.registry.detach(record, conn, graceful=graceful, why=why)
            if credential and not conn.frames_in:
                self._unkept(reg.worker_id)
        if conn.oversized:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, conn.close_reason)
        if conn.close_reason and not graceful:
            await context.abort(grpc.StatusCode.UNAVAILABLE, conn.close_reason)

    def _unkept(self, worker_id: str) -> None:
        """The worker went away after its Welcome but before sending anything:
        it may or may not have kept the credential the Welcome carried (it
        writes it before its first frame). Revoking it would lock out a worker
        that did keep it; keeping it as is would lock out one that did not.
        So it stays valid and the enrollment token may replace it, until one
        of the two connects (master/enrollment.py)."""
        log.warning(
            "worker %s: gone before confirming its new credential; it stays valid, and the "
            "enrollment token may replace it until one of them connects",
            worker_id,
        )

    async def _write(
        self,
        conn: Connection,
        reader: asyncio.Task[tuple[bool, str]],
        context: grpc.aio.ServicerContext,
    ) -> tuple[bool, str]:
        closed = asyncio.create_task(conn.closed.wait())
        getter: asyncio.Task[gateway_pb2.MasterFrame] | None = None
        try:
            while True:
                if not conn.outbound.empty():
                    await context.write(conn.outbound.get_nowait())
                    continue
                getter = asyncio.create_task(conn.outbound.get())
                done, _ = await asyncio.wait(
                    {getter, reader, closed}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter in done:
                    await context.write(getter.result())
                    continue
                getter.cancel()
                if reader in done:
                    return reader.result()
                return False, conn.close_reason
        finally:
            closed.cancel()
            if getter is not None:
                getter.cancel()

    async def _read(
        self, record: WorkerRecord, conn: Connection, context: grpc.aio.ServicerContext
    ) -> tuple[bool, str]:
        """Returns (graceful, why) when the worker's side of the stream ends."""
        try:
            while True:
                frame = await context.read()
                if frame is grpc.aio.EOF:
                    return False, "worker closed the stream without Goodbye"
                conn.frames_in += 1
                if conn.frames_in == 1:
                    self.app.enrollment.confirm(record.worker_id)  # it kept its Welcome
                kind = frame.WhichOneof("frame")
                size = frame.ByteSize()
                limit = self.app.config.max_message_bytes
                if size > limit:
                    reason = (
                        f"{kind} frame of {size} bytes is over the {limit}-byte limit; "
                        "chunk it (the limit is in Welcome.max_message_bytes)"
                    )
                    log.error("worker %s: RESOURCE_EXHAUSTED: %s", record.worker_id, reason)
                    self.app.counters.frames_rejected += 1
                    conn.oversized = True
                    conn.close(reason)
                    return False, reason
                end = await self.app.frames.handle(record, conn, frame)
                if end is not None:
                    if not end.graceful:
                        conn.close(end.why)
                    return end.graceful, end.why
        except asyncio.CancelledError:
            raise
        except grpc.aio.AioRpcError as exc:
            log.error(
                "worker %s stream failed: %s %s", record.worker_id, exc.code().name, exc.details()
            )
            return False, f"stream failed: {exc.code().name}"
        except Exception as exc:
            log.exception("worker %s: reading the stream failed", record.worker_id)
            return False, f"stream read failed: {type(exc).__name__}: {exc}"
