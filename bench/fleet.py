"""bench/fleet: one master, 1,000 worker streams, 10,000 accounts.

Starts a real master process (fresh HISCRM_HOME, loopback, the production
heartbeat of 2 s) and --procs child processes of this same script
(`--child`), each opening its share of --workers simulated worker streams:
light asyncio clients, one TCP connection each, that speak the worker side of
WorkerGateway.Connect and nothing more. Each registers with platforms
[SYNTHETIC] and max_accounts --max-accounts, heartbeats every Welcome
interval with plausible process figures and the AccountStatus of every
account it holds, answers every Assign/ConfigUpdate with ConfigAck (and a
RUNNING AccountState for an account it did not hold), and drops what a
Revoke names. No browser, no monitor loop: the accounts are only held.

Then, in one run:

  registration  time until every stream is welcomed and ONLINE
  baseline      the master's CPU with every stream heartbeating, no accounts
  (a) assign    --accounts synthetic accounts created through
                Control.CreateAccount (enabled, 24 h interval), then the time
                from the last CreateAccount until GetStats says
                pending_config_acks == 0 and every account is RUNNING
  (b) steady    --steady seconds with all heartbeats flowing: the master's CPU
                share of one core (psutil cpu_times delta / wall), RSS/PSS/USS
  (c) hb -> db  every heartbeat carries cpu_percent = seconds since the bench
                started (ms resolution), a value that never repeats; a thread
                polls the SQLite file (workers.cpu_percent, last_heartbeat_at)
                for a sample of workers every --poll-ms and records when each
                new value becomes visible: p50/p99 of visible - sent, and of
                the master's receipt (last_heartbeat_at) - sent
  (d) queries   Control.ListWorkers, ListAccounts(page_size=1000), a full
                ListAccounts paging, GetStats: p50/max of several calls
  teardown      every stream says Goodbye; time until no worker is ONLINE

--order accounts-first creates every account before any stream connects and
times (a) from the last stream's Welcome: the fleet coming up to find them
all waiting (a cold start, or every worker back after a master restart).

Correctness (exit 1): a stream that dies, an account that never settles, an
account held by no stream or by two, the database's account states
disagreeing with the master's memory, or a live worker marked MISSING for
silence before the teardown. A missed target is reported, not an error.

--profile DIR runs `py-spy record` on the master for each phase (raw
collapsed stacks in DIR/<phase>.txt) and prints the hottest frames; it
perturbs the figures a little, so take the figures from a run without it.

Run from the repo root:
  .venv/bin/python bench/fleet.py [--workers 1000] [--accounts 10000] [--procs 4]
                                  [--steady 30] [--order streams-first|accounts-first]
                                  [--profile DIR] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import psutil  # noqa: E402

from bench.common import (  # noqa: E402
    EventWatcher,
    cpu_seconds,
    load_average,
    out,
    percentile,
    run_cluster,
)
from hiscrm.v1 import (  # noqa: E402
    common_pb2,
    control_pb2,
    control_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
)
from hiscrm_common.channel import client_options, open_channel  # noqa: E402
from hiscrm_common.timeutil import to_ts, utcnow  # noqa: E402
from tests.harness import Cluster  # noqa: E402

TARGET_SETTLE_S = 5.0
TARGET_CPU_SHARE = 0.25
DAY_MS = 24 * 3600 * 1000  # the longest interval the master accepts: nothing runs
HEARTBEAT_MS = 2000
SETTLE_TIMEOUT_S = 90.0
STALE_AFTER_S = 10.0  # acked, yet GetStats (the database) still shows STARTING
MB = 1024 * 1024
RUNNING = "RUN_STATE_RUNNING"


def raise_open_files(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ====================================================================== child side


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


class Child:
    def __init__(self, proc: asyncio.subprocess.Process, first: int, count: int) -> None:
        self.proc = proc
        self.first = first
        self.count = count

    async def read(self, within_s: float = 120.0) -> dict[str, object]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), within_s)
        if not line:
            raise RuntimeError(f"child {self.proc.pid} exited (code {self.proc.returncode})")
        return json.loads(line)

    async def ask(self, command: str, within_s: float = 60.0) -> dict[str, object]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self.read(within_s)


class Profiler:
    """py-spy record on the master, one raw collapsed-stack file per phase."""

    def __init__(self, directory: Path | None, pid: int) -> None:
        self.directory = directory
        self.pid = pid
        self.exe = Path(sys.executable).parent / "py-spy"
        self.current: tuple[str, subprocess.Popen[bytes]] | None = None
        self.files: list[tuple[str, Path]] = []
        self.seconds: dict[str, float] = {}
        self._started = 0.0
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            if not self.exe.exists():
                out(f"--profile: {self.exe} missing (.venv/bin/pip install py-spy); not profiling")
                self.directory = None

    def start(self, phase: str) -> None:
        self.stop()
        if self.directory is None:
            return
        path = self.directory / f"{phase}.txt"
        cmd = [str(self.exe), "record", "-p", str(self.pid), "-o", str(path)]
        cmd += ["--format", "raw", "--rate", "100", "--gil", "--nonblocking"]
        log = (self.directory / f"{phase}.py-spy.log").open("wb")
        popen = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.current = (phase, popen)
        self.files.append((phase, path))
        self._started = time.perf_counter()

    def stop(self) -> None:
        if self.current is None:
            return
        phase, popen = self.current
        self.current = None
        self.seconds[phase] = time.perf_counter() - self._started
        if popen.poll() is None:
            popen.send_signal(signal.SIGINT)
            try:
                popen.wait(30)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(5)

    def report(self, top: int = 14) -> None:
        for phase, path in self.files:
            if not path.exists():
                out(f"profile {phase}: no output (see {path.with_suffix('.py-spy.log')})")
                continue
            summarize_profile(phase, path, self.seconds.get(phase, 0.0), top)


def _frame_name(frame: str) -> str:
    """'rebalance (master/scheduler.py:230)' -> 'rebalance (master/scheduler.py)'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    path = path or where
    for marker in ("/site-packages/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summarize_profile(phase: str, path: Path, seconds: float, top: int) -> None:
    """Shares are of the phase's wall time at 100 Hz: 50% = the GIL held half
    the time by that frame (and what it called, for inclusive)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame_name(f) for f in stack.split(";") if f]
        for name in set(frames):
            inclusive[name] += n
        if frames:
            own[frames[-1]] += n
    wall = max(seconds * 100, total, 1)
    out(
        f"\nprofile {phase}: {seconds:.1f} s, GIL held in {100 * total / wall:.0f}% of "
        f"{wall:.0f} samples ({path})"
    )
    if not total:
        return
    ours = [
        (name, n)
        for name, n in inclusive.most_common()
        if "(master/" in name or "(hiscrm_common/" in name
    ]
    out("  inclusive, project code:")
    for name, n in ours[:top]:
        out(f"    {100 * n / wall:5.1f}%  {name}")
    out("  self time:")
    for name, n in own.most_common(top):
        out(f"    {100 * n / wall:5.1f}%  {name}")


@dataclass
class LagSample:
    visible_s: list[float] = field(default_factory=list)  # visible in the file - sent
    received_s: list[float] = field(default_factory=list)  # master's receipt - sent
    polls: int = 0
    poll_s: list[float] = field(default_factory=list)


def parse_db_time(value: object) -> float | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class LagPoller(threading.Thread):
    """Polls the workers table for the sampled workers; a new cpu_percent is a
    new heartbeat made visible; its value says when it was sent."""

    def __init__(self, db: Path, worker_ids: list[str], base: float, poll_s: float) -> None:
        super().__init__(name="lag-poller", daemon=True)
        self.db = db
        self.worker_ids = worker_ids
        self.base = base
        self.poll_s = poll_s
        self.stop_event = threading.Event()
        self.recording = threading.Event()
        self.result = LagSample()
        self.error: str = ""

    def run(self) -> None:
        try:
            conn = sqlite3.connect(str(self.db), timeout=5)
            marks = ",".join("?" * len(self.worker_ids))
            query = (
                "SELECT worker_id, cpu_percent, last_heartbeat_at FROM workers "
                f"WHERE worker_id IN ({marks})"
            )
            last: dict[str, float] = {}
            while not self.stop_event.is_set():
                t0 = time.time()
                rows = conn.execute(query, self.worker_ids).fetchall()
                seen = time.time()
                if self.recording.is_set():
                    self.result.polls += 1
                    self.result.poll_s.append(seen - t0)
                for worker_id, value, received in rows:
                    previous = last.get(worker_id)
                    last[worker_id] = value
                    if previous is None or value == previous or not self.recording.is_set():
                        continue  # first sight (may be old) or nothing new
                    sent = self.base + value
                    self.result.visible_s.append(seen - sent)
                    at = parse_db_time(received)
                    if at is not None:
                        self.result.received_s.append(at - sent)
                self.stop_event.wait(self.poll_s)
            conn.close()
        except Exception as exc:  # reported, not fatal to the run
            self.error = f"{type(exc).__name__}: {exc}"


async def timed(call: object, request: object, repeat: int) -> tuple[list[float], object]:
    times = []
    response = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = await call(request, timeout=60)  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return times, response


def ms(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 0.5) * 1000:8.1f} ms  max {max(values) * 1000:8.1f} ms"
        f"  (n={len(values)})"
    )


async def stats_of(children: list[Child]) -> dict[str, float]:
    replies = await asyncio.gather(*(c.ask("stats") for c in children))
    total: dict[str, float] = defaultdict(float)
    first_errors: list[str] = []
    for r in replies:
        for k, v in r["stats"].items():  # type: ignore[union-attr]
            total[k] += v
        total["held"] += r["held"]  # type: ignore[operator]
        total["errors"] += r["errors"]  # type: ignore[operator]
        total["cpu"] += r["cpu"]  # type: ignore[operator]
        first_errors += r["first_errors"]  # type: ignore[operator]
    if first_errors:
        out(f"  stream errors: {first_errors[:3]}")
    return total


def thread_cpu(proc: psutil.Process) -> dict[str, float]:
    """CPU seconds by kind of thread: the event loop (the main thread), gRPC's
    C-core threads (named by gRPC), and the other Python threads (the asyncio
    default executor that runs every database call, gRPC's poller)."""
    groups: dict[str, float] = defaultdict(float)
    for t in proc.threads():
        try:
            comm = Path(f"/proc/{proc.pid}/task/{t.id}/comm").read_text().strip()
        except OSError:
            continue
        if t.id == proc.pid:
            kind = "event loop"
        elif comm.startswith(("event_engine", "grpc", "lifeguard", "default-execut", "resolver")):
            kind = "gRPC core"
        else:
            kind = "executor (DB) + other Python threads"
        groups[kind] += t.user_time + t.system_time
    return groups


def memory_line(proc: psutil.Process) -> str:
    info = proc.memory_full_info()
    return (
        f"RSS {info.rss / MB:.0f} MB, PSS {info.pss / MB:.0f} MB, USS {info.uss / MB:.0f} MB, "
        f"{proc.num_threads()} threads, {proc.num_fds()} fds"
    )


async def create_accounts(
    control: control_pb2_grpc.ControlStub, count: int, concurrency: int
) -> tuple[float, float, list[float], list[str]]:
    """CreateAccount for every account, `concurrency` calls in flight.
    Returns (first call, last reply, latencies, errors)."""
    errors: list[str] = []
    latencies: list[float] = []
    ids = iter(range(count))

    async def creator() -> None:
        for i in ids:
            t0 = time.perf_counter()
            try:
                await control.CreateAccount(
                    control_pb2.CreateAccountRequest(
                        account_id=f"fleet-acc-{i:05d}",
                        spec=common_pb2.AccountSpec(
                            platform=common_pb2.PLATFORM_SYNTHETIC,
                            display_name=f"fleet {i}",
                            enabled=True,
                            monitor_interval_ms=DAY_MS,
                        ),
                    ),
                    timeout=60,
                )
                latencies.append(time.perf_counter() - t0)
            except grpc.aio.AioRpcError as exc:
                errors.append(f"fleet-acc-{i:05d}: {exc.code().name}: {exc.details()}")

    t0 = time.perf_counter()
    await asyncio.gather(*(creator() for _ in range(concurrency)))
    return t0, time.perf_counter(), latencies, errors


@dataclass
class Settle:
    acked: float | None = None  # every account held by a stream, no config ack pending
    settled: float | None = None  # ... and GetStats.accounts_by_state all RUNNING
    by_state: dict[str, int] = field(default_factory=dict)
    pending: int = -1
    held: int = 0
    getstats: list[float] = field(default_factory=list)


class ConsoleWatcher(EventWatcher):
    """What an operator's console subscribed to everything would receive."""

    def __init__(self, control: control_pb2_grpc.ControlStub) -> None:
        super().__init__(control, [])
        self.by_kind: Counter[str] = Counter()

    def on_event(self, event: control_pb2.Event, now: float) -> None:
        self.by_kind[event.WhichOneof("event") or "?"] += 1


def loadavg() -> str:
    return f"{load_average()} on {os.cpu_count()} CPUs"


class FleetBench:
    def __init__(self, cluster: Cluster, args: argparse.Namespace, base: float) -> None:
        assert cluster.master is not None
        self.cluster = cluster
        self.args = args
        self.base = base
        self.master = psutil.Process(cluster.master.pid)
        self.profiler = Profiler(Path(args.profile) if args.profile else None, self.master.pid)
        self.channel = open_channel(cluster.address, cluster.token())
        self.control = control_pb2_grpc.ControlStub(self.channel)
        self.children: list[Child] = []
        self.problems: list[str] = []
        self.created = 0
        self.poller: LagPoller | None = None
        self.console = ConsoleWatcher(self.control) if args.watch else None

    # ------------------------------------------------------------ phases

    async def spawn(self) -> float:
        """Start the client processes; returns when every stream is welcomed."""
        args = self.args
        share = -(-args.workers // args.procs)
        t0 = time.perf_counter()
        for first in range(0, args.workers, share):
            count = min(share, args.workers - first)
            log = (self.cluster.home / "logs" / f"fleet-child-{first}.log").open("ab")
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(SCRIPT),
                "--child",
                "--address",
                self.cluster.address,
                "--token-file",
                str(self.cluster.home / "token"),
                "--base",
                repr(self.base),
                "--first",
                str(first),
                "--count",
                str(count),
                "--max-accounts",
                str(args.max_accounts),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                limit=64 * MB,
                cwd=ROOT,
            )
            log.close()
            self.children.append(Child(proc, first, count))
        ready = await asyncio.gather(*(c.read(180) for c in self.children))
        t_welcomed = time.perf_counter()
        welcomed = sum(int(r["ready"]) for r in ready)  # type: ignore[call-overload]
        for r in ready:
            if r["failed"]:
                out(f"  connect failures: {r['failed']}")
        deadline = t_welcomed + 60
        while True:
            online = await self.online_count()
            t_online = time.perf_counter()
            if online >= welcomed or t_online > deadline:
                break
            await asyncio.sleep(0.2)
        out(
            f"\nregistration: {welcomed}/{args.workers} streams welcomed in "
            f"{t_welcomed - t0:.1f} s, {online} ONLINE in ListWorkers after {t_online - t0:.1f} s"
        )
        if welcomed != args.workers:
            self.problems.append(f"only {welcomed}/{args.workers} streams were welcomed")
        out(f"    master after registration: {memory_line(self.master)}")
        return t_welcomed

    async def online_count(self) -> int:
        resp = await self.control.ListWorkers(control_pb2.ListWorkersRequest(), timeout=60)
        return sum(1 for w in resp.workers if w.state == common_pb2.WORKER_STATE_ONLINE)

    async def baseline(self) -> None:
        """Heartbeats alone; the master's CPU in 2 s slices from the moment every
        stream is welcomed, so that the registration's after-effects show."""
        slices: list[float] = []
        c, w = cpu_seconds(self.master), time.perf_counter()
        for _ in range(3):  # not measured: registration settles
            await asyncio.sleep(2.0)
            c2, w2 = cpu_seconds(self.master), time.perf_counter()
            slices.append((c2 - c) / (w2 - w))
            c, w = c2, w2
        s0, c0, w0 = await self.stats(), cpu_seconds(self.master), time.perf_counter()
        c, w = c0, w0
        while w - w0 < self.args.baseline - 0.5:
            await asyncio.sleep(2.0)
            c2, w2 = cpu_seconds(self.master), time.perf_counter()
            slices.append((c2 - c) / (w2 - w))
            c, w = c2, w2
        s1, c1, w1 = await self.stats(), cpu_seconds(self.master), time.perf_counter()
        beats = s1["heartbeats"] - s0["heartbeats"]
        share = (c1 - c0) / (w1 - w0)
        out(
            f"\nbaseline ({w1 - w0:.0f} s, heartbeats only, 0 accounts): master CPU "
            f"{100 * share:.1f}% of one core, {beats / (w1 - w0):.0f} heartbeats/s, "
            f"{(c1 - c0) / max(beats, 1) * 1e6:.0f} µs CPU per heartbeat"
        )
        out(
            "    master CPU per 2 s since the last Welcome (first 3 not counted): "
            + " ".join(f"{100 * x:.0f}%" for x in slices)
        )

    async def create(self) -> float:
        """CreateAccount for all; returns when the last one was answered."""
        args = self.args
        c0 = cpu_seconds(self.master)
        t_first, t_last, latencies, errors = await create_accounts(
            self.control, args.accounts, args.create_concurrency
        )
        if errors:
            self.problems.append(f"{len(errors)} CreateAccount errors, e.g. {errors[0]}")
        self.created = args.accounts - len(errors)
        seconds = t_last - t_first
        out(
            f"    {self.created} accounts created in {seconds:.1f} s "
            f"({self.created / seconds:.0f}/s, {args.create_concurrency} calls in flight; "
            f"CreateAccount p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms; master CPU "
            f"{cpu_seconds(self.master) - c0:.1f} s = "
            f"{(cpu_seconds(self.master) - c0) / max(self.created, 1) * 1000:.1f} ms/account)"
        )
        return t_last

    async def settle(self, since: float, what: str) -> None:
        c0 = cpu_seconds(self.master)
        result = await self.wait_settled(since)
        cpu = cpu_seconds(self.master) - c0

        def fmt(value: float | None) -> str:
            return f"{value:.2f} s" if value is not None else "NEVER"

        out(
            f"    {what} -> every account held by a stream and acked "
            f"(GetStats.pending_config_acks 0): {fmt(result.acked)}"
        )
        out(
            f"    {what} -> ... and all RUNNING in GetStats.accounts_by_state: "
            f"{fmt(result.settled)}  (master CPU over the wait {cpu:.1f} s)"
        )
        if result.settled is None:
            out(
                f"        GetStats still says {result.by_state}, pending_config_acks "
                f"{result.pending}, streams hold {result.held}"
            )
        if result.acked is None:
            self.problems.append(
                f"accounts never settled: {result.by_state}, pending {result.pending}"
            )
        settled = result.settled
        met = settled is not None and settled <= TARGET_SETTLE_S
        out(
            f"    target settle <= {TARGET_SETTLE_S:.0f} s: {'MET' if met else 'NOT MET'}"
            + ("" if settled is not None else " (never all RUNNING in GetStats)")
        )
        s = await self.stats()
        out(
            f"    the streams got {int(s['assigns'])} Assign frames, {int(s['config_updates'])} "
            f"ConfigUpdate, {int(s['revokes'])} Revoke; hold {int(s['held'])} accounts"
        )

    async def wait_settled(self, since: float) -> Settle:
        result = Settle()
        acked_at: float | None = None
        stats = None
        deadline = time.perf_counter() + SETTLE_TIMEOUT_S
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            stats = await self.control.GetStats(control_pb2.GetStatsRequest(), timeout=30)
            now = time.perf_counter()
            result.getstats.append(now - t0)
            by_state = dict(stats.accounts_by_state)
            if acked_at is None and stats.pending_config_acks == 0:
                result.held = int((await self.stats())["held"])
                if result.held == self.created:
                    acked_at = t0  # GetStats read that state at t0 or later
            if acked_at is not None and by_state.get(RUNNING, 0) == self.created:
                result.settled = t0 - since
                break
            if acked_at is not None and now - acked_at > STALE_AFTER_S:
                break  # acknowledged everywhere, yet the database keeps other states
            await asyncio.sleep(0.05)
        if stats is not None:
            result.by_state = dict(stats.accounts_by_state)
            result.pending = stats.pending_config_acks
        result.acked = None if acked_at is None else max(0.0, acked_at - since)
        if result.settled is not None:
            result.settled = max(0.0, result.settled)
        return result

    async def steady(self) -> None:
        args = self.args
        step = max(1, args.workers // args.lag_sample)
        sample = [f"fleet-{i:04d}" for i in range(0, args.workers, step)]
        poller = LagPoller(self.cluster.home / "hiscrm.db", sample, self.base, args.poll_ms / 1000)
        self.poller = poller
        poller.start()
        await asyncio.sleep(4.0)  # let the tail of (a) drain before measuring
        self.profiler.start("steady")
        poller.recording.set()
        s0, c0, w0 = await self.stats(), cpu_seconds(self.master), time.perf_counter()
        threads0 = thread_cpu(self.master)
        await asyncio.sleep(args.steady)
        s1, c1, w1 = await self.stats(), cpu_seconds(self.master), time.perf_counter()
        threads1 = thread_cpu(self.master)
        poller.recording.clear()
        self.profiler.stop()
        beats = s1["heartbeats"] - s0["heartbeats"]
        share = (c1 - c0) / (w1 - w0)
        out(
            f"\n(b) steady state, {w1 - w0:.0f} s ({loadavg()}): master CPU {100 * share:.1f}% "
            f"of one core ({c1 - c0:.1f} s CPU), {beats / (w1 - w0):.0f} heartbeats/s carrying "
            f"{int(s1['held'])} AccountStatus in all, "
            f"{(c1 - c0) / max(beats, 1) * 1e6:.0f} µs master CPU per heartbeat"
        )
        out(
            "    by thread: "
            + ", ".join(
                f"{kind} {100 * (threads1[kind] - threads0.get(kind, 0.0)) / (w1 - w0):.1f}%"
                for kind in sorted(threads1)
            )
        )
        out(f"    master memory: {memory_line(self.master)}")
        out(
            f"    client processes: {(s1['cpu'] - s0['cpu']) / (w1 - w0) * 100:.0f}% of one core"
            f" in all ({len(self.children)} processes)"
        )
        out(
            f"    target heartbeats <= {100 * TARGET_CPU_SHARE:.0f}% of one core: "
            f"{'MET' if share <= TARGET_CPU_SHARE else 'NOT MET'} ({100 * share:.1f}%)"
        )
        if s1["errors"]:
            self.problems.append(f"{int(s1['errors'])} streams failed")

        lag = poller.result
        out(
            f"\n(c) heartbeat -> SQLite, {len(sample)} sampled workers, "
            f"{len(lag.visible_s)} new values seen, {args.poll_ms} ms polls "
            f"(a poll takes {percentile(lag.poll_s, 0.5) * 1000:.1f} ms)"
        )
        if poller.error:
            out(f"    poller error: {poller.error}")
        if lag.visible_s:
            out(
                f"    sent -> visible in workers.cpu_percent: p50 "
                f"{percentile(lag.visible_s, 0.5) * 1000:.0f} ms, p99 "
                f"{percentile(lag.visible_s, 0.99) * 1000:.0f} ms, max "
                f"{max(lag.visible_s) * 1000:.0f} ms"
            )
        if lag.received_s:
            out(
                f"    sent -> master receipt (workers.last_heartbeat_at): p50 "
                f"{percentile(lag.received_s, 0.5) * 1000:.0f} ms, p99 "
                f"{percentile(lag.received_s, 0.99) * 1000:.0f} ms"
            )
        expected = len(sample) * args.steady / (HEARTBEAT_MS / 1000)
        if len(lag.visible_s) < 0.8 * expected:
            out(
                f"    note: {len(lag.visible_s)} of ~{expected:.0f} heartbeats became visible; "
                "the others were overwritten in memory before a flush"
            )

    async def queries(self) -> list[control_pb2.Account]:
        control = self.control
        lw_times, lw = await timed(control.ListWorkers, control_pb2.ListWorkersRequest(), 5)
        la_times, _ = await timed(
            control.ListAccounts, control_pb2.ListAccountsRequest(page_size=1000), 5
        )
        gs_times, _ = await timed(control.GetStats, control_pb2.GetStatsRequest(), 5)
        t0 = time.perf_counter()
        listing: list[control_pb2.Account] = []
        token = ""
        pages = 0
        while True:
            page = await control.ListAccounts(
                control_pb2.ListAccountsRequest(page_size=1000, page_token=token), timeout=60
            )
            listing.extend(page.accounts)
            pages += 1
            token = page.next_page_token
            if not token:
                break
        t_pages = time.perf_counter() - t0
        workers = len(lw.workers)  # type: ignore[attr-defined]
        out(f"\n(d) Control at {workers} workers / {len(listing)} accounts:")
        out(f"    ListWorkers ({workers} workers)                 {ms(lw_times)}")
        out(f"    ListAccounts(page_size=1000), first page     {ms(la_times)}")
        out(
            f"    ListAccounts, all {pages} pages                 "
            f"{t_pages * 1000:8.1f} ms in all ({t_pages / pages * 1000:.1f} ms/page)"
        )
        out(f"    GetStats                                     {ms(gs_times)}")
        return listing

    async def check(self, listing: list[control_pb2.Account]) -> None:
        held = await asyncio.gather(*(c.ask("held") for c in self.children))
        holders: dict[str, list[str]] = defaultdict(list)
        for reply in held:
            for worker_id, ids in reply["held"].items():  # type: ignore[union-attr]
                for account_id in ids:
                    holders[account_id].append(worker_id)
        wrong = [
            a.account_id
            for a in listing
            if holders.get(a.account_id) != [a.worker_id]
            or a.state != common_pb2.RUN_STATE_RUNNING
            or a.acked_config_version != a.config_version
        ]
        doubles = [a for a, ws in holders.items() if len(ws) > 1]
        loads = Counter(a.worker_id for a in listing)
        out(
            f"\ncheck: {len(listing)} accounts listed, {len(holders)} held by the streams, "
            f"{len(doubles)} held twice, {len(wrong)} whose holder, state or acked version "
            f"disagrees; accounts per worker min {min(loads.values(), default=0)} max "
            f"{max(loads.values(), default=0)}"
        )
        if len(listing) != self.created or wrong or doubles:
            self.problems.append(
                f"assignment disagrees with the streams: {len(wrong)} accounts, e.g. {wrong[:3]}"
            )
        path = self.cluster.home / "hiscrm.db"
        with contextlib.closing(sqlite3.connect(str(path))) as db:
            rows = db.execute("SELECT account_id, state, worker_id FROM accounts").fetchall()
        in_db = {a: (state, worker) for a, state, worker in rows}
        stale = [
            a.account_id
            for a in listing
            if in_db.get(a.account_id) != (common_pb2.RunState.Name(a.state), a.worker_id or None)
        ]
        kinds = Counter(in_db[a][0] for a in stale if a in in_db)
        out(
            f"       the database's state/worker differs from the master's memory for "
            f"{len(stale)} accounts {dict(kinds) if kinds else ''}"
        )
        if stale:
            self.problems.append(
                f"{len(stale)} accounts have a stale state in the database (memory RUNNING), "
                f"e.g. {stale[:3]}"
            )

    def silent_missing(self) -> int:
        """Workers the master declared MISSING for silence: every stream here
        heartbeats on time, so each one is the master's event loop stalling
        longer than the 5 s of allowed silence (its reader did not get to the frames)."""
        log = self.cluster.home / "logs" / "master.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return text.count("WORKER_STATE_MISSING: no heartbeat for")

    async def teardown(self) -> None:
        before = self.silent_missing()
        out(f"\nworkers marked MISSING for silence so far: {before}")
        if before:
            self.problems.append(
                f"{before} live workers were marked MISSING (the master's loop stalled)"
            )
        t0 = time.perf_counter()
        await asyncio.gather(*(c.ask("stop", within_s=120) for c in self.children))
        t_closed = time.perf_counter() - t0
        left = -1
        while time.perf_counter() - t0 < 60:
            left = await self.online_count()
            if left == 0:
                break
            await asyncio.sleep(0.2)
        out(
            f"teardown: {self.args.workers} streams said Goodbye and closed in {t_closed:.1f} s; "
            f"{left} ONLINE after {time.perf_counter() - t0:.1f} s; meanwhile "
            f"{self.silent_missing() - before} workers whose Goodbye was queued were marked "
            "MISSING for silence"
        )

    # ------------------------------------------------------------ plumbing

    async def stats(self) -> dict[str, float]:
        return await stats_of(self.children)

    async def run(self) -> int:
        args = self.args
        out(
            f"master pid {self.master.pid} on {self.cluster.address}, heartbeat {HEARTBEAT_MS} ms; "
            f"{args.workers} streams in {args.procs} processes, {args.accounts} accounts, "
            f"order {args.order}; {loadavg()}"
        )
        if self.console is not None:
            self.console.start()
        try:
            if args.order == "streams-first":
                self.profiler.start("register")
                await self.spawn()
                self.profiler.start("baseline")
                await self.baseline()
                self.profiler.start("assign")
                out("\n(a) accounts created while the streams are up")
                t_last = await self.create()
                await self.settle(t_last, "last CreateAccount")
            else:
                self.profiler.start("create")
                out("\n(a) accounts created before any stream connects")
                await self.create()
                self.profiler.start("register+assign")
                t_welcomed = await self.spawn()
                await self.settle(t_welcomed, "last stream welcomed")
            self.profiler.stop()
            await self.steady()
            self.profiler.start("queries")
            listing = await self.queries()
            self.profiler.stop()
            await self.check(listing)
            self.profiler.start("teardown")
            await self.teardown()
            self.profiler.stop()
        finally:
            await self.close()
        self.profiler.report()
        if self.console is not None:
            kinds = ", ".join(f"{n} {kind}" for kind, n in self.console.by_kind.most_common())
            ended = "; ".join(self.console.failed) or "no, it kept up"
            out(f"\nconsole (WatchEvents, all kinds): {self.console.events} events ({kinds})")
            out(f"    cut off: {ended}")
        out()
        if self.problems:
            out("PROBLEMS: " + "; ".join(self.problems))
            return 1
        out("no correctness problem seen")
        return 0

    async def close(self) -> None:
        self.profiler.stop()
        if self.console is not None:
            await self.console.stop()
        if self.poller is not None:
            self.poller.stop_event.set()
        for child in self.children:
            if child.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.terminate()
        for child in self.children:
            try:
                await asyncio.wait_for(child.proc.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.kill()
                await child.proc.wait()
        await self.channel.close()


async def run_bench(cluster: Cluster, args: argparse.Namespace, base: float) -> int:
    # the Control channel belongs to this event loop: build it inside
    return await FleetBench(cluster, args, base).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1000, help="simulated worker streams")
    parser.add_argument("--accounts", type=int, default=10_000, help="synthetic accounts")
    parser.add_argument("--procs", type=int, default=4, help="client processes for the streams")
    parser.add_argument("--max-accounts", type=int, default=20, help="Register.max_accounts")
    parser.add_argument("--steady", type=float, default=30.0, help="steady-state window, s")
    parser.add_argument("--baseline", type=float, default=8.0, help="no-account window, s")
    parser.add_argument("--poll-ms", type=int, default=20, help="SQLite poll period for (c)")
    parser.add_argument("--create-concurrency", type=int, default=32)
    parser.add_argument(
        "--order",
        choices=("streams-first", "accounts-first"),
        default="streams-first",
        help="(a) with the streams up while accounts are created (default), or the fleet "
        "coming up to find every account waiting (a master restart, a cold start)",
    )
    parser.add_argument("--lag-sample", type=int, default=100, help="workers sampled for (c)")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the master per phase into DIR")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    parser.add_argument(
        "--watch", action="store_true", help="also follow WatchEvents like a console would"
    )
    # the child side (this script started by itself)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--token-file", help=argparse.SUPPRESS)
    parser.add_argument("--base", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--connect-concurrency", type=int, default=25, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return asyncio.run(child_main(args, Path(args.token_file).read_text().strip()))
    if args.workers < 1 or args.procs < 1 or args.accounts < 1:
        parser.error("--workers, --procs and --accounts must be >= 1")
    if args.accounts > args.workers * args.max_accounts:
        parser.error("more accounts than the streams can hold (--workers x --max-accounts)")

    # Each stream is a TCP connection on both ends; the master and the children
    # inherit this limit.
    nofile = raise_open_files(args.workers * 2 + 4096)
    if nofile < args.workers + 512:
        out(f"open-file limit {nofile} is too low for {args.workers} streams")
        return 1
    base = time.time()

    def run(cluster: Cluster) -> int:
        cluster.start_master(
            HISCRM_HEARTBEAT_MS=str(HEARTBEAT_MS),  # production; the harness uses 500
            HISCRM_OFFLINE_AFTER_MS=str(HEARTBEAT_MS * 10),  # the master's own default
        )
        out(f"home {cluster.home}, open-file limit {nofile}")
        return asyncio.run(run_bench(cluster, args, base))

    return run_cluster("fleet", run, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
