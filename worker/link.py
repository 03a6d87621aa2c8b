"""The worker's one stream to the master: register, heartbeat, reconnect.

The link knows nothing about accounts; it hands master frames to a
`LinkHandler` (the runner) and sends what the handler gives it. Frames are
sent only on a live stream: anything that must survive a disconnect (items,
config acks, states) is re-sent by the handler's `on_connected`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, cast

import grpc

from hiscrm.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc
from hiscrm_common import __version__, settings
from hiscrm_common.backoff import RECONNECT_CAP_S, Backoff
from hiscrm_common.channel import bearer_metadata, open_channel
from hiscrm_common.supervise import FAILURES
from hiscrm_common.timeutil import to_ts, utcnow
from worker.stats import TreeStats

log = logging.getLogger(__name__)

# How long a stop waits for a handshake under way to finish.
HANDSHAKE_WAIT_S = 3.0
OUTBOUND_QUEUE_SIZE = 10_000
CONNECT_TIMEOUT_S = 10.0


class LinkHandler(Protocol):
    def held_accounts(self) -> list[gateway_pb2.HeldAccount]: ...
    def account_statuses(self) -> list[gateway_pb2.AccountStatus]: ...
    def outbox_pending(self) -> int: ...
    def delivery_status(self) -> tuple[str, int]: ...
    async def on_connected(self, link: Link, welcome: gateway_pb2.Welcome) -> None: ...
    async def on_frame(self, frame: gateway_pb2.MasterFrame) -> None: ...
    async def on_disconnected(self) -> None: ...


@dataclass
class WorkerIdentity:
    worker_id: str
    platforms: list[common_pb2.Platform]
    max_accounts: int
    # the fleet's name for this host (HISCRM_HOST_ID, set by `hiscrm join`)
    host: str = field(default_factory=lambda: settings.get().host_id or socket.gethostname())
    pid: int = field(default_factory=os.getpid)
    boot_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class Link:
    def __init__(
        self,
        identity: WorkerIdentity,
        address: str,
        token: str,
        handler: LinkHandler,
        *,
        max_message_bytes: int,
        on_credential: Callable[[str], None] | None = None,
    ) -> None:
        self.identity = identity
        self.on_credential = on_credential
        self.address = address
        self.token = token
        self.handler = handler
        self.max_message_bytes = max_message_bytes
        self.welcome: gateway_pb2.Welcome | None = None
        self.connected = asyncio.Event()
        self._outbound: asyncio.Queue[gateway_pb2.WorkerFrame] | None = None
        self._stats = TreeStats()
        self._sampler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats")
        self._last_stats = common_pb2.ProcessStats()
        self._stopping = False
        self._call: grpc.aio.StreamStreamCall | None = None
        # The one task that writes on the live stream: a second write while
        # it writes fails the stream (INTERNAL), so the Goodbye goes through it.
        self._writer: asyncio.Task[None] | None = None
        self.connects = 0

    @property
    def log_prefix(self) -> str:
        return f"worker {self.identity.worker_id}"

    def send(self, frame: gateway_pb2.WorkerFrame) -> bool:
        """Queue a frame on the live stream; False when there is none."""
        queue = self._outbound
        if queue is None or not self.connected.is_set():
            return False
        try:
            queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.error("%s: outbound queue full; reconnecting", self.log_prefix)
            if self._call is not None:
                self._call.cancel()
            return False
        return True

    async def run(self) -> None:
        backoff = Backoff(base=0.5, cap=RECONNECT_CAP_S)
        while not self._stopping:
            established = False
            try:
                established = await self._session()
            except grpc.aio.AioRpcError as exc:
                self._log_rpc_error(exc)
            except (ConnectionError, OSError) as exc:
                log.warning("%s: connection to %s failed: %s", self.log_prefix, self.address, exc)
            except Exception as exc:
                # a bug in handling a frame: counted, shown, and the stream
                # opened again (the master re-sends what is unacked)
                FAILURES.record("link", f"{type(exc).__name__}: {exc}"[:500])
                log.exception("%s: the stream to the master failed unexpectedly", self.log_prefix)
            finally:
                self.connected.clear()
                self._outbound = None
                self._call = None
                with contextlib.suppress(Exception):
                    await self.handler.on_disconnected()
            if self._stopping:
                break
            if established:
                backoff.reset()
            delay = backoff.next_delay()
            log.info("%s: reconnecting to %s in %.1fs", self.log_prefix, self.address, delay)
            await asyncio.sleep(delay)

    def _log_rpc_error(self, exc: grpc.aio.AioRpcError) -> None:
        code = exc.code()
        if code == grpc.StatusCode.CANCELLED and self._stopping:
            return
        level = logging.WARNING if code == grpc.StatusCode.UNAVAILABLE else logging.ERROR
        log.log(
            level,
            "%s: stream to master ended: %s: %s",
            self.log_prefix,
            code.name,
            exc.details(),
        )

    def _register_frame(self) -> gateway_pb2.WorkerFrame:
        ident = self.identity
        return gateway_pb2.WorkerFrame(
            register=gateway_pb2.Register(
                worker_id=ident.worker_id,
                host=ident.host,
                pid=ident.pid,
                version=__version__,
                platforms=ident.platforms,
                max_accounts=ident.max_accounts,
                held_accounts=self.handler.held_accounts(),
                boot_id=ident.boot_id,
                outbox_pending=self.handler.outbox_pending(),
            )
        )

    async def _session(self) -> bool:
        """One stream's life. Returns whether the master welcomed us."""
        # The token goes on the call, not through interceptors: see open_channel.
        async with open_channel(
            self.address, None, max_message_bytes=self.max_message_bytes
        ) as channel:
            try:
                await asyncio.wait_for(channel.channel_ready(), CONNECT_TIMEOUT_S)
            except TimeoutError:
                log.warning(
                    "%s: master %s not reachable within %.0fs",
                    self.log_prefix,
                    self.address,
                    CONNECT_TIMEOUT_S,
                )
                return False
            stub = gateway_pb2_grpc.WorkerGatewayStub(channel)
            call = stub.Connect(metadata=bearer_metadata(self.token))
            self._call = call
            try:
                # A call that fails while it is being set up can leave write()
                # waiting forever; bound the handshake.
                await asyncio.wait_for(call.write(self._register_frame()), CONNECT_TIMEOUT_S)
                first = await asyncio.wait_for(call.read(), CONNECT_TIMEOUT_S)
            except (TimeoutError, asyncio.InvalidStateError):
                call.cancel()
                code = await call.code()
                log.warning(
                    "%s: handshake with %s failed (%s: %s)",
                    self.log_prefix,
                    self.address,
                    code.name,
                    await call.details(),
                )
                return False
            if first is grpc.aio.EOF or first.WhichOneof("frame") != "welcome":
                await call.code()  # raises the master's status if it refused us
                log.error("%s: master did not answer Register with Welcome", self.log_prefix)
                return False
            self.welcome = first.welcome
            if self.welcome.credential:
                # enrolled: from now on this worker id's own credential
                if self.on_credential is not None:
                    self.on_credential(self.welcome.credential)
                self.token = self.welcome.credential
            self.connects += 1
            log.info(
                "%s: connected to %s (connection %s, heartbeat %d ms)",
                self.log_prefix,
                self.address,
                self.welcome.connection_id,
                self.welcome.heartbeat_interval_ms,
            )
            self._outbound = asyncio.Queue(OUTBOUND_QUEUE_SIZE)
            self.connected.set()
            writer = self._writer = asyncio.create_task(self._write(call, self._outbound))
            beats = asyncio.create_task(self._heartbeat(self.welcome.heartbeat_interval_ms))
            try:
                await self.handler.on_connected(self, self.welcome)
                while True:
                    frame = await call.read()
                    if frame is grpc.aio.EOF:
                        break
                    await self.handler.on_frame(frame)
                    if writer.done():
                        writer.result()  # re-raises the write failure
                        break
                await call.code()
            finally:
                self.connected.clear()
                for task in (writer, beats):
                    task.cancel()
                for task in (writer, beats):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            return True

    async def _write(
        self, call: grpc.aio.StreamStreamCall, queue: asyncio.Queue[gateway_pb2.WorkerFrame]
    ) -> None:
        while True:
            frame = await queue.get()
            try:
                await call.write(frame)
            except grpc.aio.AioRpcError as exc:
                self._log_rpc_error(exc)
                call.cancel()
                raise
            except asyncio.InvalidStateError:
                # The stream already finished; the reader reports its status.
                return
            if frame.HasField("goodbye"):
                return  # the last frame: stop() closes the stream after it

    async def _sample(self, interval: float) -> None:
        """Process-tree figures, sampled on a thread of their own: the shared
        thread pool can be busy (outbox, browser) and heartbeats must not wait."""
        loop = asyncio.get_running_loop()
        while True:
            self._last_stats = await loop.run_in_executor(self._sampler, self._stats.sample)
            await asyncio.sleep(interval)

    async def _heartbeat(self, interval_ms: int) -> None:
        interval = max(interval_ms, 100) / 1000
        sampler = asyncio.create_task(self._sample(interval))
        try:
            await self._beat(interval)
        finally:
            sampler.cancel()

    async def _beat(self, interval: float) -> None:
        while True:
            stats = self._last_stats
            error, errors = self.handler.delivery_status()
            self.send(
                gateway_pb2.WorkerFrame(
                    heartbeat=gateway_pb2.Heartbeat(
                        sent_at=to_ts(utcnow()),
                        stats=stats,
                        accounts=self.handler.account_statuses(),
                        outbox_pending=self.handler.outbox_pending(),
                        delivery_error=error[:500],  # <= 2,000 bytes (master/limits.py)
                        delivery_errors=errors,
                    )
                )
            )
            await asyncio.sleep(interval)

    async def stop(self, reason: str) -> None:
        """Say goodbye so the master marks us offline at once, then close."""
        self._stopping = True
        if self._call is not None and not self._call.done() and not self.connected.is_set():
            # a handshake in flight: let it finish, so that a new credential
            # in its Welcome is kept and the master hears the goodbye
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.connected.wait(), HANDSHAKE_WAIT_S)
        call, writer, queue = self._call, self._writer, self._outbound
        if call is not None and self.connected.is_set() and writer and queue is not None:
            goodbye = gateway_pb2.WorkerFrame(goodbye=gateway_pb2.Goodbye(reason=reason))
            with contextlib.suppress(Exception):
                # queued behind what is already on its way, written by the writer
                queue.put_nowait(goodbye)
                await asyncio.wait_for(asyncio.shield(writer), 2.0)
                await asyncio.wait_for(call.done_writing(), 2.0)
                await asyncio.wait_for(call.code(), 2.0)  # let the master close it
        if call is not None:
            call.cancel()


def platform_values(names: list[str]) -> list[common_pb2.Platform]:
    values: list[common_pb2.Platform] = []
    for name in names:
        key = "PLATFORM_" + name.strip().upper()
        if key not in common_pb2.Platform.keys() or key == "PLATFORM_UNSPECIFIED":
            known = ", ".join(
                k.removeprefix("PLATFORM_").lower()
                for k in common_pb2.Platform.keys()
                if k != "PLATFORM_UNSPECIFIED"
            )
            raise SystemExit(f"unknown platform {name!r}; choose from: {known}")
        # Value() is typed int in the generated stubs; it is this enum's value.
        values.append(cast(common_pb2.Platform, common_pb2.Platform.Value(key)))
    return values
