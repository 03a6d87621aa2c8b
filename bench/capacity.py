"""bench/capacity: how many demo accounts one host watches within the limits.

Starts the demo platform, a real master and --workers real workers
(hiscrm-worker --platforms demo) on loopback in a fresh HISCRM_HOME, with the
production heartbeat (2 s). Then it adds demo accounts in steps (10, 25, 50,
100, 150, 200 by default; the scheduler spreads them over the workers), logs
each in by QR (the scan over the platform's /admin/scan) and keeps a steady,
open-loop stream of DMs and comments going to every running account
(--per-account-min a minute each, alternating, each with a unique text).

Each step, after a warm-up of one monitor interval, measures for --measure-s:
  - PSS (psutil, smaps_rollup) and CPU seconds of every worker's whole process
    tree (worker, Playwright driver, Chromium and all renderers) and the master;
  - inject -> WatchEvents latency of every DM and comment sent in the window;
  - cycle overrun: the cycles the workers logged as starting more than 5 s
    after their slot or taking longer than the interval (worker/monitor.py).
It stops at the first step that breaks a limit: DM p99 > 1 s, a comment later
than interval + 5 s or a cycle starting more than 5 s after its slot, our
processes' PSS above 85 % of the host's memory (or the host above 85 % used),
our CPU above 80 % of the host's cores, an account not RUNNING, an item not
delivered, or a worker leaving ONLINE.

Before the steps, in the same run, it measures the original system's design:
one Chromium per account (--baseline 10 accounts), each logged in to the same
demo creator centre page, launched by one Playwright driver like the pool's
browser (same executable and switches), and prints the per-account ratio.

Last line:
  capacity: N accounts per host (limit: ...); per account X MiB PSS, Y % CPU;
  browser-per-account design: Z MiB per account
X and Z are the PSS each extra account adds (the slope between two
measurements), Y the CPU per account as a percentage of one core.
Run from the repo root:
  nice -n 19 .venv/bin/python bench/capacity.py [--steps 10,25] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import math
import re
import sys
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.common import (  # noqa: E402
    MarkWatcher,
    SteadyInjector,
    accounts_by_id,
    cpu_between,
    latencies,
    login,
    machine,
    out,
    percentile,
    run_cluster,
    tree_cpu,
    wait_states,
    workers_by_id,
)
from bench.memory import sample_tree  # noqa: E402
from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc  # noqa: E402
from hiscrm_common.channel import open_channel  # noqa: E402
from tests.demo_helpers import admin, demo_spec  # noqa: E402
from tests.harness import Cluster  # noqa: E402
from worker.browser.fingerprint import Fingerprint  # noqa: E402
from worker.browser.pool import CHROMIUM_ARGS, chromium_executable  # noqa: E402
from worker.browser.processes import unwrap_launcher  # noqa: E402

MIB = 1024 * 1024
MARK = "cap-"
RUNNING = common_pb2.RUN_STATE_RUNNING
NEEDS_LOGIN = common_pb2.RUN_STATE_NEEDS_LOGIN
DM = common_pb2.ITEM_KIND_DIRECT_MESSAGE
COMMENT = common_pb2.ITEM_KIND_COMMENT
DM_P99_LIMIT_S = 1.0
COMMENT_SLACK_S = 5.0
MEMORY_LIMIT = 0.85
CPU_LIMIT = 0.80
HOST_MIB = psutil.virtual_memory().total / MIB
CPUS = psutil.cpu_count() or 1


@dataclass
class Step:
    """One measured step; the CSV has these columns."""

    design: str
    accounts: int
    workers: int  # browsers, for the browser-per-account design
    pss_mib: float  # the workers' trees (for the original design: its browsers and driver)
    processes: int
    cpu_host_pct: float  # workers + master, share of all the host's cores
    cpu_core_pct_per_account: float
    extra_mib: float = math.nan  # PSS each account added since the design's first measurement
    master_pss_mib: float = 0.0
    dm_n: int = 0
    dm_p50_ms: float = math.nan
    dm_p99_ms: float = math.nan
    comment_n: int = 0
    comment_p99_ms: float = math.nan
    comment_max_ms: float = math.nan
    lost: int = 0
    overruns: int = 0  # cycles the workers logged as overrun in the window
    max_late_s: float = 0.0  # the latest start after its slot among them
    max_took_s: float = 0.0  # the longest of them
    host_mem_used_pct: float = math.nan
    load_1min: float = math.nan
    verdict: str = ""


# ---------------------------------------------------------------- the original design


def driver_pids() -> list[int]:
    """Playwright drivers (node) this bench process started."""
    found = []
    for child in psutil.Process().children():
        try:
            if "node" in child.name().lower():
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


def pss_of(pids: list[int]) -> tuple[float, int]:
    """PSS MiB and process count of the trees under `pids`."""
    samples = [sample_tree(pid) for pid in pids]
    return sum(s.total for s in samples) / MIB, sum(s.processes for s in samples)


async def browser_per_account(base: str, users: list[str], args: argparse.Namespace) -> list[Step]:
    """One Chromium per account, like the original system: the creator centre
    of each logged in and left open (no blocking, no sharing)."""
    from playwright.async_api import async_playwright

    executable = chromium_executable()
    launch_path = unwrap_launcher(executable) if executable else None
    first_mib, first_procs = 0.0, 0
    async with async_playwright() as pw:
        drivers = await asyncio.to_thread(driver_pids)
        browsers = []
        try:
            for n, user in enumerate(users, 1):
                browser = await pw.chromium.launch(
                    executable_path=launch_path, headless=True, args=list(CHROMIUM_ARGS)
                )
                browsers.append(browser)
                options = Fingerprint.from_seed(f"bpa-{n}").context_options()
                page = await (await browser.new_context(**options)).new_page()
                await page.goto(base + "/login", wait_until="domcontentloaded")
                token = await page.get_attribute("#qr", "data-token")
                await asyncio.to_thread(
                    admin, base, "/admin/scan", {"username": user, "token": token}
                )
                await page.wait_for_url(base + "/creator", timeout=60_000)
                await page.locator("body[data-loaded=true]").wait_for(state="attached")
                if n == 1:
                    await asyncio.sleep(args.baseline_settle)
                    first_mib, first_procs = await asyncio.to_thread(pss_of, drivers)
            await asyncio.sleep(args.baseline_settle)
            before = await asyncio.to_thread(lambda: {p: tree_cpu(p) for p in drivers})
            t0 = time.monotonic()
            await asyncio.sleep(args.baseline_window)
            after = await asyncio.to_thread(lambda: {p: tree_cpu(p) for p in drivers})
            cpu = sum(cpu_between(before[p], after[p]) for p in drivers)
            wall = time.monotonic() - t0
            total_mib, procs = await asyncio.to_thread(pss_of, drivers)
        finally:
            for browser in browsers:
                await browser.close()
    n = len(users)
    slope = (total_mib - first_mib) / (n - 1) if n > 1 else total_mib
    out(
        f"browser per account: {n} Chromiums, {total_mib:.0f} MiB PSS in {procs} processes "
        f"(1 account: {first_mib:.0f} MiB); {total_mib / n:.1f} MiB per account on average, "
        f"{slope:.1f} MiB per extra account; CPU {cpu / wall * 100 / n:.2f} % of a core "
        "per account (idle pages)"
    )
    design = "browser-per-account"
    return [
        Step(design, 1, 1, first_mib, first_procs, math.nan, math.nan),
        Step(
            design,
            n,
            n,
            total_mib,
            procs,
            cpu / wall / CPUS * 100,
            cpu / wall * 100 / n,
            extra_mib=slope,
            host_mem_used_pct=psutil.virtual_memory().percent,
            load_1min=psutil.getloadavg()[0],
        ),
    ]


# ---------------------------------------------------------------- the steps


async def log_in_all(
    control: control_pb2_grpc.ControlStub, base: str, new: dict[str, str], concurrency: int
) -> list[str]:
    gate = asyncio.Semaphore(concurrency)
    problems: list[str] = []

    async def one(account_id: str, username: str) -> None:
        async with gate:
            result = await login(control, base, account_id, username)
        if result != "success":
            problems.append(f"login of {account_id} ended with {result}")

    await asyncio.gather(*(one(a, u) for a, u in new.items()))
    return problems


OVERRUN = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) .*cycle overran: "
    r"started (-?[\d.]+) s late, took ([\d.]+) s"
)


def overruns(logs: list[Path], since: datetime, until: datetime) -> list[tuple[float, float]]:
    """(late, took) of every cycle the workers logged as overrun in [since, until]
    (worker/monitor.py logs a cycle that started more than 5 s after its slot
    or took longer than the interval)."""
    found = []
    for path in logs:
        with contextlib.suppress(OSError), path.open(errors="replace") as f:
            for line in f:
                m = OVERRUN.match(line)
                if m is None:
                    continue
                at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S") + timedelta(
                    milliseconds=int(m[2])
                )
                if since <= at <= until:
                    found.append((float(m[3]), float(m[4])))
    return found


def limits_broken(step: Step, interval_s: float) -> list[str]:
    broken = []
    if step.dm_p99_ms > DM_P99_LIMIT_S * 1000:
        broken.append(f"DM p99 {step.dm_p99_ms:.0f} ms > {DM_P99_LIMIT_S * 1000:.0f} ms")
    if step.comment_max_ms > (interval_s + COMMENT_SLACK_S) * 1000:
        broken.append(
            f"a comment {step.comment_max_ms / 1000:.1f} s late "
            f"> interval + {COMMENT_SLACK_S:.0f} s"
        )
    ours = (step.pss_mib + step.master_pss_mib) / HOST_MIB
    if ours > MEMORY_LIMIT or step.host_mem_used_pct > MEMORY_LIMIT * 100:
        broken.append(
            f"memory: ours {ours * 100:.0f} %, host {step.host_mem_used_pct:.0f} % used "
            f"> {MEMORY_LIMIT * 100:.0f} %"
        )
    if step.cpu_host_pct > CPU_LIMIT * 100:
        broken.append(f"CPU {step.cpu_host_pct:.0f} % of the host > {CPU_LIMIT * 100:.0f} %")
    if step.max_late_s > COMMENT_SLACK_S:
        broken.append(f"{step.overruns} cycles overran, up to {step.max_late_s:.1f} s late")
    if step.lost:
        broken.append(f"{step.lost} injected items not delivered within interval + 30 s")
    return broken


async def measure_step(
    control: control_pb2_grpc.ControlStub,
    cluster: Cluster,
    watcher: MarkWatcher,
    injector: SteadyInjector,
    ids: list[str],
    args: argparse.Namespace,
) -> tuple[Step, list[str]]:
    interval_s = args.interval_ms / 1000
    pids = [p.pid for p in cluster.workers.values()]
    master_pid = cluster.master.pid if cluster.master else 0
    problems: list[str] = []
    first_sent = len(injector.sent)
    watched = [*pids, master_pid]
    before = await asyncio.to_thread(lambda: {p: tree_cpu(p) for p in watched})
    t0 = time.monotonic()
    since = datetime.now()
    online = True
    while time.monotonic() - t0 < args.measure_s:
        await asyncio.sleep(min(args.sample_every, args.measure_s - (time.monotonic() - t0)))
        workers = await workers_by_id(control)
        online = online and all(w.state == common_pb2.WORKER_STATE_ONLINE for w in workers.values())
    after = await asyncio.to_thread(lambda: {p: tree_cpu(p) for p in watched})
    cpu = sum(cpu_between(before[p], after[p]) for p in watched)
    wall = time.monotonic() - t0
    logs = [p.log_path for p in cluster.workers.values()]
    late = await asyncio.to_thread(overruns, logs, since, datetime.now())
    window = injector.sent[first_sent:]
    pss_mib, procs = await asyncio.to_thread(pss_of, pids)
    master_mib, _ = await asyncio.to_thread(pss_of, [master_pid])
    await watcher.wait_for([s.text for s in window if not s.error], interval_s + 30)
    dm = latencies(watcher, window, DM)
    comments = latencies(watcher, window, COMMENT)
    lost = [s for s in window if s.text not in watcher.arrived]
    problems += [f"{s.text} to {s.account_id}: {s.error or 'never arrived'}" for s in lost[:5]]
    if not online:
        problems.append("a worker left ONLINE during the window")
    accounts = await accounts_by_id(control)
    not_running = [a for a in ids if accounts[a].state != RUNNING]
    problems += [f"{a} not RUNNING" for a in not_running[:5]]
    step = Step(
        "shared-browser",
        len(ids),
        len(pids),
        pss_mib,
        procs,
        cpu / wall / CPUS * 100,
        cpu / wall * 100 / len(ids),
        master_pss_mib=master_mib,
        dm_n=len(dm),
        dm_p50_ms=percentile(dm, 0.5) * 1000,
        dm_p99_ms=percentile(dm, 0.99) * 1000,
        comment_n=len(comments),
        comment_p99_ms=percentile(comments, 0.99) * 1000,
        comment_max_ms=max(comments, default=math.nan) * 1000,
        lost=len(lost),
        overruns=len(late),
        max_late_s=max((x for x, _ in late), default=0.0),
        max_took_s=max((y for _, y in late), default=0.0),
        host_mem_used_pct=psutil.virtual_memory().percent,
        load_1min=psutil.getloadavg()[0],
    )
    broken = limits_broken(step, interval_s)
    if not online:
        broken.append("a worker went missing")
    if not_running:
        broken.append(f"{len(not_running)} accounts not RUNNING")
    step.verdict = "; ".join(broken) or "within limits"
    return step, problems


def print_step(step: Step) -> None:
    out(
        f"{step.accounts:>4} accounts: PSS {step.pss_mib:.0f} MiB in {step.processes} processes "
        f"(master {step.master_pss_mib:.0f}); CPU {step.cpu_host_pct:.1f} % of the host "
        f"({step.cpu_core_pct_per_account:.2f} % of a core per account); DM p50/p99 "
        f"{step.dm_p50_ms:.0f}/{step.dm_p99_ms:.0f} ms (n={step.dm_n}); comment p99/max "
        f"{step.comment_p99_ms:.0f}/{step.comment_max_ms:.0f} ms (n={step.comment_n}); "
        f"{step.overruns} cycles overran (late <= {step.max_late_s:.1f} s, took <= "
        f"{step.max_took_s:.1f} s); host memory {step.host_mem_used_pct:.0f} % used, "
        f"load {step.load_1min:.1f}: {step.verdict}"
    )


async def bench(cluster: Cluster, base: str, args: argparse.Namespace) -> int:
    channel = open_channel(cluster.address, cluster.token())
    control = control_pb2_grpc.ControlStub(channel)
    watcher = MarkWatcher(control, MARK)
    injector = SteadyInjector(base, MARK, args.per_account_min)
    rows: list[Step] = []
    problems: list[str] = []
    baseline: Step | None = None
    try:
        if args.baseline:
            users = [f"demo{args.steps[-1] + n}" for n in range(1, args.baseline + 1)]
            first_and_all = await browser_per_account(base, users, args)
            rows += first_and_all
            baseline = first_and_all[-1]
        watcher.start()
        injector.start()
        ids: list[str] = []
        for target in args.steps:
            new = {f"cap-{n}": f"demo{n}" for n in range(len(ids) + 1, target + 1)}
            for account_id, username in new.items():
                await control.CreateAccount(
                    control_pb2.CreateAccountRequest(
                        account_id=account_id,
                        spec=demo_spec(base, username, interval_ms=args.interval_ms),
                    )
                )
            ids += list(new)
            behind = await wait_states(control, new, NEEDS_LOGIN, 120)
            if behind:
                raise RuntimeError(f"accounts never asked for a login: {behind[:5]}")
            t0 = time.monotonic()
            problems += await log_in_all(control, base, new, args.login_concurrency)
            behind = await wait_states(control, ids, RUNNING, 300, acked=True)
            out(
                f"{target} accounts: {len(new)} logged in in {time.monotonic() - t0:.0f} s"
                + (f", {len(behind)} not RUNNING" if behind else "")
            )
            injector.accounts.update(new)
            await asyncio.sleep(args.warm_s)
            step, step_problems = await measure_step(control, cluster, watcher, injector, ids, args)
            problems += step_problems
            first = next((r for r in rows if r.design == step.design), None)
            if first is not None:
                step.extra_mib = (step.pss_mib - first.pss_mib) / (step.accounts - first.accounts)
            rows.append(step)
            print_step(step)
            if step.verdict != "within limits":
                break
    finally:
        await injector.stop()
        await watcher.stop()
        await channel.close()

    write_csv(args.csv, rows)
    out(f"CSV: {args.csv}")
    steps = [r for r in rows if r.design == "shared-browser"]
    passed = [r for r in steps if r.verdict == "within limits"]
    failed = next((r for r in steps if r.verdict != "within limits"), None)
    limit = (
        f"{failed.verdict} at {failed.accounts}"
        if failed
        else f"none reached up to {steps[-1].accounts if steps else 0}, the largest step run"
    )
    per_account = passed[-1].extra_mib if passed else math.nan
    cpu_per_account = passed[-1].cpu_core_pct_per_account if passed else math.nan
    z = baseline.extra_mib if baseline is not None else math.nan
    if math.isfinite(per_account) and math.isfinite(z):
        out(
            f"per extra account: shared browser {per_account:.1f} MiB, browser per account "
            f"{z:.1f} MiB: {z / per_account:.1f}x less"
        )
    elif not math.isfinite(per_account):
        out(
            "per extra account: no slope (it takes two passed steps of the shared browser; "
            f"passed: {', '.join(str(r.accounts) for r in passed) or 'none'})"
        )
    out(f"machine: {machine()}; host {HOST_MIB / 1024:.1f} GiB, {CPUS} CPUs")
    if watcher.repeats or watcher.failed:
        problems += [f"repeated: {t}" for t in watcher.repeats[:5]] + watcher.failed
    if problems:
        out("PROBLEMS: " + "; ".join(problems[:10]))
    out(
        f"capacity: {passed[-1].accounts if passed else 0} accounts per host (limit: {limit}); "
        f"per account {shown(per_account, 'MiB')} PSS, {shown(cpu_per_account, '%', 2)} CPU; "
        f"browser-per-account design: "
        + (f"{shown(z, 'MiB')} per account" if baseline is not None else "not measured")
    )
    return 1 if (watcher.repeats or watcher.failed) else 0


def shown(value: float, unit: str, digits: int = 1) -> str:
    """A figure for the summary: "n/a" rather than "nan" where it was not measured."""
    return f"{value:.{digits}f} {unit}" if math.isfinite(value) else "n/a"


def write_csv(path: Path, rows: list[Step]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[x.name for x in fields(Step)])
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(row).items()}
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="10,25,50,100,150,200", help="accounts per step")
    parser.add_argument("--workers", type=int, default=2, help="workers on the host")
    parser.add_argument("--interval-ms", type=int, default=60_000, help="monitor interval")
    parser.add_argument(
        "--per-account-min", type=float, default=1.0, help="injected items per account a minute"
    )
    parser.add_argument("--warm-s", type=float, default=60.0, help="wait before measuring")
    parser.add_argument("--measure-s", type=float, default=60.0, help="measuring window")
    parser.add_argument("--sample-every", type=float, default=5.0, help="worker state polling")
    parser.add_argument("--login-concurrency", type=int, default=4, help="logins at a time")
    parser.add_argument(
        "--baseline", type=int, default=10, help="accounts of the browser-per-account run (0: none)"
    )
    parser.add_argument("--baseline-settle", type=float, default=10.0)
    parser.add_argument("--baseline-window", type=float, default=20.0)
    parser.add_argument(
        "--csv", type=Path, default=ROOT / "bench" / "results" / "capacity.csv", help="CSV out"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs, db)")
    args = parser.parse_args(argv)
    try:
        args.steps = [int(s) for s in args.steps.split(",") if s.strip()]
    except ValueError:
        parser.error("--steps takes comma-separated integers, e.g. 10,25")
    if not args.steps or args.steps != sorted(set(args.steps)) or args.steps[0] < 1:
        parser.error("--steps must be distinct ascending counts >= 1")
    if args.workers < 1 or args.baseline == 1 or args.baseline < 0:
        parser.error("--workers >= 1; --baseline 0 or >= 2")
    if args.interval_ms < 1000 or args.measure_s <= 0 or args.per_account_min <= 0:
        parser.error("--interval-ms >= 1000, --measure-s and --per-account-min > 0")
    if len(args.steps) == 1 and args.steps[0] > 1:
        # The per-account figure is a slope between two steps: a lone step
        # gets a first one with an account per worker (each Chromium up).
        args.steps.insert(0, min(args.workers, args.steps[0] - 1))
    per_worker = math.ceil(args.steps[-1] / args.workers) + 10

    def run(cluster: Cluster) -> int:
        users = args.steps[-1] + args.baseline + 1
        base = cluster.start_demosite("--users", str(users))
        cluster.start_master()
        for n in range(1, args.workers + 1):
            cluster.start_worker(
                f"cap-w{n}", "--platforms", "demo", "--max-accounts", str(per_worker)
            )
        for n in range(1, args.workers + 1):
            cluster.wait_worker_state(f"cap-w{n}", common_pb2.WORKER_STATE_ONLINE, timeout=60)
        out(
            f"demo platform {base}, master on {cluster.address}, {args.workers} workers "
            f"(--max-accounts {per_worker}), interval {args.interval_ms} ms, "
            f"{args.per_account_min} items per account a minute, steps "
            f"{','.join(map(str, args.steps))}; home {cluster.home}"
        )
        out(f"machine before: {machine()}")
        return asyncio.run(bench(cluster, base, args))

    env = {"HISCRM_HEARTBEAT_MS": "2000", "HISCRM_OFFLINE_AFTER_MS": "20000"}
    return run_cluster("capacity", run, keep=args.keep, extra_env=env, report_killed=True)


if __name__ == "__main__":
    sys.exit(main())
