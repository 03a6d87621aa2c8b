"""bench/memory: PSS one worker adds per demo account with the creator centre open.

Starts the demo platform, a real master and ONE real worker (hiscrm-worker,
demo platform only, --max-accounts 40) on loopback in a fresh HISCRM_HOME.
First measures the idle worker (0 accounts: Chromium is not launched yet,
the pool starts it with the first browser account). Then, step by step (the
same worker grows: 1, then 10, then 30 accounts by default), creates demo
accounts, logs each in through Control.StartLogin with the scan made over the
demo platform's /admin/scan, waits until every account is RUNNING with its
config acknowledged, lets a few monitor cycles pass, and measures the
proportional set size (PSS, /proc/<pid>/smaps_rollup through psutil) summed
over the worker's whole process tree: the worker itself, the Playwright
driver, Chromium and all its zygotes, renderers and utility processes.

PSS splits shared pages among the processes that map them, so the sum is the
memory the tree really costs (RSS would count the Chromium binary once per
process). Per extra account = (PSS at N - PSS at 1) / (N - 1).

Target (issue 4): <= 60 MiB per extra account (the old system: ~200 MB).
Run from the repo root:
  .venv/bin/python bench/memory.py [--steps 1,10,30] [--interval-ms 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.common import (  # noqa: E402
    accounts_by_id,
    login,
    machine,
    out,
    run_cluster,
    wait_states,
)
from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc  # noqa: E402
from hiscrm_common.channel import open_channel  # noqa: E402
from tests.demo_helpers import admin, demo_spec  # noqa: E402
from tests.harness import Cluster  # noqa: E402
from worker.browser.pool import chromium_executable  # noqa: E402

MIB = 1024 * 1024
TARGET_MIB_PER_ACCOUNT = 60.0
OLD_SYSTEM_MIB_PER_ACCOUNT = 200e6 / MIB  # "about 200 MB per account"
WORKER_ID = "bench-mem-1"
RUNNING = common_pb2.RUN_STATE_RUNNING
NEEDS_LOGIN = common_pb2.RUN_STATE_NEEDS_LOGIN
BROWSER_NAMES = ("chrome", "chromium", "headless_shell")


# ---------------------------------------------------------------- measuring


@dataclass
class Sample:
    total: int = 0  # PSS bytes of the whole tree
    worker: int = 0  # the worker's own Python process
    driver: int = 0  # the Playwright driver (node)
    browser: int = 0  # Chromium and its children
    other: int = 0
    rss: int = 0  # RSS sum, for comparison (counts shared pages once per process)
    processes: int = 0
    browser_processes: int = 0
    # Chromium by process type (--type=renderer, gpu-process, utility, zygote; "browser")
    by_type: dict[str, tuple[int, int]] = field(default_factory=dict)


def chromium_type(cmdline: list[str]) -> str:
    kind = next((a.split("=", 1)[1] for a in cmdline if a.startswith("--type=")), "browser")
    if kind == "utility":
        sub = next((a.split("=", 1)[1] for a in cmdline if a.startswith("--utility-sub-type=")), "")
        kind = f"utility:{sub.rsplit('.', 1)[-1]}" if sub else kind
    return kind


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def sample_tree(pid: int) -> Sample:
    s = Sample()
    for proc in tree(pid):
        try:
            with proc.oneshot():
                full = proc.memory_full_info()
                name = proc.name().lower()
                cmdline = proc.cmdline()
        except psutil.Error:
            continue  # a renderer went away between listing and reading
        s.total += full.pss
        s.rss += full.rss
        s.processes += 1
        if proc.pid == pid:
            s.worker += full.pss
        elif any(b in name for b in BROWSER_NAMES):
            s.browser += full.pss
            s.browser_processes += 1
            kind = chromium_type(cmdline)
            count, pss = s.by_type.get(kind, (0, 0))
            s.by_type[kind] = (count + 1, pss + full.pss)
        elif "node" in name or "playwright" in name:
            s.driver += full.pss
        else:
            s.other += full.pss
    return s


async def measure(pid: int, samples: int, gap: float) -> Sample:
    """The sample with the median total of a few, `gap` seconds apart."""
    taken: list[Sample] = []
    for i in range(samples):
        if i:
            await asyncio.sleep(gap)
        taken.append(await asyncio.to_thread(sample_tree, pid))
    taken.sort(key=lambda s: s.total)
    return taken[len(taken) // 2]


# ---------------------------------------------------------------- accounts


def describe(account: control_pb2.Account | None) -> str:
    if account is None:
        return "missing"
    return (
        f"{common_pb2.RunState.Name(account.state)} on {account.worker_id or '-'}"
        f" ({account.state_reason[:80]})"
    )


# ---------------------------------------------------------------- the run


async def bench(cluster: Cluster, base: str, args: argparse.Namespace) -> int:
    channel = open_channel(cluster.address, cluster.token())
    control = control_pb2_grpc.ControlStub(channel)
    worker_pid = cluster.workers[WORKER_ID].pid
    problems: list[str] = []
    rows: list[tuple[int, Sample, float]] = []  # (accounts, sample, seconds to log them in)
    login_times: list[float] = []
    try:
        await asyncio.sleep(args.idle_settle)
        base_sample = await measure(worker_pid, args.samples, args.sample_gap)
        rows.append((0, base_sample, 0.0))
        out(
            f"0 accounts: {base_sample.total / MIB:.1f} MiB PSS, "
            f"{base_sample.processes} processes, {base_sample.browser_processes} Chromium "
            "(idle worker: the pool launches Chromium with the first browser account)"
        )
        created: list[str] = []
        for target in args.steps:
            new = [f"mem-{n}" for n in range(len(created) + 1, target + 1)]
            for account_id in new:
                username = f"demo{account_id.split('-')[1]}"
                await control.CreateAccount(
                    control_pb2.CreateAccountRequest(
                        account_id=account_id,
                        spec=demo_spec(base, username, interval_ms=args.interval_ms),
                    )
                )
            created += new
            behind = await wait_states(control, new, NEEDS_LOGIN, 90, worker_id=WORKER_ID)
            if behind:
                raise RuntimeError(f"accounts never reached NEEDS_LOGIN: {behind}")

            t0 = time.monotonic()
            gate = asyncio.Semaphore(args.login_concurrency)

            async def one(account_id: str, gate: asyncio.Semaphore = gate) -> None:
                async with gate:
                    started = time.monotonic()
                    result = await login(
                        control, base, account_id, f"demo{account_id.split('-')[1]}"
                    )
                    login_times.append(time.monotonic() - started)
                if result != "success":
                    problems.append(f"login of {account_id} ended with {result}")

            await asyncio.gather(*(one(a) for a in new))
            login_wall = time.monotonic() - t0
            behind = await wait_states(
                control, created, RUNNING, 120, worker_id=WORKER_ID, acked=True
            )
            if behind:
                accounts = await accounts_by_id(control)
                problems.extend(f"{a}: {describe(accounts.get(a))}" for a in behind)
                out(f"{len(behind)} accounts not RUNNING; measuring anyway")
            # a few monitor cycles: every page reloaded the creator centre since
            await asyncio.sleep(args.settle_cycles * args.interval_ms / 1000)
            sample = await measure(worker_pid, args.samples, args.sample_gap)
            accounts = await accounts_by_id(control)
            not_running = [a for a in created if accounts[a].state != RUNNING]
            if not_running:
                problems.extend(f"{a} after settling: {describe(accounts[a])}" for a in not_running)
            rows.append((target, sample, login_wall))
            out(
                f"{target} accounts: {sample.total / MIB:.1f} MiB PSS, {sample.processes} "
                f"processes ({sample.browser_processes} Chromium); logins of {len(new)} "
                f"took {login_wall:.1f} s"
            )
        live = admin(base, "/admin/health")["live_connections"]
    finally:
        await channel.close()

    out()
    out(
        f"browser: {args.chromium or f'{chromium_executable()} (the pool default)'}; "
        f"one worker, demo accounts with the creator centre open, monitor interval "
        f"{args.interval_ms} ms, {args.settle_cycles} cycles settled before each measurement, "
        f"median of {args.samples} samples"
    )
    header = (
        f"{'accounts':>8}{'PSS MiB':>10}{'worker':>9}{'driver':>9}{'chromium':>10}"
        f"{'other':>8}{'RSS MiB':>10}{'procs':>7}{'chrome':>8}{'MiB/acct':>10}"
    )
    out(header)
    out("-" * len(header))
    one_account = next((s for n, s, _ in rows if n == 1), None)
    per_account: list[tuple[int, float]] = []
    for n, s, _ in rows:
        extra = ""
        if one_account is not None and n > 1:
            value = (s.total - one_account.total) / (n - 1) / MIB
            per_account.append((n, value))
            extra = f"{value:.1f}"
        elif n == 1:
            extra = f"({(s.total - base_sample.total) / MIB:.1f})"
        out(
            f"{n:>8}{s.total / MIB:>10.1f}{s.worker / MIB:>9.1f}{s.driver / MIB:>9.1f}"
            f"{s.browser / MIB:>10.1f}{s.other / MIB:>8.1f}{s.rss / MIB:>10.1f}"
            f"{s.processes:>7}{s.browser_processes:>8}{extra:>10}"
        )
    out(
        "MiB/acct: PSS added per account beyond the first, (PSS at N - PSS at 1) / (N - 1); "
        "in brackets: the first account, Chromium's launch included"
    )
    kinds = sorted({k for _, s, _ in rows for k in s.by_type})
    if kinds:
        out()
        out("Chromium by process type: count x PSS MiB (last row: added per extra account)")
        widths = [max(len(k), 12) + 2 for k in kinds]
        out(f"{'accounts':>8}" + "".join(f"{k:>{w}}" for k, w in zip(kinds, widths, strict=True)))
        for n, s, _ in rows:
            cells = []
            for k, w in zip(kinds, widths, strict=True):
                count, pss = s.by_type.get(k, (0, 0))
                cells.append(f"{f'{count} x {pss / MIB:.1f}':>{w}}")
            out(f"{n:>8}" + "".join(cells))
        n_last, last, _ = rows[-1]
        if one_account is not None and n_last > 1:
            cells = []
            for k, w in zip(kinds, widths, strict=True):
                c1, p1 = one_account.by_type.get(k, (0, 0))
                cn, pn = last.by_type.get(k, (0, 0))
                per = f"{(cn - c1) / (n_last - 1):.1f} x {(pn - p1) / (n_last - 1) / MIB:.1f}"
                cells.append(f"{per:>{w}}")
            out(f"{'per acct':>8}" + "".join(cells))
    if login_times:
        out(
            f"login (StartLogin -> success, {args.login_concurrency} at a time): "
            f"median {statistics.median(login_times):.2f} s, max {max(login_times):.2f} s; "
            f"live channels open on the platform at the end: {live}"
        )
    out()
    for n, value in per_account:
        verdict = "MET" if value <= TARGET_MIB_PER_ACCOUNT else "NOT MET"
        out(
            f"target <= {TARGET_MIB_PER_ACCOUNT:.0f} MiB per extra account at {n} accounts: "
            f"{verdict} ({value:.1f} MiB; {OLD_SYSTEM_MIB_PER_ACCOUNT / value:.1f}x less than "
            f"the old system's ~{OLD_SYSTEM_MIB_PER_ACCOUNT:.0f} MiB)"
        )
    if not per_account:
        out("per-account figure needs a step of 1 and one larger step (e.g. --steps 1,10,30)")
    if problems:
        out("PROBLEMS: " + "; ".join(problems[:10]))
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--steps", default="1,10,30", help="account counts to measure at, ascending (1,10,30)"
    )
    parser.add_argument(
        "--interval-ms", type=int, default=10_000, help="monitor interval of every account"
    )
    parser.add_argument(
        "--settle-cycles", type=float, default=3.0, help="monitor intervals to wait per step"
    )
    parser.add_argument("--login-concurrency", type=int, default=3, help="logins at a time")
    parser.add_argument("--samples", type=int, default=3, help="PSS samples per step (median)")
    parser.add_argument("--sample-gap", type=float, default=2.0, help="seconds between samples")
    parser.add_argument(
        "--idle-settle", type=float, default=3.0, help="seconds before the 0-account sample"
    )
    parser.add_argument(
        "--chromium",
        default="",
        help="browser executable for the worker (HISCRM_CHROMIUM), e.g. /usr/bin/chromium; "
        "default: the pool's choice (/usr/bin/chromium-headless-shell where installed)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs, db)")
    args = parser.parse_args(argv)
    try:
        args.steps = [int(s) for s in args.steps.split(",") if s.strip()]
    except ValueError:
        parser.error("--steps takes comma-separated integers, e.g. 1,10,30")
    if not args.steps or args.steps != sorted(set(args.steps)) or args.steps[0] < 1:
        parser.error("--steps must be distinct ascending counts >= 1")
    if args.steps[-1] > 40:
        parser.error("at most 40 accounts (the worker runs with --max-accounts 40)")
    if args.login_concurrency < 1 or args.samples < 1 or args.interval_ms < 1000:
        parser.error("--login-concurrency and --samples >= 1, --interval-ms >= 1000")

    def run(cluster: Cluster) -> int:
        base = cluster.start_demosite("--users", str(args.steps[-1] + 1))
        cluster.start_master(HISCRM_HEARTBEAT_MS="2000")
        cluster.start_worker(
            WORKER_ID,
            "--platforms",
            "demo",
            "--max-accounts",
            "40",
            HISCRM_HEARTBEAT_MS="2000",
            **({"HISCRM_CHROMIUM": args.chromium} if args.chromium else {}),
        )
        cluster.wait_worker_state(WORKER_ID, common_pb2.WORKER_STATE_ONLINE, timeout=60)
        out(
            f"demo platform {base}, master on {cluster.address}, worker {WORKER_ID}, "
            f"home {cluster.home}"
        )
        out(f"machine before: {machine()}")
        code = asyncio.run(bench(cluster, base, args))
        out(f"machine after: {machine()}")
        return code

    return run_cluster("memory", run, keep=args.keep, report_killed=True)


if __name__ == "__main__":
    sys.exit(main())
