"""Chromium's processes as the OS sees them: find, watch, measure, reap.

Playwright starts its browser executable as the leader of a new process
group; Chromium's zygotes, renderers, GPU and utility processes stay in that
group even once orphaned by a crash, so the group id names them all. When the
executable is a launcher script that does not `exec` (Debian's
/usr/bin/chromium-headless-shell is one), the script leads the group and the
browser is its child: the browser pid and the group id then differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal

import psutil

# A launcher that only runs one program with all its arguments:
# `/usr/lib/chromium/chromium-headless-shell "$@"`, optionally with `exec`.
_PASS_THROUGH = re.compile(r'^(?:exec\s+)?(/\S+)\s+"\$@"$')
_SHELLS = ("/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/dash", "/usr/bin/dash")
_SCRIPT_READ_LIMIT = 4096


def unwrap_launcher(path: str) -> str:
    """The program a pass-through launcher script runs, else `path` itself.

    Launching the real binary keeps Playwright's pipe connected to Chromium
    alone: behind a shell that does not `exec`, the shell holds the pipe too,
    so a dead browser goes unnoticed while the shell waits, and a killed shell
    leaves a live browser behind it. Anything but a bare pass-through (flags,
    environment, several commands, like Debian's /usr/bin/chromium) is left
    alone: the script's work matters then."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SCRIPT_READ_LIMIT)
    except OSError:
        return path
    if not head.startswith(b"#!") or len(head) == _SCRIPT_READ_LIMIT:
        return path
    lines = head.decode("utf-8", "replace").splitlines()
    try:
        shebang = shlex.split(lines[0][2:].strip() or "-")
    except ValueError:
        return path
    if shebang[0] not in _SHELLS or any(a not in ("-e", "-eu", "-ue", "-u") for a in shebang[1:]):
        return path
    commands = [ln.strip() for ln in lines[1:] if ln.strip() and not ln.strip().startswith("#")]
    match = _PASS_THROUGH.match(commands[0]) if len(commands) == 1 else None
    if match is None:
        return path
    target = match.group(1)
    if not os.access(target, os.X_OK) or target == path:
        return path
    try:
        with open(target, "rb") as f:
            if f.read(2) == b"#!":
                return path  # a script behind a script: not worth following
    except OSError:
        return path
    return target


def find_browser_pid(marker: str) -> int | None:
    """The pid of our Chromium's browser process.

    Every process launched with `marker` that is no child type (--type=) is a
    candidate: the browser, any launcher script above it that did not `exec`
    (same arguments), and a child the browser has just forked and not yet
    exec'd (a copy of its command line). The browser is the candidate whose
    own children are Chromium's typed processes (zygote, GPU, utility: all
    started before Playwright is connected); failing that, the outermost."""
    candidates: list[psutil.Process] = []
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmdline = proc.cmdline()
            if marker in cmdline and not _typed(cmdline):
                candidates.append(proc)
    for proc in candidates:
        with contextlib.suppress(psutil.Error):
            if any(_typed(child.cmdline()) for child in proc.children()):
                return proc.pid
    return candidates[0].pid if candidates else None  # children() lists parents first


def _typed(cmdline: list[str]) -> bool:
    return any(a.startswith("--type=") for a in cmdline)


def process_group(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        return os.getpgid(pid)
    return None


def executable_of(pid: int) -> str | None:
    """The binary a process runs (/proc/<pid>/exe), None when unreadable."""
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).exe() or None
    return None


async def wait_exit(pid: int) -> None:
    """Return once the process is gone (it need not be our child).

    A pidfd becomes readable when the process exits, so nothing polls. OSError
    where the kernel has no pidfd_open (Linux before 5.3)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    exited = loop.create_future()

    def _exited() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(fd, _exited)
    try:
        await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants; empty when it is gone."""
    try:
        main = psutil.Process(pid)
        return [main, *main.children(recursive=True)]
    except psutil.Error:
        return []


def group_leftovers(pgid: int) -> list[psutil.Process]:
    """Living processes of a dead Chromium's group: Chromium's own (matched by
    group *and* name, so a reused pid never hits an unrelated process, even
    once orphaned), and anything still below us in it (a launcher script and
    whatever it started; the group is the one Playwright made for them)."""
    if pgid == os.getpgrp():
        return []  # never our own group: the worker and its driver live there
    ours: set[int] = set()
    with contextlib.suppress(psutil.Error):
        ours = {p.pid for p in psutil.Process().children(recursive=True)}
    out = []
    for proc in psutil.process_iter(["name", "status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if (
                os.getpgid(proc.pid) == pgid
                and ("chrom" in (proc.info["name"] or "") or proc.pid in ours)
                and proc.info["status"] != psutil.STATUS_ZOMBIE
            ):
                out.append(proc)
    return out


def reap_group(pgid: int) -> int:
    """SIGKILL what is left of a dead Chromium; the number of processes killed.

    Once one of them is found, the whole group goes with one killpg: a
    launcher script may fork (its next command) between the listing and the
    kill, and that child would otherwise live on, orphaned. A group id is not
    reused while the group has members, so while ours has one it is ours."""
    leftovers = group_leftovers(pgid)
    if leftovers:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    for proc in leftovers:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    if leftovers:
        psutil.wait_procs(leftovers, timeout=3)
    return len(leftovers)
