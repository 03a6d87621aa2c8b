"""bench/fleet's simulated worker streams: the child processes that speak
the worker side of WorkerGateway.Connect and nothing more (register,
heartbeat with plausible figures, ack every Assign/ConfigUpdate, drop what a
Revoke names), reporting their counters to the parent as JSON lines."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import psutil  # noqa: E402

from bench.common import (  # noqa: E402
    cpu_seconds,
)
from hiscrm.v1 import (  # noqa: E402
    common_pb2,
    gateway_pb2,
    gateway_pb2_grpc,
)
from hiscrm_common.channel import client_options  # noqa: E402
from hiscrm_common.timeutil import to_ts, utcnow  # noqa: E402

MB = 1024 * 1024


@dataclass
class ChildCounters:
    heartbeats: int = 0
    assigns: int = 0
    config_updates: int = 0
    revokes: int = 0
    acks_sent: int = 0
    states_sent: int = 0


class SimWorker:
    """One worker stream: register, heartbeat, ack configs, hold accounts."""

    def __init__(
        self,
        worker_id: str,
        address: str,
        token: str,
        base: float,
        max_accounts: int,
        counters: ChildCounters,
    ) -> None:
        self.worker_id = worker_id
        self.address = address
        self.token = token
        self.base = base
        self.max_accounts = max_accounts
        self.counters = counters
        self.held: dict[str, int] = {}  # account id -> config version
        self.errors: list[str] = []
        self.rng = random.Random(worker_id)
        self._queue: asyncio.Queue[gateway_pb2.WorkerFrame] = asyncio.Queue()
        self._channel: grpc.aio.Channel | None = None
        self._call: grpc.aio.StreamStreamCall | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    async def connect(self) -> None:
        # A connection of its own, as a real worker has (gRPC would otherwise
        # share one TCP connection among channels to the same target).
        options = [*client_options(), ("grpc.use_local_subchannel_pool", 1)]
        self._channel = grpc.aio.insecure_channel(self.address, options=options)
        call = gateway_pb2_grpc.WorkerGatewayStub(self._channel).Connect(
            metadata=(("authorization", f"Bearer {self.token}"),)
        )
        self._call = call
        await call.write(
            gateway_pb2.WorkerFrame(
                register=gateway_pb2.Register(
                    worker_id=self.worker_id,
                    host="bench-fleet",
                    pid=os.getpid(),
                    version="bench",
                    platforms=[common_pb2.PLATFORM_SYNTHETIC],
                    max_accounts=self.max_accounts,
                    boot_id=f"{self.worker_id}-{time.time_ns()}",
                )
            )
        )
        first = await asyncio.wait_for(call.read(), 60)
        if first is grpc.aio.EOF or first.WhichOneof("frame") != "welcome":
            raise RuntimeError(f"{self.worker_id}: not welcomed: {first}")
        if first.welcome.credential:
            self.token = first.welcome.credential  # enrolled: reconnects prove it is us
        interval = max(first.welcome.heartbeat_interval_ms, 100) / 1000
        self._tasks = [
            asyncio.create_task(self._read(call)),
            asyncio.create_task(self._write(call)),
            asyncio.create_task(self._beat(interval)),
        ]

    def _heartbeat(self) -> gateway_pb2.WorkerFrame:
        n = len(self.held)
        now = to_ts(utcnow())
        rss = (180 + 45 * n) * MB + self.rng.randrange(8 * MB)
        browser = (150 + 60 * n) * MB + self.rng.randrange(32 * MB) if n else 0
        return gateway_pb2.WorkerFrame(
            heartbeat=gateway_pb2.Heartbeat(
                sent_at=now,
                stats=common_pb2.ProcessStats(
                    # The marker (c) looks for: seconds since the bench began,
                    # to the millisecond; never the same value twice.
                    cpu_percent=round(time.time() - self.base, 3),
                    rss_bytes=rss,
                    uss_bytes=rss * 4 // 5,
                    process_count=1 + (2 + 2 * n if n else 0),
                    browser_rss_bytes=browser,
                    browser_process_count=2 + 2 * n if n else 0,
                ),
                accounts=[
                    gateway_pb2.AccountStatus(
                        account_id=account_id,
                        state=common_pb2.RUN_STATE_RUNNING,
                        config_version=version,
                        last_cycle_at=now,
                    )
                    for account_id, version in self.held.items()
                ],
                outbox_pending=0,
            )
        )

    async def _beat(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(self.rng.uniform(0, interval))  # spread the fleet's beats
        next_at = loop.time()
        while True:
            self._queue.put_nowait(self._heartbeat())
            self.counters.heartbeats += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _write(self, call: grpc.aio.StreamStreamCall) -> None:
        while True:
            frame = await self._queue.get()
            await call.write(frame)
            self._queue.task_done()

    def _apply(self, config: common_pb2.AccountConfig) -> None:
        new = config.account_id not in self.held
        self.held[config.account_id] = config.config_version
        self._queue.put_nowait(
            gateway_pb2.WorkerFrame(
                config_ack=gateway_pb2.ConfigAck(
                    account_id=config.account_id, config_version=config.config_version, ok=True
                )
            )
        )
        self.counters.acks_sent += 1
        if new:  # what a real worker reports once the monitor loop runs
            self._queue.put_nowait(
                gateway_pb2.WorkerFrame(
                    account_state=gateway_pb2.AccountState(
                        account_id=config.account_id,
                        state=common_pb2.RUN_STATE_RUNNING,
                        at=to_ts(utcnow()),
                    )
                )
            )
            self.counters.states_sent += 1

    async def _read(self, call: grpc.aio.StreamStreamCall) -> None:
        # read(), not `async for`: grpc.aio refuses to mix the two styles on a
        # call, and connect() already read the Welcome with read().
        try:
            while True:
                frame = await call.read()
                if frame is grpc.aio.EOF:
                    break
                kind = frame.WhichOneof("frame")
                if kind == "assign":
                    self.counters.assigns += 1
                    for config in frame.assign.accounts:
                        self._apply(config)
                elif kind == "config_update":
                    self.counters.config_updates += 1
                    self._apply(frame.config_update.config)
                elif kind == "revoke":
                    self.counters.revokes += 1
                    for account_id in frame.revoke.account_ids:
                        self.held.pop(account_id, None)
        except asyncio.CancelledError:
            raise
        except grpc.aio.AioRpcError as exc:
            if not self._closing:
                self.errors.append(f"stream failed: {exc.code().name}: {exc.details()}")
            return
        except Exception as exc:  # counted and reported, never a silent dead reader
            self.errors.append(f"reader failed: {type(exc).__name__}: {exc}")
            return
        if not self._closing:
            self.errors.append("stream ended by the master")

    async def close(self) -> None:
        self._closing = True
        call = self._call
        if call is not None and not call.done():
            with contextlib.suppress(Exception):
                # Let the writer drain what it queued, then say goodbye.
                for task in self._tasks[2:]:
                    task.cancel()
                await asyncio.wait_for(self._queue.join(), 2.0)
                self._tasks[1].cancel()
                await asyncio.wait_for(
                    call.write(
                        gateway_pb2.WorkerFrame(goodbye=gateway_pb2.Goodbye(reason="bench done"))
                    ),
                    5.0,
                )
                await asyncio.wait_for(call.done_writing(), 5.0)
                await asyncio.wait_for(call.code(), 10.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if call is not None:
            call.cancel()
        if self._channel is not None:
            await self._channel.close()


def emit(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def child_main(args: argparse.Namespace, token: str) -> int:
    counters = ChildCounters()
    workers = [
        SimWorker(f"fleet-{i:04d}", args.address, token, args.base, args.max_accounts, counters)
        for i in range(args.first, args.first + args.count)
    ]
    gate = asyncio.Semaphore(args.connect_concurrency)

    async def connect(w: SimWorker) -> None:
        async with gate:
            await w.connect()

    results = await asyncio.gather(*(connect(w) for w in workers), return_exceptions=True)
    failed = [f"{w.worker_id}: {r!r}" for w, r in zip(workers, results, strict=True) if r]
    emit({"ready": len(workers) - len(failed), "failed": failed[:5]})

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    me = psutil.Process()
    while True:
        line = (await reader.readline()).strip()
        if line == b"stats":
            errors = [f"{w.worker_id}: {e}" for w in workers for e in w.errors]
            emit(
                {
                    "stats": counters.__dict__,
                    "held": sum(len(w.held) for w in workers),
                    "errors": len(errors),
                    "first_errors": errors[:3],
                    "cpu": cpu_seconds(me),
                }
            )
        elif line == b"held":
            emit({"held": {w.worker_id: sorted(w.held) for w in workers}})
        else:  # "stop", or EOF: the parent went away
            break
    await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
    emit({"stopped": True})
    return 0


# ====================================================================== parent side
