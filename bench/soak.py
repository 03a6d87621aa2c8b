"""bench/soak: hours of steady traffic with faults; growth, lag and every item's fate.

Starts the demo platform, a real master and --workers real workers on
loopback in a fresh HISCRM_HOME (production heartbeat, 2 s), creates
--accounts demo accounts and logs them in by QR, turns on the platform's
session rotation (each browser's session cookie gets a new value every
--rotate-every-s; the old one dies --rotate-grace-s later) and keeps an
open-loop stream of DMs and comments going to every account. Then, for
--minutes (120 by default):
  - every --kill-every-min (20) minutes it kills one worker's whole process
    tree with SIGKILL (those of --kill-workers take turns; by default only
    soak-w1, so the others live the whole run and their growth can be judged)
    and starts it again 2 s later, as supervisord would;
  - every --restart-every-min (60) minutes it restarts the master (SIGTERM,
    then a new master on the same database and port);
  - every --sample-every-s it records RSS and open file descriptors of every
    process (master; each worker, its Playwright driver and its Chromium tree,
    that tree also split by its processes' jobs; PSS too) with the accounts
    its worker holds,
    the workers' outbox depths, the master's pending config acks and event
    subscribers, and the stream lag (inject -> WatchEvents) of the items sent
    since the previous sample.
With --minutes below 120 the kill and restart periods shrink in proportion
(--minutes 20: a kill every 3.3 minutes, a master restart at 10 minutes),
and so do the rotation period and the 15 minutes of warm-up growth ignores.

At the end it waits for the last items and checks every injected item's
fate in the master's database (Control.ListItems): stored exactly once,
under its account and kind. It prints per process (one row per pid, since a
kill or restart makes a new one) the RSS growth per hour after its first
15 minutes and its file descriptors first and last, then the lag per sample
and the fate counts, and writes two CSVs (<prefix>-processes.csv and
<prefix>-system.csv) that bench/plot.py renders. Exits 1 when an item is
lost, duplicated or misfiled.
Run from the repo root:
  nice -n 19 .venv/bin/python bench/soak.py [--minutes 120] [--accounts 30]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import csv
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.common import (  # noqa: E402
    MarkWatcher,
    SteadyInjector,
    login,
    machine,
    out,
    percentile,
    run_cluster,
    wait_states,
    workers_by_id,
)
from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc  # noqa: E402
from hiscrm_common.channel import open_channel  # noqa: E402
from tests.demo_helpers import admin, demo_spec  # noqa: E402
from tests.harness import Cluster  # noqa: E402

MIB = 1024 * 1024
MARK = "soak-"
RUNNING = common_pb2.RUN_STATE_RUNNING
NEEDS_LOGIN = common_pb2.RUN_STATE_NEEDS_LOGIN
FULL_MINUTES = 120.0
WARMUP_MIN = 15.0  # growth is judged after a process's first 15 minutes (scaled)
GROWTH_TARGET_PCT_H = 5.0


# ---------------------------------------------------------------- sampling processes


@dataclass
class ProcSample:
    role: str
    pid: int
    rss_mib: float
    pss_mib: float
    fds: int


def role_rows(cluster: Cluster) -> list[ProcSample]:
    """RSS, PSS and open fds of every process the run watches. A worker's
    Chromium is one row: RSS and PSS summed over the browser's tree (a
    renderer per account; PSS shares each shared page out, so its sum is the
    tree's real cost, RSS counts a shared page once per process), its fds
    those of the browser process."""
    rows: list[ProcSample] = []
    watched = [("master", cluster.master)] if cluster.master else []
    watched += [(f"worker:{wid}", proc) for wid, proc in cluster.workers.items()]
    for role, proc in watched:
        if not proc.alive():
            continue
        try:
            root = psutil.Process(proc.pid)
            rss, pss = _memory([root])
            rows.append(ProcSample(role, root.pid, rss, pss, root.num_fds()))
            if role == "master":
                continue
            name = role.split(":", 1)[1]
            for child in root.children():
                kind = child.name().lower()
                if "node" in kind:
                    rss, pss = _memory([child])
                    rows.append(ProcSample(f"driver:{name}", child.pid, rss, pss, child.num_fds()))
                    browsers = [c for c in child.children() if "chrom" in c.name().lower()]
                    for browser in browsers:
                        tree = [browser, *browser.children(recursive=True)]
                        rss, pss = _memory(tree)
                        fds = browser.num_fds()
                        rows.append(ProcSample(f"chromium:{name}", browser.pid, rss, pss, fds))
                        for part, procs in chromium_parts(tree).items():
                            rss, pss = _memory(procs)
                            rows.append(
                                ProcSample(f"chromium.{part}:{name}", browser.pid, rss, pss, 0)
                            )
        except psutil.Error:
            continue
    return rows


def chromium_parts(tree: list[psutil.Process]) -> dict[str, list[psutil.Process]]:
    """A Chromium tree by the job of each process (its --type, and for utility
    processes the service): which of them grows says whether pages (renderers),
    the network service (HTTP caches, sockets) or the browser process does."""
    parts: dict[str, list[psutil.Process]] = collections.defaultdict(list)
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            args = proc.cmdline()
            kind = next((a.split("=", 1)[1] for a in args if a.startswith("--type=")), "browser")
            if kind == "utility":
                service = next(
                    (a.split("=", 1)[1] for a in args if a.startswith("--utility-sub-type=")), ""
                )
                kind = "network" if "network" in service.lower() else "utility"
            elif kind not in ("browser", "renderer", "gpu-process", "zygote"):
                kind = "other"
            parts[kind.removesuffix("-process")].append(proc)
    return parts


def _memory(procs: list[psutil.Process]) -> tuple[float, float]:
    """(RSS, PSS) in MiB summed over procs (PSS from smaps_rollup)."""
    rss, pss = 0.0, 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            full = p.memory_full_info()
            rss += full.rss / MIB
            pss += full.pss / MIB
    return rss, pss


def kill_tree(pid: int) -> int:
    """SIGKILL a worker, its driver and its Chromium (which runs in a process
    group of its own, so killing the worker's group alone would miss it)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        # a child may be gone by now: killing its parent ended it
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL)
    psutil.wait_procs(procs, timeout=10)
    return len(procs)


