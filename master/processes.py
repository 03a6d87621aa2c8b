"""The master's view of supervisord: worker processes by worker id.

Workers run as `worker:<worker id>` in supervisord's `worker` group; the
master reaches supervisord over its UNIX socket ($HISCRM_SUPERVISOR_SOCKET,
default $HISCRM_HOME/supervisor.sock). Without supervisord every call fails
with a message saying so, and worker lists simply lack process states.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from hiscrm.v1 import common_pb2
from hiscrm_common import settings
from master.supervisor_client import ProcessInfo, SupervisorClient, SupervisorError

log = logging.getLogger(__name__)

GROUP = "worker"
CACHE_S = 2.0


def socket_path() -> Path:
    raw = os.environ.get("HISCRM_SUPERVISOR_SOCKET", "")
    return Path(raw) if raw else settings.home() / "supervisor.sock"


def process_state(name: str) -> int:
    key = f"PROCESS_STATE_{name}"
    return (
        common_pb2.ProcessState.Value(key)
        if key in common_pb2.ProcessState.keys()
        else (common_pb2.PROCESS_STATE_UNKNOWN)
    )


class Processes:
    def __init__(self, path: Path | None = None) -> None:
        self.client = SupervisorClient(path or socket_path())
        self._cache: dict[str, ProcessInfo] = {}
        self._cached_at = 0.0

    @staticmethod
    def name_of(worker_id: str) -> str:
        return f"{GROUP}:{worker_id}"

    async def workers(self) -> dict[str, ProcessInfo]:
        procs = await self.client.group_processes(GROUP)
        self._cache = {p.process: p for p in procs}
        self._cached_at = time.monotonic()
        return self._cache

    async def states(self) -> dict[str, int]:
        """Process state by worker id; empty when supervisord is not there."""
        if time.monotonic() - self._cached_at > CACHE_S:
            try:
                await self.workers()
            except SupervisorError:
                self._cache = {}
                self._cached_at = time.monotonic()
        return {wid: process_state(p.state) for wid, p in self._cache.items()}

    async def resolve(self, worker_ids: list[str], every: bool) -> list[str]:
        known = await self.workers()
        if every:
            return sorted(w for w, p in known.items() if p.active or p.state == "STOPPED")
        return worker_ids
