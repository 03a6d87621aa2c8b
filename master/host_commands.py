"""Process control on a worker host, through its agent's stream.

The same operations master/processes.py runs on the local supervisord
(start, stop, restart, scale, tail log), as HostCommands answered by the
agent; the answers come back as the Control results of the local path, so a
caller cannot tell a remote worker from a local one except by its host.
"""

from __future__ import annotations

import logging

from hiscrm.v1 import common_pb2, control_pb2, hosts_pb2
from master.hosts import HostRecord

log = logging.getLogger(__name__)

ACTIONS = {
    "start": hosts_pb2.HOST_ACTION_START,
    "stop": hosts_pb2.HOST_ACTION_STOP,
    "restart": hosts_pb2.HOST_ACTION_RESTART,
}
# a stop waits for the worker's stopwaitsecs (30 s) and a start for its
# startsecs; the agent answers within these
ACT_WITHIN_S = 120.0
TAIL_WITHIN_S = 15.0


class HostUnavailable(Exception):
    """The host is not connected, or did not answer."""


async def _call(
    record: HostRecord, command: hosts_pb2.HostCommand, within_s: float
) -> hosts_pb2.HostCommandResult:
    link = record.link
    if link is None:
        raise HostUnavailable(f"host {record.host_id} is not connected ({record.state_reason})")
    try:
        result = await link.call(command, within_s)
    except (ConnectionError, TimeoutError) as exc:
        raise HostUnavailable(str(exc)) from None
    return result


def _converted(result: hosts_pb2.HostCommandResult) -> list[control_pb2.WorkerActionResult]:
    return [
        control_pb2.WorkerActionResult(
            worker_id=r.worker_id, ok=r.ok, message=r.message, process_state=r.process_state
        )
        for r in result.results
    ]


async def act(
    record: HostRecord, op: str, worker_ids: list[str]
) -> list[control_pb2.WorkerActionResult]:
    """start/stop/restart the given workers there; one result per worker,
    a failed one saying why (the host's unavailability included)."""
    log.info("host %s: %s %s", record.host_id, op, ",".join(worker_ids))
    try:
        result = await _call(
            record,
            hosts_pb2.HostCommand(action=ACTIONS[op], worker_ids=worker_ids),
            ACT_WITHIN_S,
        )
    except HostUnavailable as exc:
        return [
            control_pb2.WorkerActionResult(
                worker_id=w,
                ok=False,
                message=f"{op}: {exc}",
                process_state=common_pb2.PROCESS_STATE_UNKNOWN,
            )
            for w in worker_ids
        ]
    if not result.ok and not result.results:
        return [
            control_pb2.WorkerActionResult(worker_id=w, ok=False, message=f"{op}: {result.message}")
            for w in worker_ids
        ]
    return _converted(result)


async def scale(record: HostRecord, count: int) -> list[control_pb2.WorkerActionResult]:
    log.info("host %s: scale to %d workers", record.host_id, count)
    result = await _call(
        record, hosts_pb2.HostCommand(action=hosts_pb2.HOST_ACTION_SCALE, count=count), ACT_WITHIN_S
    )
    if not result.ok and not result.results:
        raise HostUnavailable(f"host {record.host_id}: {result.message}")
    return _converted(result)


async def tail(
    record: HostRecord, worker_id: str, offset: int, nbytes: int
) -> tuple[str, int, bool]:
    """(text, next offset, overflow) of the worker's log there; offset 0
    reads the last nbytes."""
    result = await _call(
        record,
        hosts_pb2.HostCommand(
            action=hosts_pb2.HOST_ACTION_TAIL_LOG,
            worker_ids=[worker_id],
            log_offset=offset,
            log_bytes=nbytes,
        ),
        TAIL_WITHIN_S,
    )
    if not result.ok:
        raise HostUnavailable(f"host {record.host_id}: {result.message}")
    return result.log_text, result.log_offset, result.log_overflow
