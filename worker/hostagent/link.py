"""The host agent's one stream to the master (HostGateway.Connect).

HostHello first (host id, slots, resources, processes); the master answers
with HostWelcome, carrying this host's own credential (and the fleet's
session key) once, when the stream came with the enrollment token. Then a
report every report interval, and every HostCommand run on a task of its
own (a tail does not wait for a stop) and answered with its request id.
A broken stream is opened again with backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path

import grpc

from hiscrm.v1 import hosts_pb2, hosts_pb2_grpc
from hiscrm_common import __version__, settings
from hiscrm_common.backoff import Backoff
from hiscrm_common.channel import bearer_metadata, open_channel
from hiscrm_common.timeutil import to_ts, utcnow
from worker.hostagent import resources
from worker.hostagent.relay import Relay

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
MAX_COMMANDS = 16  # commands running at once; more wait
OUTBOUND_QUEUE_SIZE = 1_000


class HostCredential:
    """$HISCRM_HOME/host-credential once enrolled, else the enrollment token."""

    def __init__(self, home: Path) -> None:
        self.path = home / "host-credential"
        self.key_path = home / "secret.key"

    def token(self) -> str:
        if self.path.exists():
            return settings.check_token(settings.read_secret_file(self.path), str(self.path))
        return settings.load_enrollment_token()

    def save(self, welcome: hosts_pb2.HostWelcome) -> None:
        tmp = self.path.with_name("host-credential.tmp")
        tmp.unlink(missing_ok=True)
        settings.write_secret_file(tmp, welcome.credential)
        os.replace(tmp, self.path)
        if welcome.session_key and not self.key_path.exists():
            settings.write_secret_file(self.key_path, welcome.session_key)
        log.info("host agent: enrolled; credential kept in %s", self.path)


class HostLink:
    def __init__(self, host_id: str, address: str, relay: Relay, home: Path) -> None:
        self.host_id = host_id
        self.address = address
        self.relay = relay
        self.home = home
        self.credential = HostCredential(home)
        self.connects = 0
        self.restored = False
        self._commands = asyncio.Semaphore(MAX_COMMANDS)

    async def run(self) -> None:
        """Forever: one stream at a time, reopened with backoff."""
        backoff = Backoff(base=0.5, cap=10.0)
        while True:
            welcomed = False
            try:
                welcomed = await self._session()
            except grpc.aio.AioRpcError as exc:
                level = (
                    logging.WARNING if exc.code() == grpc.StatusCode.UNAVAILABLE else logging.ERROR
                )
                log.log(
                    level,
                    "host %s: stream ended: %s: %s",
                    self.host_id,
                    exc.code().name,
                    exc.details(),
                )
            except (ConnectionError, OSError) as exc:
                log.warning("host %s: connection to %s failed: %s", self.host_id, self.address, exc)
            if welcomed:
                backoff.reset()
            delay = backoff.next_delay()
            log.info("host %s: reconnecting to %s in %.1fs", self.host_id, self.address, delay)
            await asyncio.sleep(delay)

    async def _hello(self) -> hosts_pb2.HostHello:
        processes = await self.relay.processes()
        return hosts_pb2.HostHello(
            host_id=self.host_id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            slots=len(processes),
            resources=await asyncio.to_thread(resources.sample, self.home),
            processes=processes,
        )

    async def _session(self) -> bool:
        async with open_channel(self.address, None) as channel:
            try:
                await asyncio.wait_for(channel.channel_ready(), CONNECT_TIMEOUT_S)
            except TimeoutError:
                log.warning("host %s: master %s not reachable", self.host_id, self.address)
                return False
            stub = hosts_pb2_grpc.HostGatewayStub(channel)
            call = stub.Connect(metadata=bearer_metadata(self.credential.token()))
            await asyncio.wait_for(
                call.write(hosts_pb2.HostFrame(hello=await self._hello())), CONNECT_TIMEOUT_S
            )
            first = await asyncio.wait_for(call.read(), CONNECT_TIMEOUT_S)
            if first is grpc.aio.EOF or first.WhichOneof("frame") != "welcome":
                await call.code()  # raises the master's refusal
                return False
            welcome = first.welcome
            if welcome.credential:
                self.credential.save(welcome)
            self.connects += 1
            log.info(
                "host %s: connected to %s (connection %s, %d streams since start)",
                self.host_id,
                self.address,
                welcome.connection_id,
                self.connects,
            )
            if not self.restored:
                # after enrollment, so that workers start with the session key
                await self.relay.restore_count()
                self.restored = True
            await self._serve(call, welcome.report_interval_ms / 1000 or 2.0)
            return True

    async def _serve(self, call: grpc.aio.StreamStreamCall, interval: float) -> None:
        outbound: asyncio.Queue[hosts_pb2.HostFrame] = asyncio.Queue(OUTBOUND_QUEUE_SIZE)
        running: set[asyncio.Task[None]] = set()

        async def write() -> None:
            while True:
                await call.write(await outbound.get())

        async def report() -> None:
            while True:
                await asyncio.sleep(interval)
                frame = hosts_pb2.HostFrame(
                    report=hosts_pb2.HostReport(
                        resources=await asyncio.to_thread(resources.sample, self.home),
                        processes=await self.relay.processes(),
                        sent_at=to_ts(utcnow()),
                    )
                )
                outbound.put_nowait(frame)

        async def answer(command: hosts_pb2.HostCommand) -> None:
            async with self._commands:
                result = await self.relay.handle(command)
            outbound.put_nowait(hosts_pb2.HostFrame(result=result))

        tasks = [asyncio.create_task(write()), asyncio.create_task(report())]
        try:
            while True:
                frame = await call.read()
                if frame is grpc.aio.EOF:
                    break
                for task in tasks:
                    if task.done():
                        task.result()  # a failed writer or reporter ends the stream
                if isinstance(frame, hosts_pb2.HostCommandFrame) and frame.HasField("command"):
                    job = asyncio.create_task(answer(frame.command))
                    running.add(job)
                    job.add_done_callback(running.discard)
            code = await call.code()
            log.warning(
                "host %s: the master ended the stream: %s %s",
                self.host_id,
                code.name,
                await call.details(),
            )
        finally:
            for task in (*tasks, *running):
                task.cancel()
            for task in (*tasks, *running):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
