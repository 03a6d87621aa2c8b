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
import resource
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
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
from bench.fleet_probes import LagPoller, Profiler, memory_line, thread_cpu  # noqa: E402
from bench.fleet_streams import child_main  # noqa: E402
from hiscrm.v1 import (  # noqa: E402
    common_pb2,
    control_pb2,
    control_pb2_grpc,
)
from hiscrm_common.channel import open_channel  # noqa: E402
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
                str(self.cluster.home / "enroll-token"),  # simulated workers enroll
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
