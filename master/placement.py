"""Where accounts should run: pure decisions over loads, no side effects.

The scheduler owns the consequences (Assign/Revoke frames, the database);
this module only answers "which worker" quickly enough for 10,000 accounts
over 1,000 workers.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections import defaultdict
from dataclasses import dataclass, field

from hiscrm.v1 import common_pb2
from master.registry import WorkerRecord
from master.store.models import AccountRow

PLATFORM_VALUES = dict(common_pb2.Platform.items())
LOGGING_IN = "RUN_STATE_LOGGING_IN"


def eligible(worker: WorkerRecord, row: AccountRow) -> bool:
    return PLATFORM_VALUES[row.platform] in worker.platforms


@dataclass
class Hosts:
    """Which host each worker runs on, and each host's account cap (from its
    memory, master/hosts.py). Workers on no known host have neither."""

    host_of: dict[str, str] = field(default_factory=dict)  # worker id -> host id
    caps: dict[str, int] = field(default_factory=dict)  # host id -> most accounts

    def loads(self, loads: dict[str, int]) -> dict[str, int]:
        found: dict[str, int] = defaultdict(int)
        for worker_id, load in loads.items():
            host = self.host_of.get(worker_id)
            if host:
                found[host] += load
        return found

    def room(self, worker_id: str, host_loads: dict[str, int]) -> bool:
        host = self.host_of.get(worker_id, "")
        cap = self.caps.get(host)
        return cap is None or host_loads.get(host, 0) < cap


def movable(row: AccountRow) -> bool:
    """Evening out may move it: not pinned, and no login in progress (its QR
    and browser page are on its worker; moved, the login would die there
    unseen and the operator's QR with it)."""
    return not row.pinned_worker_id and row.state != LOGGING_IN


def place(
    waiting: list[AccountRow],
    online: dict[str, WorkerRecord],
    loads: dict[str, int],
    hosts: Hosts | None = None,
) -> list[tuple[AccountRow, str]]:
    """Least-loaded eligible worker for each waiting account (its pinned
    worker if it has one): one heap per platform, so n log m, not n*m.

    With hosts: among equally loaded workers the one on the least-loaded
    host wins, so a failed host's accounts spread over the surviving hosts
    instead of filling one of them, and no host goes over its cap.
    Updates loads; returns (account, worker) for each account placed."""
    hosts = hosts or Hosts()
    host_loads = hosts.loads(loads)
    placed: list[tuple[AccountRow, str]] = []
    heaps: dict[int, list[tuple[int, int, str]]] = {}

    def key(worker_id: str) -> tuple[int, int, str]:
        return loads[worker_id], host_loads.get(hosts.host_of.get(worker_id, ""), 0), worker_id

    def room(worker_id: str) -> bool:
        return loads[worker_id] < online[worker_id].max_accounts and hosts.room(
            worker_id, host_loads
        )

    def take(worker_id: str, row: AccountRow) -> None:
        loads[worker_id] += 1
        host = hosts.host_of.get(worker_id)
        if host:
            host_loads[host] += 1
        placed.append((row, worker_id))

    for row in waiting:
        platform = PLATFORM_VALUES[row.platform]
        pinned = online.get(row.pinned_worker_id or "")
        if pinned is not None:
            if platform in pinned.platforms and room(pinned.worker_id):
                take(pinned.worker_id, row)
            continue
        heap = heaps.get(platform)
        if heap is None:
            heap = [key(w.worker_id) for w in online.values() if platform in w.platforms]
            heapq.heapify(heap)
            heaps[platform] = heap
        while heap:
            entry = heapq.heappop(heap)
            worker_id = entry[2]
            if not room(worker_id):
                continue  # full (or its host is): loads only grow while placing
            if entry != key(worker_id):  # stale: a placement moved it or its host
                heapq.heappush(heap, key(worker_id))
                continue
            take(worker_id, row)
            heapq.heappush(heap, key(worker_id))
            break
    return placed


def even_out(
    online: dict[str, WorkerRecord],
    members: dict[str, list[AccountRow]],
    hosts: Hosts | None = None,
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
        move = _next_move(order, online, members, hosts)
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
    hosts: Hosts | None = None,
) -> tuple[AccountRow, str, str] | None:
    if not order:
        return None
    host_loads: dict[str, int] = {}
    if hosts is not None and hosts.caps:
        host_loads = hosts.loads({w: len(m) for w, m in members.items()})
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
            if host_loads and hosts is not None and not _fits(hosts, busy, idle, host_loads):
                continue
            row = next(
                (r for r in members[busy] if movable(r) and eligible(worker, r)),
                None,
            )
            if row is not None:
                return row, busy, idle
    return None


def _fits(hosts: Hosts, busy: str, idle: str, host_loads: dict[str, int]) -> bool:
    """A move within one host never breaks its cap; across hosts the idle
    worker's host must have room."""
    same = hosts.host_of.get(busy) == hosts.host_of.get(idle)
    return same or hosts.room(idle, host_loads)