# ---------------------------------------------------------------- the schedule


@dataclass
class Plan:
    minutes: float
    kill_every_s: float
    restart_every_s: float
    rotate_every_s: float
    warmup_s: float
    events: list[tuple[float, str]] = field(default_factory=list)  # (at s, what)

    @classmethod
    def of(cls, args: argparse.Namespace) -> Plan:
        scale = min(1.0, args.minutes / FULL_MINUTES)
        plan = cls(
            args.minutes,
            args.kill_every_min * 60 * scale,
            args.restart_every_min * 60 * scale,
            max(5.0, args.rotate_every_s * scale),
            WARMUP_MIN * 60 * scale,
        )
        end = args.minutes * 60
        restarts = [
            k * plan.restart_every_s for k in range(1, int(end // plan.restart_every_s) + 1)
        ]
        # the run's last moment is for draining, not for a fault nobody measures after
        restarts = [t for t in restarts if t < end - 30]
        kills = [k * plan.kill_every_s for k in range(1, int(end // plan.kill_every_s) + 1)]
        kills = [t + (plan.kill_every_s / 2 if t in restarts else 0) for t in kills]
        plan.events = sorted(
            [(t, "restart master") for t in restarts] + [(t, "kill") for t in kills if t < end - 30]
        )
        return plan


# ---------------------------------------------------------------- fate


async def stored_texts(
    control: control_pb2_grpc.ControlStub,
) -> collections.Counter[tuple[str, str, int]]:
    """(text, account, kind) of every stored item whose content carries the mark."""
    found: collections.Counter[tuple[str, str, int]] = collections.Counter()
    token = ""
    while True:
        page = await control.ListItems(
            control_pb2.ListItemsRequest(query=MARK, page_size=1000, page_token=token)
        )
        for stored in page.items:
            item = stored.item
            text = next((w for w in item.content.split() if w.startswith(MARK)), "")
            if text:
                found[(text, item.account_id, item.kind)] += 1
        token = page.next_page_token
        if not token:
            return found


# ---------------------------------------------------------------- the run


class Soak:
    def __init__(self, cluster: Cluster, base: str, args: argparse.Namespace) -> None:
        self.cluster = cluster
        self.base = base
        self.args = args
        self.plan = Plan.of(args)
        self.injector = SteadyInjector(base, MARK, args.per_account_min)
        self.t0 = 0.0
        self.proc_rows: list[dict[str, object]] = []
        self.sys_rows: list[dict[str, object]] = []
        self.notes: list[str] = []
        self.windows: list[tuple[int, int]] = []  # injector.sent slice per sample
        self.kills = 0
        self.restarts = 0

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def setup(self) -> None:
        accounts = {f"soak-a{n}": f"demo{n}" for n in range(1, self.args.accounts + 1)}
        for account_id, username in accounts.items():
            await self.control.CreateAccount(
                control_pb2.CreateAccountRequest(
                    account_id=account_id,
                    spec=demo_spec(self.base, username, interval_ms=self.args.interval_ms),
                )
            )
        if await wait_states(self.control, accounts, NEEDS_LOGIN, 120):
            raise RuntimeError("accounts never asked for a login")
        gate = asyncio.Semaphore(4)

        async def one(account_id: str, username: str) -> None:
            async with gate:
                result = await login(self.control, self.base, account_id, username)
            if result != "success":
                raise RuntimeError(f"login of {account_id} ended with {result}")

        await asyncio.gather(*(one(a, u) for a, u in accounts.items()))
        if await wait_states(self.control, accounts, RUNNING, 300, acked=True):
            raise RuntimeError("accounts never all RUNNING")
        await asyncio.to_thread(
            admin,
            self.base,
            "/admin/session_rotation",
            {"every_s": self.plan.rotate_every_s, "grace_s": self.args.rotate_grace_s},
        )
        self.injector.accounts.update(accounts)

    async def run(self) -> int:
        # opened here: a grpc.aio channel belongs to the loop that made it
        self.channel = open_channel(self.cluster.address, self.cluster.token())
        self.control = control_pb2_grpc.ControlStub(self.channel)
        self.watcher = MarkWatcher(self.control, MARK)
        await self.setup()
        out(
            f"{self.args.accounts} accounts RUNNING on {len(self.cluster.workers)} workers; "
            f"{self.args.minutes:g} minutes: "
            + ", ".join(f"{what} at {t / 60:.1f} min" for t, what in self.plan.events)
            + f"; session rotation every {self.plan.rotate_every_s:.0f} s"
        )
        self.t0 = time.monotonic()
        self.watcher.start()
        self.injector.start()
        events = list(self.plan.events)
        next_sample = 0.0
        sent_mark = 0
        try:
            while self.now() < self.args.minutes * 60:
                if events and self.now() >= events[0][0]:
                    _, what = events.pop(0)
                    await (self.restart_master() if what == "restart master" else self.kill())
                if self.now() >= next_sample:
                    sent_mark = await self.sample(sent_mark)
                    next_sample = max(next_sample + self.args.sample_every_s, self.now())
                await asyncio.sleep(1.0)
            await self.injector.stop()
            stored = await self.drain(self.args.interval_ms / 1000 + 60)
            await self.sample(sent_mark)
            fate = await self.fate(stored)
        finally:
            await self.injector.stop()
            await self.watcher.stop()
            await self.channel.close()
            # whatever happened, what was measured is kept
            self.write_csv()
            self.report_growth()
        return fate

    async def kill(self) -> None:
        ids = sorted(self.args.kill_workers)
        victim = ids[self.kills % len(ids)]
        self.kills += 1
        killed = await asyncio.to_thread(kill_tree, self.cluster.workers[victim].pid)
        self.note(f"killed {victim} ({killed} processes)")
        await asyncio.sleep(2.0)  # supervisord's restart delay, roughly
        self.cluster.start_worker(victim, *self.args.worker_args)

    async def restart_master(self) -> None:
        self.restarts += 1
        assert self.cluster.master is not None
        await asyncio.to_thread(self.cluster.master.stop)
        self.note("master stopped")
        await asyncio.to_thread(self.cluster.start_master)
        # the old stream died with the master: events during the gap are
        # missed by the stream (the fate check reads the database instead)
        await self.watcher.stop()
        self.watcher_restart()
        self.note("master restarted")

    def watcher_restart(self) -> None:
        fresh = MarkWatcher(self.control, MARK)
        fresh.arrived, fresh.kinds, fresh.accounts = (
            self.watcher.arrived,
            self.watcher.kinds,
            self.watcher.accounts,
        )
        fresh.repeats = self.watcher.repeats
        fresh.events = self.watcher.events
        self.watcher = fresh
        self.watcher.start()

    def note(self, what: str) -> None:
        line = f"{self.now() / 60:6.2f} min: {what}"
        self.notes.append(line)
        out(line)

    async def sample(self, sent_mark: int) -> int:
        t = round(self.now(), 1)
        outbox, pending, subscribers, total = -1, -1, -1, -1
        held: dict[str, int] = {}  # worker id -> accounts it holds, as the master sees it
        with contextlib.suppress(Exception):  # the master may be restarting
            workers = await workers_by_id(self.control)
            held = {wid: len(w.account_ids) for wid, w in workers.items()}
            outbox = sum(w.outbox_pending for w in workers.values())
            stats = await self.control.GetStats(control_pb2.GetStatsRequest(), timeout=5)
            pending, subscribers = stats.pending_config_acks, stats.subscribers
            total = stats.items_total
        for sample in await asyncio.to_thread(role_rows, self.cluster):
            owner = sample.role.split(":", 1)[-1]
            self.proc_rows.append(
                {
                    "t_s": t,
                    "role": sample.role,
                    "pid": sample.pid,
                    "rss_mib": round(sample.rss_mib, 2),
                    "pss_mib": round(sample.pss_mib, 2),
                    "fds": sample.fds,
                    "accounts": sum(held.values()) if owner == "master" else held.get(owner, -1),
                }
            )
        self.windows.append((sent_mark, len(self.injector.sent)))
        self.sys_rows.append(
            {
                "t_s": t,
                "outbox_pending": outbox,
                "pending_config_acks": pending,
                "subscribers": subscribers,
                "items_total": total,
                "load_1min": round(os.getloadavg()[0], 2),
            }
        )
        self.sys_rows[-1].update(self.lag(len(self.windows) - 1))
        if len(self.sys_rows) % 10 == 0:
            await asyncio.to_thread(self.write_csv, quiet=True)  # readable while it runs
        row = self.sys_rows[-1]
        out(
            f"{t / 60:6.2f} min: sent {row['sent']}, on stream {row['arrived_on_stream']}, lag "
            f"p50/p99/max {row['lag_p50_ms']}/{row['lag_p99_ms']}/{row['lag_max_ms']} ms, "
            f"outbox {outbox}, pending acks {pending}, load {row['load_1min']}"
        )
        return len(self.injector.sent)

    def lag(self, index: int) -> dict[str, object]:
        """Stream lag of the items sent in sampling window `index`, as far as
        they arrived so far (write_csv asks again at the end: an item held up
        by a kill arrives after the next sample)."""
        first, last = self.windows[index]
        window = self.injector.sent[first:last]
        arrived = self.watcher.arrived
        lag = [arrived[s.text] - s.t_send for s in window if s.text in arrived]
        return {
            "sent": len(window),
            "arrived_on_stream": len(lag),
            "lag_p50_ms": round(percentile(lag, 0.5) * 1000, 1),
            "lag_p99_ms": round(percentile(lag, 0.99) * 1000, 1),
            "lag_max_ms": round(max(lag, default=math.nan) * 1000, 1),
        }

    async def drain(self, within: float) -> collections.Counter[tuple[str, str, int]]:
        """Until every injected item is in the database, or `within` s passed;
        returns what is stored. The stream is no judge here: it is down while
        the master restarts, and the resent items come back only to the database."""
        wanted = {s.text for s in self.injector.sent if not s.error}
        deadline = time.monotonic() + within
        while True:
            stored = await stored_texts(self.control)
            if wanted <= {text for text, _, _ in stored} or time.monotonic() > deadline:
                return stored
            await asyncio.sleep(5.0)

    async def fate(self, stored: collections.Counter[tuple[str, str, int]]) -> int:
        sent = [s for s in self.injector.sent if not s.error]
        failed_sends = len(self.injector.sent) - len(sent)
        by_text: dict[str, list[tuple[str, int, int]]] = collections.defaultdict(list)
        for (text, account, kind), n in stored.items():
            by_text[text].append((account, kind, n))
        lost = [s for s in sent if s.text not in by_text]
        dup = [s for s in sent if sum(n for _, _, n in by_text.get(s.text, [])) > 1]
        wrong = [
            s
            for s in sent
            if s.text in by_text
            and by_text[s.text]
            and by_text[s.text][0][:2] != (s.account_id, s.kind)
        ]
        not_streamed = [s for s in sent if s.text not in self.watcher.arrived]
        out()
        out(
            f"fate of {len(sent)} injected items: {len(sent) - len(lost)} stored, "
            f"{len(lost)} lost, "
            f"{len(dup)} duplicated, {len(wrong)} under the wrong account or kind; "
            f"{len(not_streamed)} not seen on the event stream (it is down while the master "
            f"restarts), {len(self.watcher.repeats)} seen twice on it; {failed_sends} injections "
            f"the platform refused"
        )
        for s in (lost + dup + wrong)[:10]:
            out(f"  {s.text} -> {s.account_id}: stored as {by_text.get(s.text)}")
        return 1 if (lost or dup or wrong) else 0

    def write_csv(self, *, quiet: bool = False) -> None:
        prefix = self.args.csv_prefix
        prefix.parent.mkdir(parents=True, exist_ok=True)
        for index, row in enumerate(self.sys_rows):
            row.update(self.lag(index))  # with the items that arrived late
        for suffix, rows in (("processes", self.proc_rows), ("system", self.sys_rows)):
            if not rows:
                continue
            path = prefix.with_name(f"{prefix.name}-{suffix}.csv")
            with path.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            if not quiet:
                out(f"CSV: {path}")

    def report_growth(self) -> None:
        """Per process (pid), after its warm-up: PSS and RSS growth per hour
        over every sample, and PSS growth over the samples where its worker
        held its usual number of accounts (a kill moves the victim's accounts
        onto the others for a while; that is load, not growth); fds first/last."""
        series: dict[tuple[str, int], list[dict[str, float]]] = collections.defaultdict(list)
        for r in self.proc_rows:
            series[(str(r["role"]), int(r["pid"]))].append(  # type: ignore[call-overload]
                {k: float(r[k]) for k in ("t_s", "rss_mib", "pss_mib", "fds", "accounts")}  # type: ignore[arg-type]
            )
        out()
        out(
            f"per process, after its first {self.plan.warmup_s / 60:.1f} min "
            f"(target: growth <= {GROWTH_TARGET_PCT_H:.0f} % per hour, fds flat); "
            "%/h: least-squares slope over the start of the judged span"
        )
        header = (
            f"{'role':<20}{'pid':>8}{'lived':>7}{'PSS MiB':>15}{'PSS %/h':>9}"
            f"{'same load':>11}{'RSS %/h':>9}{'fds':>11}"
        )
        out(header)
        out("-" * len(header))
        for (role, pid), points in sorted(series.items()):
            start = points[0]["t_s"]
            judged = [p for p in points if p["t_s"] - start >= self.plan.warmup_s]
            lived = (points[-1]["t_s"] - start) / 60
            usual = collections.Counter(int(p["accounts"]) for p in judged).most_common(1)
            steady = [p for p in judged if usual and int(p["accounts"]) == usual[0][0]]
            same_load = growth_pct_h(steady, "pss_mib")
            if same_load != "n/a":
                same_load += f" @{usual[0][0]}"
            pss = f"{points[0]['pss_mib']:.0f} -> {points[-1]['pss_mib']:.0f}"
            fds = f"{points[0]['fds']:.0f} -> {points[-1]['fds']:.0f}"
            out(
                f"{role:<20}{pid:>8}{lived:>7.1f}{pss:>15}{growth_pct_h(judged, 'pss_mib'):>9}"
                f"{same_load:>11}{growth_pct_h(judged, 'rss_mib'):>9}{fds:>11}"
            )
        out("n/a: the process lived too short past its warm-up to judge (a kill or restart)")
        out("same load: only the samples where its worker held @N accounts, its usual count")
        out(f"faults: {self.kills} worker kills, {self.restarts} master restarts")


def growth_pct_h(points: list[dict[str, float]], key: str) -> str:
    """Least-squares growth of points[key] per hour, in % of its first value."""
    if len(points) < 3 or points[-1]["t_s"] - points[0]["t_s"] < 600 or not points[0][key]:
        return "n/a"
    slope = linear_slope([p["t_s"] for p in points], [p[key] for p in points])
    return f"{slope * 3600 / points[0][key] * 100:+.1f}"


def linear_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=FULL_MINUTES, help="length of the run")
    parser.add_argument("--accounts", type=int, default=30, help="demo accounts")
    parser.add_argument("--workers", type=int, default=3, help="workers")
    parser.add_argument("--interval-ms", type=int, default=60_000, help="monitor interval")
    parser.add_argument("--per-account-min", type=float, default=1.0, help="items per account/min")
    parser.add_argument("--kill-every-min", type=float, default=20.0, help="(at 120 minutes)")
    parser.add_argument("--restart-every-min", type=float, default=60.0, help="(at 120 minutes)")
    parser.add_argument("--rotate-every-s", type=float, default=600.0, help="(at 120 minutes)")
    parser.add_argument("--rotate-grace-s", type=float, default=60.0, help="old cookie's life")
    parser.add_argument(
        "--kill-workers",
        nargs="+",
        default=["soak-w1"],
        help="worker ids the kills take turns on; the others live the whole run, so their"
        " growth can be judged (default: soak-w1)",
    )
    parser.add_argument(
        "--page-renew-min",
        type=float,
        default=None,
        help="HISCRM_PAGE_RENEW_MIN for the workers (default: the setting's default)",
    )
    parser.add_argument("--sample-every-s", type=float, default=30.0, help="sampling period")
    parser.add_argument(
        "--csv-prefix", type=Path, default=ROOT / "bench" / "results" / "soak", help="CSV prefix"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs, db)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.accounts < 1 or args.workers < 1:
        parser.error("--minutes > 0, --accounts and --workers >= 1")
    if args.kill_every_min <= 0 or args.restart_every_min <= 0 or args.sample_every_s <= 0:
        parser.error("the periods must be > 0")
    known = {f"soak-w{n}" for n in range(1, args.workers + 1)}
    if set(args.kill_workers) - known:
        parser.error(f"--kill-workers: the workers are {', '.join(sorted(known))}")
    per_worker = args.accounts  # one worker must hold them all while the other restarts
    args.worker_args = ("--platforms", "demo", "--max-accounts", str(per_worker))

    def run(cluster: Cluster) -> int:
        base = cluster.start_demosite("--users", str(args.accounts + 1))
        cluster.start_master()
        for n in range(1, args.workers + 1):
            cluster.start_worker(f"soak-w{n}", *args.worker_args)
        for n in range(1, args.workers + 1):
            cluster.wait_worker_state(f"soak-w{n}", common_pb2.WORKER_STATE_ONLINE, timeout=60)
        out(f"demo platform {base}, master on {cluster.address}; home {cluster.home}")
        out(f"machine before: {machine()}")
        code = asyncio.run(Soak(cluster, base, args).run())
        out(f"machine after: {machine()}")
        return code

    env = {"HISCRM_HEARTBEAT_MS": "2000", "HISCRM_OFFLINE_AFTER_MS": "20000"}
    if args.page_renew_min is not None:
        env["HISCRM_PAGE_RENEW_MIN"] = f"{args.page_renew_min:g}"
    return run_cluster("soak", run, keep=args.keep, extra_env=env, report_killed=True)


if __name__ == "__main__":
    sys.exit(main())
