"""Chromium's processes as the OS sees them: find, measure, reap.

Playwright starts Chromium as the leader of a new process group; its zygotes,
renderers, GPU and utility processes stay in that group even once orphaned
by a crash, so the group id (= the browser's pid) names them all.
"""

from __future__ import annotations

import contextlib
import os

import psutil


def find_browser_pid(marker: str) -> int | None:
    """The pid of our Chromium: a descendant launched with `marker` that is no child type."""
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmdline = proc.cmdline()
            if marker in cmdline and not any(a.startswith("--type=") for a in cmdline):
                return proc.pid
    return None


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants; empty when it is gone."""
    try:
        main = psutil.Process(pid)
        return [main, *main.children(recursive=True)]
    except psutil.Error:
        return []


def group_leftovers(pgid: int) -> list[psutil.Process]:
    """Living Chromium processes of a process group (matched by group *and* name,
    so a reused pid never hits an unrelated process)."""
    out = []
    for proc in psutil.process_iter(["name", "status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if (
                os.getpgid(proc.pid) == pgid
                and "chrom" in (proc.info["name"] or "")
                and proc.info["status"] != psutil.STATUS_ZOMBIE
            ):
                out.append(proc)
    return out


def reap_group(pgid: int) -> int:
    """SIGKILL what is left of a dead Chromium; the number of processes killed."""
    leftovers = group_leftovers(pgid)
    for proc in leftovers:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    if leftovers:
        psutil.wait_procs(leftovers, timeout=3)
    return len(leftovers)
