"""CPU and memory of the worker's whole process tree, Chromium included."""

from __future__ import annotations

import os

import psutil

from hiscrm.v1 import common_pb2

BROWSER_NAMES = ("chrome", "chromium", "headless_shell")


class TreeStats:
    """Keeps psutil.Process objects between samples: cpu_percent() measures
    since the previous call on the same object."""

    def __init__(self, pid: int | None = None) -> None:
        self.root = psutil.Process(pid or os.getpid())
        self._procs: dict[int, psutil.Process] = {}

    def sample(self) -> common_pb2.ProcessStats:
        stats = common_pb2.ProcessStats()
        try:
            tree = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return stats
        seen: dict[int, psutil.Process] = {}
        for proc in tree:
            proc = self._procs.get(proc.pid, proc)
            try:
                with proc.oneshot():
                    cpu = proc.cpu_percent(None)
                    mem = proc.memory_info()
                    name = proc.name().lower()
                    try:
                        uss = proc.memory_full_info().uss
                    except psutil.Error:
                        uss = 0
            except psutil.Error:
                continue
            seen[proc.pid] = proc
            stats.cpu_percent += cpu
            stats.rss_bytes += mem.rss
            stats.uss_bytes += uss
            stats.process_count += 1
            if proc is not self.root and any(b in name for b in BROWSER_NAMES):
                stats.browser_rss_bytes += mem.rss
                stats.browser_process_count += 1
        self._procs = seen
        return stats
