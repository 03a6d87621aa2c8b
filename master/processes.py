"""The master's view of supervisord: worker processes by worker id.

Workers run as `worker:<worker id>` in supervisord's `worker` group; the
master reaches supervisord over its UNIX socket ($HISCRM_SUPERVISOR_SOCKET,
default $HISCRM_HOME/supervisor.sock). Without supervisord every call fails
with a message saying so, and worker lists simply lack process states.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from hiscrm.v1 import common_pb2
from hiscrm_common import fleet_size, settings
from hiscrm_common.process_states import process_state
from hiscrm_common.supervisor_client import ProcessInfo, SupervisorClient, SupervisorError

log = logging.getLogger(__name__)

__all__ = ["GROUP", "Processes", "process_state", "socket_path"]

GROUP = "worker"
CACHE_S = 2.0
RESTORE_ATTEMPTS = 10


def socket_path() -> Path:
    return settings.get().supervisor_socket or settings.home() / "supervisor.sock"


class Processes:
    def __init__(self, path: Path | None = None) -> None:
        self.client = SupervisorClient(path or socket_path())
        self._cache: dict[str, ProcessInfo] = {}
        self._cached_at = 0.0
        self._changes = 0  # bumped by changed(): a listing from before is not fresh

    @staticmethod
    def name_of(worker_id: str) -> str:
        return f"{GROUP}:{worker_id}"

    async def workers(self) -> dict[str, ProcessInfo]:
        changes = self._changes
        procs = await self.client.group_processes(GROUP)
        self._cache = {p.process: p for p in procs}
        # a listing that crossed a start or stop is used, not kept
        self._cached_at = time.monotonic() if changes == self._changes else 0.0
        return self._cache

    def changed(self) -> None:
        """Workers were just started or stopped through the master: the next
        listing asks supervisord (a cached one would show the state before
        for up to CACHE_S after the call that changed it returned)."""
        self._changes += 1
        self._cached_at = 0.0

    async def states(self) -> dict[str, common_pb2.ProcessState]:
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

    async def restore_worker_count(self) -> bool:
        """Apply the saved worker count when supervisord has no worker running.

        Workers are `autostart=false` in the configuration, so after a boot or a
        `supervisorctl reload` only this brings the fleet back. A master that
        restarts while workers run leaves them as they are (an operator's
        StopWorker is not undone). True when the count was applied.
        """
        wanted = fleet_size.wanted_workers(settings.home())
        if wanted is None or not self.client.socket_path.exists():
            log.info("worker count: nothing to restore (no saved count or no supervisord)")
            return False
        delay = 0.5
        for attempt in range(1, RESTORE_ATTEMPTS + 1):
            try:
                running = [p for p in await self.client.group_processes(GROUP) if p.active]
                if running:
                    log.info(
                        "worker count: %d workers already running; left as they are", len(running)
                    )
                    return False
                result = await self.client.scale_group(GROUP, wanted)
            except (SupervisorError, OSError) as exc:
                log.warning(
                    "worker count %d not restored yet (attempt %d): %s", wanted, attempt, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            log.info(
                "worker count %d restored: started %s",
                wanted,
                ", ".join(r.name for r in result.started) or "none",
            )
            return True
        log.error("worker count %d could not be restored; run `hiscrm scale %d`", wanted, wanted)
        return False
