"""bench/ingest: items per second the master persists from 2 workers.

Starts a real master process (fresh HISCRM_HOME in a temporary directory,
loopback port) and drives its WorkerGateway with two light in-process
clients that register as synthetic workers. The master assigns them the
synthetic accounts this script creates; no real worker runs. Each client
then streams ItemsBatch frames for its accounts with a window of batches in
flight, counting the Acks the master sends after each commit:

  phase A  batches of --batch items (default 1000)
  phase B  one-item batches, on the same streams, with the same window

Both phases run in the same process against the same master, so the ratio
A/B is what matters on a noisy machine; absolute figures are printed beside
it. Phase B runs first, so it inserts into the smaller table (the ratio is
not flattered). At the end Control.GetStats must count exactly the items
sent: anything else is loss (or duplication) and the script exits 1.

Run from the repo root:  .venv/bin/python bench/ingest.py [--items N] [--batch N] [--window N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import psutil  # noqa: E402

from bench.common import accounts_by_id, cpu_seconds, out, percentile, run_cluster  # noqa: E402
from hiscrm.v1 import (  # noqa: E402
    common_pb2,
    control_pb2,
    control_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
)
from hiscrm_common.channel import open_channel  # noqa: E402
from hiscrm_common.timeutil import to_ts, utcnow  # noqa: E402
from tests.harness import Cluster  # noqa: E402

TARGET_ITEMS_PER_S = 20_000
TARGET_RATIO = 4.0
DAY_MS = 24 * 3600 * 1000  # the longest interval the master accepts
SETTLE_TIMEOUT_S = 30.0
PHASE_TIMEOUT_S = 120.0


# ---------------------------------------------------------------- a fake worker


@dataclass
class PhaseStats:
    sent_items: int = 0
    sent_batches: int = 0
    stored: int = 0
    duplicates: int = 0
    nacks: int = 0
    ack_latencies: list[float] = field(default_factory=list)


class FakeWorker:
    """Speaks the worker side of WorkerGateway.Connect, nothing more: register,
    heartbeat, ack configs, stream batches with a window, count Acks."""

    def __init__(self, worker_id: str, address: str, token: str, window: int) -> None:
        self.worker_id = worker_id
        self.address = address
        self.token = token
        self.accounts: dict[str, int] = {}  # account id -> config version
        self.changed = asyncio.Event()
        self.window_size = window
        self.window = asyncio.Semaphore(window)
        self.pending: dict[int, tuple[int, float]] = {}  # seq -> (items, sent at)
        self.drained = asyncio.Event()
        self.drained.set()
        self.seq = 0
        self.stats = PhaseStats()
        self.errors: list[str] = []
        self._channel: grpc.aio.Channel | None = None
        self._call: grpc.aio.StreamStreamCall | None = None
        self._outbound: asyncio.Queue[gateway_pb2.WorkerFrame] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self) -> None:
        self._channel = open_channel(self.address, self.token)
        call = gateway_pb2_grpc.WorkerGatewayStub(self._channel).Connect()
        self._call = call
        await call.write(
            gateway_pb2.WorkerFrame(
                register=gateway_pb2.Register(
                    worker_id=self.worker_id,
                    host="bench",
                    pid=os.getpid(),
                    version="bench",
                    platforms=[common_pb2.PLATFORM_SYNTHETIC],
                    max_accounts=100,
                    boot_id=f"{self.worker_id}-{time.time_ns()}",
                )
            )
        )
        first = await call.read()
        if first is grpc.aio.EOF or first.WhichOneof("frame") != "welcome":
            raise RuntimeError(f"{self.worker_id}: master did not welcome us: {first}")
        if first.welcome.credential:
            self.token = first.welcome.credential  # enrolled: reconnects prove it is us
        interval = max(first.welcome.heartbeat_interval_ms, 100) / 1000
        self._tasks = [
            asyncio.create_task(self._read(call)),
            asyncio.create_task(self._write(call)),
            asyncio.create_task(self._heartbeat(interval)),
        ]

    def _send(self, frame: gateway_pb2.WorkerFrame) -> None:
        self._outbound.put_nowait(frame)

    async def _write(self, call: grpc.aio.StreamStreamCall) -> None:
        while True:
            frame = await self._outbound.get()
            await call.write(frame)

    async def _heartbeat(self, interval: float) -> None:
        while True:
            self._send(
                gateway_pb2.WorkerFrame(heartbeat=gateway_pb2.Heartbeat(sent_at=to_ts(utcnow())))
            )
            await asyncio.sleep(interval)

    def _ack_config(self, config: common_pb2.AccountConfig) -> None:
        self.accounts[config.account_id] = config.config_version
        self._send(
            gateway_pb2.WorkerFrame(
                config_ack=gateway_pb2.ConfigAck(
                    account_id=config.account_id, config_version=config.config_version, ok=True
                )
            )
        )
        self.changed.set()

    async def _read(self, call: grpc.aio.StreamStreamCall) -> None:
        try:
            async for frame in call:
                kind = frame.WhichOneof("frame")
                if kind == "ack":
                    self._on_ack(frame.ack)
                elif kind == "nack":
                    self._on_nack(frame.nack)
                elif kind == "assign":
                    for config in frame.assign.accounts:
                        self._ack_config(config)
                elif kind == "config_update":
                    self._ack_config(frame.config_update.config)
                elif kind == "revoke":
                    for account_id in frame.revoke.account_ids:
                        self.accounts.pop(account_id, None)
                    self.changed.set()
        except asyncio.CancelledError:
            raise
        except grpc.aio.AioRpcError as exc:
            self.errors.append(f"stream ended: {exc.code().name}: {exc.details()}")
        self.errors.append("stream ended")
        # Nobody waits forever on a dead stream: wake the sender, which raises.
        for _ in range(self.window_size):
            self.window.release()
        self.drained.set()

    def _on_ack(self, ack: gateway_pb2.Ack) -> None:
        now = time.perf_counter()
        self.stats.stored += ack.stored
        self.stats.duplicates += ack.duplicates
        # An Ack covers every batch up to its seq.
        for seq in [s for s in self.pending if s <= ack.seq]:
            _, sent_at = self.pending.pop(seq)
            self.stats.ack_latencies.append(now - sent_at)
            self.window.release()
        if not self.pending:
            self.drained.set()

    def _on_nack(self, nack: gateway_pb2.Nack) -> None:
        self.stats.nacks += 1
        self.errors.append(f"batch {nack.seq} refused: {nack.reason}")
        if self.pending.pop(nack.seq, None) is not None:
            self.window.release()
        if not self.pending:
            self.drained.set()

    async def send_batches(self, frames: list[gateway_pb2.WorkerFrame]) -> None:
        for frame in frames:
            await self.window.acquire()
            if self.errors:
                raise RuntimeError(f"{self.worker_id}: {self.errors[0]}")
            self.seq += 1
            frame.items.seq = self.seq
            n = len(frame.items.items)
            self.pending[self.seq] = (n, time.perf_counter())
            self.drained.clear()
            self.stats.sent_items += n
            self.stats.sent_batches += 1
            self._send(frame)
        await self.drained.wait()
        if self.errors:
            raise RuntimeError(f"{self.worker_id}: {self.errors[0]}")

    async def close(self) -> None:
        if self._call is not None and not self._call.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self._call.write(
                        gateway_pb2.WorkerFrame(goodbye=gateway_pb2.Goodbye(reason="bench done"))
                    ),
                    2.0,
                )
                await asyncio.wait_for(self._call.done_writing(), 2.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._call is not None:
            self._call.cancel()
        if self._channel is not None:
            await self._channel.close()


# ---------------------------------------------------------------- items


def make_frames(
    worker: FakeWorker, tag: str, items: int, batch: int, content_bytes: int
) -> list[gateway_pb2.WorkerFrame]:
    """Built before the clock starts, so the phase measures the master, not us.
    Batches alternate between the worker's accounts."""
    accounts = sorted(worker.accounts)
    created = to_ts(utcnow())
    frames = []
    for start in range(0, items, batch):
        account_id = accounts[(start // batch) % len(accounts)]
        frame = gateway_pb2.WorkerFrame()
        frame.items.account_id = account_id
        for n in range(start, min(start + batch, items)):
            text = f"bench comment {n} from {worker.worker_id} phase {tag} "
            frame.items.items.append(
                common_pb2.Item(
                    platform=common_pb2.PLATFORM_SYNTHETIC,
                    account_id=account_id,
                    kind=common_pb2.ITEM_KIND_COMMENT,
                    platform_item_id=f"{worker.worker_id}-{tag}-{n}",
                    author_id=f"user-{n % 97}",
                    author_name=f"用户{n % 97}",
                    content=text + "x" * max(content_bytes - len(text), 0),
                    post_id=f"post-{n % 5}",
                    created_at=created,
                    raw_json=json.dumps({"n": n, "phase": tag}),
                )
            )
        frames.append(frame)
    return frames


# ---------------------------------------------------------------- phases


@dataclass
class PhaseResult:
    name: str
    batch: int
    items: int
    seconds: float
    master_cpu: float
    client_cpu: float
    stored: int
    duplicates: int
    nacks: int
    ack_p50_ms: float
    ack_p99_ms: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


async def run_phase(
    name: str,
    workers: list[FakeWorker],
    per_worker: int,
    batch: int,
    content_bytes: int,
    master: psutil.Process,
) -> PhaseResult:
    frames = {w.worker_id: make_frames(w, name, per_worker, batch, content_bytes) for w in workers}
    for w in workers:
        w.stats = PhaseStats()
    me = psutil.Process()
    master_cpu0, client_cpu0 = cpu_seconds(master), cpu_seconds(me)
    t0 = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(w.send_batches(frames[w.worker_id]) for w in workers)),
        PHASE_TIMEOUT_S,
    )
    seconds = time.perf_counter() - t0
    master_cpu, client_cpu = cpu_seconds(master) - master_cpu0, cpu_seconds(me) - client_cpu0
    latencies = [x for w in workers for x in w.stats.ack_latencies]
    return PhaseResult(
        name=name,
        batch=batch,
        items=sum(w.stats.sent_items for w in workers),
        seconds=seconds,
        master_cpu=master_cpu,
        client_cpu=client_cpu,
        stored=sum(w.stats.stored for w in workers),
        duplicates=sum(w.stats.duplicates for w in workers),
        nacks=sum(w.stats.nacks for w in workers),
        ack_p50_ms=percentile(latencies, 0.50, empty=0.0) * 1000,
        ack_p99_ms=percentile(latencies, 0.99, empty=0.0) * 1000,
    )


