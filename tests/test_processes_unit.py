"""The master's cached view of supervisord: fresh after the master changed
something, and a listing that crossed the change is not kept as fresh."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hiscrm.v1 import common_pb2
from hiscrm_common.supervisor_client import ProcessInfo
from master.processes import Processes


def info(state: str) -> ProcessInfo:
    return ProcessInfo.from_rpc(
        {
            "group": "worker",
            "name": "worker-0",
            "statename": state,
            "pid": 0,
            "description": "",
            "logfile": "",
            "stdout_logfile": "",
            "stderr_logfile": "",
            "start": 0,
            "stop": 0,
            "exitstatus": 0,
            "spawnerr": "",
        }
    )


class Supervisord:
    """Answers the group listing with the state it has now; `hold` keeps an
    answer in flight (as a slow XML-RPC call would be)."""

    def __init__(self) -> None:
        self.state = "RUNNING"
        self.calls = 0
        self.hold: asyncio.Event | None = None

    async def group_processes(self, group: str) -> list[ProcessInfo]:
        self.calls += 1
        answer = [info(self.state)]
        if self.hold is not None:
            await self.hold.wait()
        return answer


async def test_a_change_through_the_master_shows_at_once(tmp_path: Path) -> None:
    processes = Processes(tmp_path / "supervisor.sock")
    supervisord = Supervisord()
    processes.client = supervisord  # type: ignore[assignment]
    running, stopped = common_pb2.PROCESS_STATE_RUNNING, common_pb2.PROCESS_STATE_STOPPED

    assert await processes.states() == {"worker-0": running}
    supervisord.state = "STOPPED"
    assert await processes.states() == {"worker-0": running}  # cached, as meant
    processes.changed()  # StopWorker returned
    assert await processes.states() == {"worker-0": stopped}

    # a listing asked before a change and answered after it is not kept
    supervisord.state, supervisord.hold = "STOPPING", asyncio.Event()
    processes.changed()
    listing = asyncio.ensure_future(processes.states())
    await asyncio.sleep(0)  # the listing is in flight with the old state
    supervisord.state = "RUNNING"
    processes.changed()  # StartWorker returned meanwhile
    supervisord.hold.set()
    await listing
    supervisord.hold = None
    assert await processes.states() == {"worker-0": running}
