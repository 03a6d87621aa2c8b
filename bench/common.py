"""What the benchmark scripts share: output, machine load, percentiles, CPU
seconds, demo logins, Control listings, a WatchEvents reader and the run
around a Cluster (temporary HISCRM_HOME, logs on failure, cleanup, --keep).

The scripts import it after putting the repository root on sys.path, as they
already do for tests.harness:

    from bench.common import out, machine, login, run_cluster  # noqa: E402
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil

from demosite.client import DemoAdmin
from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc
from tests.demo_helpers import admin
from tests.harness import Cluster

LOGIN_TIMEOUT_S = 120.0
LOGIN_ENDS = ("success", "failed", "expired", "cancelled")


# ---------------------------------------------------------------- output and figures


def out(line: str = "") -> None:
    # Flushed per line: the runs take minutes and are watched, often through a pipe.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) {five:.1f} (5 min)"


def machine() -> str:
    """Other work on the box skews every figure: say how busy it was."""
    return f"{os.cpu_count()} CPUs, {load_average()}"


def percentile(values: Iterable[float], q: float, empty: float = math.nan) -> float:
    """Nearest rank at or above q. `empty` is what no values give (ingest prints 0)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else empty


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of a process and all its descendants, by pid (a
    worker: itself, the Playwright driver, Chromium and every renderer)."""
    found: dict[int, float] = {}
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return found
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            found[proc.pid] = cpu_seconds(proc)
    return found


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two tree_cpu() readings; a process that
    started in between counts whole, one that ended in between is lost."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


# ---------------------------------------------------------------- Control


async def login(
    control: control_pb2_grpc.ControlStub,
    base: str,
    account_id: str,
    username: str,
    *,
    within_s: float = LOGIN_TIMEOUT_S,
) -> str:
    """StartLogin, scan the first QR like a phone would, answer an SMS step;
    returns the last event kind (success / failed / expired / cancelled) or a
    timeout note. A bench counts a failed login as a problem and reports the
    others too, so unlike ops.demo.login this never raises for one. The
    demo platform is driven through demosite/client.py, like everywhere."""
    last = ""
    scanned = False
    phone = DemoAdmin(base)
    call = control.StartLogin(control_pb2.StartLoginRequest(account_id=account_id))
    try:
        async with asyncio.timeout(within_s):
            async for update in call:
                last = update.WhichOneof("event") or ""
                if last == "qr" and not scanned:
                    # Once: a QR that comes again after the scan means the scan did not take,
                    # and scanning the new one would hide that.
                    scanned = True
                    await phone.scan(username, update.qr.content)
                elif last == "verification_required":
                    await control.SubmitVerification(
                        control_pb2.SubmitVerificationRequest(
                            session_id=update.session_id, code=await phone.sms_code(username)
                        )
                    )
                elif last in LOGIN_ENDS:
                    break
    except TimeoutError:
        last = f"timeout after {within_s:.0f} s (last event {last or 'none'})"
    finally:
        call.cancel()
    return last


async def accounts_by_id(control: control_pb2_grpc.ControlStub) -> dict[str, control_pb2.Account]:
    """Every account, all pages."""
    found: dict[str, control_pb2.Account] = {}
    token = ""
    while True:
        page = await control.ListAccounts(
            control_pb2.ListAccountsRequest(page_size=1000, page_token=token)
        )
        found.update({a.account_id: a for a in page.accounts})
        token = page.next_page_token
        if not token:
            return found


async def workers_by_id(control: control_pb2_grpc.ControlStub) -> dict[str, control_pb2.Worker]:
    listed = await control.ListWorkers(control_pb2.ListWorkersRequest())
    return {w.worker_id: w for w in listed.workers}


async def wait_states(
    control: control_pb2_grpc.ControlStub,
    ids: Iterable[str],
    state: int,
    within: float,
    *,
    worker_id: str | None = None,
    acked: bool = False,
    every: float = 0.25,
) -> list[str]:
    """Waits until every account is in `state` (on `worker_id`, with its config
    acknowledged if `acked`); returns those that are not when `within` s ran out.
    Returning rather than raising lets a bench say which accounts and go on."""
    wanted = list(ids)
    deadline = time.monotonic() + within
    while True:
        accounts = await accounts_by_id(control)
        behind = [
            a
            for a in wanted
            if a not in accounts
            or accounts[a].state != state
            or (worker_id is not None and accounts[a].worker_id != worker_id)
            or (acked and accounts[a].acked_config_version != accounts[a].config_version)
        ]
        if not behind or time.monotonic() > deadline:
            return behind
        await asyncio.sleep(every)


class EventWatcher:
    """Reads Control.WatchEvents in a task of its own and hands each event to
    on_event with the time it arrived, taken before any work of ours so that
    the benches' latencies do not include it."""

    def __init__(self, control: control_pb2_grpc.ControlStub, kinds: Iterable[int]) -> None:
        self.control = control
        self.failed: list[str] = []
        self.events = 0
        self._watch = list(kinds)
        self._call: grpc.aio.UnaryStreamCall | None = None
        self._task: asyncio.Task[None] | None = None

    def on_event(self, event: control_pb2.Event, now: float) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._call = self.control.WatchEvents(control_pb2.WatchEventsRequest(kinds=self._watch))
        self._task = asyncio.create_task(self._read(self._call))

    async def _read(self, call: grpc.aio.UnaryStreamCall) -> None:
        try:
            async for event in call:
                now = time.perf_counter()
                self.events += 1
                self.on_event(event, now)
        except grpc.aio.AioRpcError as exc:
            # A stream that ends early would make every later item look lost: say why.
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.failed.append(f"WatchEvents ended: {exc.code().name}: {exc.details()}")

    async def stop(self) -> None:
        if self._call is not None:
            self._call.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class MarkWatcher(EventWatcher):
    """Notes when each text starting with `mark` first arrives as an item
    event, under which account and kind, and which texts arrived again."""

    def __init__(self, control: control_pb2_grpc.ControlStub, mark: str) -> None:
        super().__init__(control, [control_pb2.EVENT_KIND_ITEM])
        self.mark = mark
        self.arrived: dict[str, float] = {}  # text -> perf_counter
        self.kinds: dict[str, int] = {}  # text -> ItemKind
        self.accounts: dict[str, str] = {}  # text -> account id
        self.repeats: list[str] = []
        self.changed = asyncio.Event()

    def on_event(self, event: control_pb2.Event, now: float) -> None:
        item = event.item.item
        text = next((w for w in item.content.split() if w.startswith(self.mark)), "")
        if not text:
            return
        if text in self.arrived:
            self.repeats.append(text)
            return
        self.arrived[text] = now
        self.kinds[text] = item.kind
        self.accounts[text] = item.account_id
        self.changed.set()

    async def wait_for(self, texts: Iterable[str], within: float) -> None:
        """Until every text arrived or `within` s passed."""
        wanted = list(texts)
        deadline = time.monotonic() + within
        while not all(t in self.arrived for t in wanted):
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                return


