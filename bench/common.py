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
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import grpc
import psutil

from demosite.client import DemoAdmin
from hiscrm.v1 import control_pb2, control_pb2_grpc
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