async def settle(
    workers: list[FakeWorker], control: control_pb2_grpc.ControlStub, accounts: int
) -> None:
    """Until every account is on one of our workers, spread evenly, all acked."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        listed = await accounts_by_id(control)
        ours = {acc: w.worker_id for w in workers for acc in w.accounts}
        loads = sorted(len(w.accounts) for w in workers)
        acked = all(
            a.worker_id and a.acked_config_version == a.config_version and ours.get(a.account_id)
            for a in listed.values()
        )
        if len(ours) == accounts and loads[-1] - loads[0] <= 1 and loads[0] > 0 and acked:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(
        "accounts did not settle on the bench workers: "
        + ", ".join(f"{w.worker_id}={sorted(w.accounts)}" for w in workers)
    )


async def bench(cluster: Cluster, args: argparse.Namespace) -> int:
    assert cluster.master is not None
    master = psutil.Process(cluster.master.pid)
    token = cluster.token()
    channel = open_channel(cluster.address, token)
    control = control_pb2_grpc.ControlStub(channel)
    enroll = cluster.enrollment_token()  # the fake workers enroll like real ones
    workers = [FakeWorker(f"bench-{i + 1}", cluster.address, enroll, args.window) for i in range(2)]
    try:
        for w in workers:
            await w.connect()
        for i in range(args.accounts):
            await control.CreateAccount(
                control_pb2.CreateAccountRequest(
                    account_id=f"bench-acc-{i}",
                    spec=common_pb2.AccountSpec(
                        platform=common_pb2.PLATFORM_SYNTHETIC,
                        display_name=f"bench {i}",
                        enabled=True,
                        monitor_interval_ms=DAY_MS,
                    ),
                )
            )
        await settle(workers, control, args.accounts)
        out(
            "accounts: "
            + "; ".join(f"{w.worker_id} holds {','.join(sorted(w.accounts))}" for w in workers)
        )

        per_worker_a = args.items // len(workers)
        per_worker_b = args.single_items // len(workers)
        warm = await run_phase(
            "warmup", workers, args.batch * 2, args.batch, args.content_bytes, master
        )
        b = await run_phase("B", workers, per_worker_b, 1, args.content_bytes, master)
        a = await run_phase("A", workers, per_worker_a, args.batch, args.content_bytes, master)
        stats = await control.GetStats(control_pb2.GetStatsRequest())
    finally:
        for w in workers:
            await w.close()
        await channel.close()

    sent = warm.items + a.items + b.items
    stored = warm.stored + a.stored + b.stored
    ratio = a.rate / b.rate if b.rate else float("inf")
    out()
    out(f"master pid {master.pid}, {os.cpu_count()} CPUs, window {args.window} batches/worker")
    header = (
        f"{'phase':<26}{'items':>9}{'seconds':>9}{'items/s':>10}{'master cpu s':>14}"
        f"{'µs cpu/item':>13}{'client cpu s':>14}{'ack p50 ms':>12}{'ack p99 ms':>12}"
    )
    out(header)
    out("-" * len(header))
    for label, r in ((f"A  batches of {args.batch}", a), ("B  one-item frames", b)):
        out(
            f"{label:<26}{r.items:>9}{r.seconds:>9.2f}{r.rate:>10.0f}{r.master_cpu:>14.2f}"
            f"{r.master_cpu / max(r.items, 1) * 1e6:>13.1f}{r.client_cpu:>14.2f}"
            f"{r.ack_p50_ms:>12.2f}{r.ack_p99_ms:>12.2f}"
        )
    out()
    out(f"ratio A/B (items/s): {ratio:.1f}x")
    out(
        f"target A >= {TARGET_ITEMS_PER_S} items/s: "
        f"{'MET' if a.rate >= TARGET_ITEMS_PER_S else 'NOT MET'} ({a.rate:.0f})"
    )
    out(
        f"target A/B >= {TARGET_RATIO:.0f}x: "
        f"{'MET' if ratio >= TARGET_RATIO else 'NOT MET'} ({ratio:.1f}x)"
    )
    out()
    problems = []
    if stats.items_total != sent:
        problems.append(f"GetStats.items_total={stats.items_total}, sent {sent}")
    if stored != sent:
        problems.append(f"acks say {stored} stored, sent {sent}")
    dups = warm.duplicates + a.duplicates + b.duplicates
    nacks = warm.nacks + a.nacks + b.nacks
    if dups or nacks:
        problems.append(f"{dups} duplicates, {nacks} nacks")
    out(
        f"check: sent {sent}, acked as stored {stored}, GetStats.items_total "
        f"{stats.items_total}, items_ingested {stats.items_ingested}, batches {stats.batches}, "
        f"frames_rejected {stats.frames_rejected}"
    )
    if problems:
        out("LOSS OR MISMATCH: " + "; ".join(problems))
        return 1
    out("no loss: every item sent is stored exactly once")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200_000, help="phase A items (all workers)")
    parser.add_argument(
        "--single-items", type=int, default=10_000, help="phase B items (one per frame)"
    )
    parser.add_argument("--batch", type=int, default=1000, help="items per batch in phase A")
    parser.add_argument("--window", type=int, default=8, help="batches in flight per worker")
    parser.add_argument("--accounts", type=int, default=4, help="synthetic accounts (>= 2)")
    parser.add_argument("--content-bytes", type=int, default=200, help="size of item content")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs, db)")
    args = parser.parse_args(argv)
    if args.accounts < 2 or args.batch < 1 or args.window < 1:
        parser.error("--accounts must be >= 2, --batch and --window >= 1")

    def run(cluster: Cluster) -> int:
        # The production heartbeat (2 s); the harness default of 0.5 s is for tests.
        cluster.start_master(HISCRM_HEARTBEAT_MS="2000")
        out(f"master on {cluster.address}, home {cluster.home}")
        return asyncio.run(bench(cluster, args))

    return run_cluster("ingest", run, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