@dataclass
class Sent:
    """One injected item: its unique text, where it went and when."""

    text: str
    account_id: str
    kind: int
    t_send: float  # perf_counter just before the HTTP request
    t_return: float = 0.0  # the platform answered
    error: str = ""


async def inject_one(base: str, sent: Sent, username: str) -> None:
    """One DM (/admin/messages) or comment (/admin/comments) with sent.text."""
    if sent.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE:
        path, body = "/admin/messages", {"username": username, "text": f"在吗 {sent.text}"}
        body["from_name"] = "测"
    else:
        path, body = "/admin/comments", {"username": username, "text": f"好看 {sent.text}"}
    sent.t_send = time.perf_counter()
    try:
        await asyncio.to_thread(admin, base, path, body)
    except Exception as exc:  # the bench reports it; the item counts as never sent
        sent.error = f"{type(exc).__name__}: {exc}"
    sent.t_return = time.perf_counter()


class SteadyInjector:
    """Open-loop traffic at `per_account_min` items per account per minute,
    round-robin over `accounts` (account id -> demo username; may grow while
    running), DMs and comments alternating, each with a unique marked text."""

    def __init__(self, base: str, mark: str, per_account_min: float) -> None:
        self.base = base
        self.mark = mark
        self.per_account_min = per_account_min
        self.accounts: dict[str, str] = {}
        self.sent: list[Sent] = []
        self._n = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        kinds = itertools.cycle((common_pb2.ITEM_KIND_DIRECT_MESSAGE, common_pb2.ITEM_KIND_COMMENT))
        turn = 0
        while True:
            order = sorted(self.accounts)
            if not order:
                await asyncio.sleep(0.5)
                continue
            account_id = order[turn % len(order)]
            turn += 1
            sent = Sent(f"{self.mark}{next(self._n):07d}", account_id, next(kinds), 0.0)
            self.sent.append(sent)
            task = asyncio.create_task(inject_one(self.base, sent, self.accounts[account_id]))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            await asyncio.sleep(60.0 / (self.per_account_min * len(order)))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)


def latencies(watcher: MarkWatcher, sent: Iterable[Sent], kind: int) -> list[float]:
    """Seconds from injection to event of the arrived items of one kind."""
    return [
        watcher.arrived[s.text] - s.t_send
        for s in sent
        if s.kind == kind and s.text in watcher.arrived
    ]


# ---------------------------------------------------------------- the run


def run_cluster(
    name: str,
    body: Callable[[Cluster], int],
    *,
    keep: bool,
    extra_env: Mapping[str, str] | None = None,
    log_tail: int = 4000,
    report_killed: bool = False,
) -> int:
    """Runs body(cluster) in a fresh temporary HISCRM_HOME and returns its exit
    code; 1 if it raised, after printing the error and the tail of the logs.
    Whatever happened, stops every process the cluster started and whatever
    they started, then removes the directory unless `keep`."""
    home = Path(tempfile.mkdtemp(prefix=f"hiscrm-bench-{name}-"))
    cluster = Cluster(home=home, extra_env=dict(extra_env or {}))
    code = 1
    try:
        code = body(cluster)
    except Exception as exc:
        out(f"bench failed: {type(exc).__name__}: {exc}")
        out(cluster.logs()[-log_tail:])
    finally:
        killed = stop_everything(cluster)
        if killed and report_killed:
            out(f"killed {killed} leftover processes")
        if keep:
            out(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    return code


def stop_everything(cluster: Cluster) -> int:
    """cluster.stop_all, then SIGKILL to what it left; returns how many were left."""
    # Collected first: once stop_all has run, their parents are gone and they
    # can no longer be found through them.
    leftovers: list[psutil.Process] = []
    for proc in cluster.procs:
        if proc.alive():
            with contextlib.suppress(psutil.Error):
                leftovers += psutil.Process(proc.pid).children(recursive=True)
            # A worker frozen with SIGSTOP (failover --signal stop) would sit on
            # stop_all's SIGTERM until its timeout.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)
    cluster.stop_all()
    # Chromium runs in a process group of its own, so stop_all's killpg misses it.
    alive: list[psutil.Process] = []
    for leftover in leftovers:
        with contextlib.suppress(psutil.Error):
            if leftover.is_running() and leftover.status() != psutil.STATUS_ZOMBIE:
                alive.append(leftover)
    for leftover in alive:
        with contextlib.suppress(psutil.Error):
            leftover.kill()
    psutil.wait_procs(alive, timeout=5)
    return len(alive)
