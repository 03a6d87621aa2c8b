"""bench/fleet's probes on the master: py-spy profiles per phase, the
heartbeat-to-database lag poller, CPU per thread and memory."""

from __future__ import annotations

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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.common import (  # noqa: E402
    out,
)

MB = 1024 * 1024


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
