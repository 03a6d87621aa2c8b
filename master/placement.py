"""Where accounts should run: pure decisions over loads, no side effects.

The scheduler owns the consequences (Assign/Revoke frames, the database);
this module only answers "which worker" quickly enough for 10,000 accounts
over 1,000 workers.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort

from hiscrm.v1 import common_pb2
from master.registry import WorkerRecord
from master.store.models import AccountRow

PLATFORM_VALUES = dict(common_pb2.Platform.items())
LOGGING_IN = "RUN_STATE_LOGGING_IN"


def eligible(worker: WorkerRecord, row: AccountRow) -> bool:
    return PLATFORM_VALUES[row.platform] in worker.platforms


def movable(row: AccountRow) -> bool:
    """Evening out may move it: not pinned, and no login in progress (its QR
    and browser page are on its worker; moved, the login would die there
    unseen and the operator's QR with it)."""
    return not row.pinned_worker_id and row.state != LOGGING_IN


def place(
    waiting: list[AccountRow], online: dict[str, WorkerRecord], loads: dict[str, int]
) -> list[tuple[AccountRow, str]]:
    """Least-loaded eligible worker for each waiting account (its pinned
    worker if it has one): one heap per platform, so n log m, not n*m.
    Updates loads; returns (account, worker) for each account placed."""
    placed: list[tuple[AccountRow, str]] = []
    heaps: dict[int, list[tuple[int, str]]] = {}
    for row in waiting:
        platform = PLATFORM_VALUES[row.platform]
        pinned = online.get(row.pinned_worker_id or "")
        if pinned is not None:
            if platform in pinned.platforms and loads[pinned.worker_id] < pinned.max_accounts:
                loads[pinned.worker_id] += 1
                placed.append((row, pinned.worker_id))
            continue
        heap = heaps.get(platform)
        if heap is None:
            heap = [
                (loads[w.worker_id], w.worker_id)
                for w in online.values()
                if platform in w.platforms and loads[w.worker_id] < w.max_accounts
            ]
            heapq.heapify(heap)
            heaps[platform] = heap
        while heap:
            load, worker_id = heapq.heappop(heap)
            if load != loads[worker_id]:  # stale: another platform's heap moved it
                heapq.heappush(heap, (loads[worker_id], worker_id))
                continue
            loads[worker_id] += 1
            placed.append((row, worker_id))
            if loads[worker_id] < online[worker_id].max_accounts:
                heapq.heappush(heap, (loads[worker_id], worker_id))
            break
    return placed


def even_out(
    online: dict[str, WorkerRecord], members: dict[str, list[AccountRow]]
) -> list[tuple[AccountRow, str, str]]:
    """Moves (account, from, to), busiest to idlest, until no two workers
    that could swap an account differ by more than one; members is updated.
    The workers stay in one list sorted by load, adjusted per move, because
    re-sorting 1,000 workers for each of thousands of moves blocked the
    master's loop for seconds when a fleet came up."""
    order = sorted((len(members[w]), w) for w in online)
    moves: list[tuple[AccountRow, str, str]] = []
    limit = sum(len(m) for m in members.values())
    while len(moves) < limit:
        move = _next_move(order, online, members)
        if move is None:
            break
        row, busy, idle = move
        members[busy].remove(row)
        members[idle].append(row)
        moves.append(move)
        for worker_id, before in ((busy, len(members[busy]) + 1), (idle, len(members[idle]) - 1)):
            del order[bisect_left(order, (before, worker_id))]
            insort(order, (len(members[worker_id]), worker_id))
    return moves


def _next_move(
    order: list[tuple[int, str]],
    online: dict[str, WorkerRecord],
    members: dict[str, list[AccountRow]],
) -> tuple[AccountRow, str, str] | None:
    if not order:
        return None
    lightest = order[0][0]
    for busy_load, busy in reversed(order):
        if busy_load - lightest <= 1:
            return None
        for idle_load, idle in order:
            if busy_load - idle_load <= 1:
                break
            worker = online[idle]
            if idle_load >= worker.max_accounts:
                continue
            row = next(
                (r for r in members[busy] if movable(r) and eligible(worker, r)),
                None,
            )
            if row is not None:
                return row, busy, idle
    return None
