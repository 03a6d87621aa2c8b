"""How many workers are online out of those meant to run, for one-line
summaries (the console's status bar, `hiscrm status`).

A worker that said goodbye (or was gone long enough to be OFFLINE) and whose
process is not meant to run is stopped: it is not "missing" from "2/3
online". One whose process supervisord still runs or restarts (STARTING,
RUNNING, BACKOFF) or gave up on (FATAL) still counts, as a worker that is
not online although it should be.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hiscrm.v1 import common_pb2, control_pb2

MEANT_TO_RUN = frozenset(
    {
        common_pb2.PROCESS_STATE_STARTING,
        common_pb2.PROCESS_STATE_RUNNING,
        common_pb2.PROCESS_STATE_BACKOFF,
        common_pb2.PROCESS_STATE_FATAL,
    }
)


@dataclass(frozen=True)
class WorkerCounts:
    online: int
    expected: int  # workers not stopped
    stopped: int

    def text(self) -> str:
        stopped = f" ({self.stopped} stopped)" if self.stopped else ""
        return f"workers {self.online}/{self.expected} online{stopped}"


def is_stopped(worker: control_pb2.Worker) -> bool:
    return (
        worker.state == common_pb2.WORKER_STATE_OFFLINE and worker.process_state not in MEANT_TO_RUN
    )


def count_workers(workers: Iterable[control_pb2.Worker]) -> WorkerCounts:
    online = stopped = total = 0
    for worker in workers:
        total += 1
        if worker.state == common_pb2.WORKER_STATE_ONLINE:
            online += 1
        elif is_stopped(worker):
            stopped += 1
    return WorkerCounts(online=online, expected=total - stopped, stopped=stopped)
