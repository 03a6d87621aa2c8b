"""A HostCommand from the master as calls to this host's supervisord.

Only members of the `worker` group are touched: the master names workers,
never arbitrary programs, and a name outside the group is refused. The
supervisord client does its blocking XML-RPC on threads (asyncio.to_thread),
over the UNIX socket; nothing listens on the network.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hiscrm.v1 import hosts_pb2
from hiscrm_common import fleet_size
from hiscrm_common.process_states import process_state
from hiscrm_common.supervisor_client import OpResult, SupervisorClient, SupervisorError

log = logging.getLogger(__name__)

GROUP = "worker"
MAX_LOG_BYTES = 64 * 1024


def _result(r: OpResult) -> hosts_pb2.HostProcessResult:
    return hosts_pb2.HostProcessResult(
        worker_id=r.name.split(":", 1)[-1],
        ok=r.ok,
        message=r.message,
        process_state=process_state(r.state),
    )


class Relay:
    def __init__(self, client: SupervisorClient, home: Path) -> None:
        self.client = client
        self.home = home
        self.commands = 0
        self.failed = 0

    async def processes(self) -> list[hosts_pb2.HostProcess]:
        """The worker slots and their states; empty while supervisord is away."""
        try:
            procs = await self.client.group_processes(GROUP)
        except SupervisorError as exc:
            log.warning("host agent: supervisord not answering: %s", exc)
            return []
        return [
            hosts_pb2.HostProcess(worker_id=p.process, state=process_state(p.state), pid=p.pid)
            for p in procs
        ]

    async def restore_count(self) -> None:
        """The saved worker count (fleet.json, from `hiscrm join --workers`
        or the master's last ScaleWorkers), applied when no worker runs: after
        a boot or a host coming back, this brings its workers back."""
        wanted = fleet_size.wanted_workers(self.home)
        if wanted is None:
            return
        procs = await self.client.group_processes(GROUP)
        if any(p.active for p in procs):
            return
        result = await self.client.scale_group(GROUP, wanted)
        log.info(
            "host agent: worker count %d restored: started %s",
            wanted,
            ",".join(r.name for r in result.started) or "none",
        )

    async def handle(self, command: hosts_pb2.HostCommand) -> hosts_pb2.HostCommandResult:
        self.commands += 1
        action = (
            hosts_pb2.HostAction.Name(command.action)
            if command.action in (hosts_pb2.HostAction.values())
            else str(command.action)
        )
        try:
            result = await self._run(command)
        except SupervisorError as exc:
            result = hosts_pb2.HostCommandResult(ok=False, message=str(exc))
        except ValueError as exc:
            result = hosts_pb2.HostCommandResult(ok=False, message=str(exc))
        result.request_id = command.request_id
        if not result.ok:
            self.failed += 1
            log.warning(
                "host agent: %s %s failed: %s", action, ",".join(command.worker_ids), result.message
            )
        else:
            log.info(
                "host agent: %s %s done", action, ",".join(command.worker_ids) or command.count
            )
        return result

    async def _members(self, worker_ids: list[str]) -> list[str]:
        names = {p.process for p in await self.client.group_processes(GROUP)}
        unknown = [w for w in worker_ids if w not in names]
        if unknown:
            raise ValueError(f"no worker slot {', '.join(unknown)} on this host")
        if not worker_ids:
            raise ValueError("no worker named")
        return [f"{GROUP}:{w}" for w in worker_ids]

    async def _run(self, command: hosts_pb2.HostCommand) -> hosts_pb2.HostCommandResult:
        action = command.action
        if action in (
            hosts_pb2.HOST_ACTION_START,
            hosts_pb2.HOST_ACTION_STOP,
            hosts_pb2.HOST_ACTION_RESTART,
        ):
            names = await self._members(list(command.worker_ids))
            op = {
                hosts_pb2.HOST_ACTION_START: self.client.start_many,
                hosts_pb2.HOST_ACTION_STOP: self.client.stop_many,
                hosts_pb2.HOST_ACTION_RESTART: self.client.restart_many,
            }[action]
            results = [_result(r) for r in await op(names)]
            return hosts_pb2.HostCommandResult(ok=all(r.ok for r in results), results=results)
        if action == hosts_pb2.HOST_ACTION_SCALE:
            scaled = await self.client.scale_group(GROUP, command.count)
            fleet_size.remember_workers(self.home, command.count)
            results = [_result(r) for r in (*scaled.started, *scaled.stopped)]
            return hosts_pb2.HostCommandResult(ok=scaled.ok, results=results)
        if action == hosts_pb2.HOST_ACTION_TAIL_LOG:
            (name,) = await self._members(list(command.worker_ids)[:1])
            nbytes = min(command.log_bytes or MAX_LOG_BYTES, MAX_LOG_BYTES)
            if command.log_offset == 0:
                text, offset, overflow = await self.client.tail_last(name, nbytes)
            else:
                text, offset, overflow = await self.client.tail_log(
                    name, command.log_offset, nbytes
                )
            return hosts_pb2.HostCommandResult(
                ok=True, log_text=text, log_offset=offset, log_overflow=overflow
            )
        raise ValueError(f"unknown host action {action}: this agent is older than the master")
