"""What the TUI knows about the system, kept apart from the widgets.

The store is filled by List calls after each (re)connect and kept fresh by
live events; every screen reads from it, so a reconnect is one refresh.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from hiscrm.v1 import common_pb2, control_pb2

DM = common_pb2.ITEM_KIND_DIRECT_MESSAGE
UNKNOWN_PROCESS = common_pb2.PROCESS_STATE_UNSPECIFIED

HISTORY = 30  # heartbeat samples kept per worker for the sparklines


@dataclass
class Unread:
    comments: int = 0
    direct_messages: int = 0

    @property
    def total(self) -> int:
        return self.comments + self.direct_messages


@dataclass
class Store:
    workers: dict[str, control_pb2.Worker] = field(default_factory=dict)
    cpu: dict[str, deque[float]] = field(default_factory=dict)
    mem: dict[str, deque[float]] = field(default_factory=dict)
    accounts: dict[str, control_pb2.Account] = field(default_factory=dict)
    unread: dict[str, Unread] = field(default_factory=dict)
    # from GetStats (polled): what the master says an operator must look at
    problems: list[str] = field(default_factory=list)
    task_failures: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------ master

    def set_stats(self, stats: control_pb2.Stats) -> None:
        self.problems = list(stats.problems)
        self.task_failures = {task: n for task, n in sorted(stats.task_failures.items()) if n}

    def delivery_errors(self) -> list[str]:
        """Workers whose outbox fails, as the worker reports it."""
        return [
            f"{wid}: delivery failing: {w.delivery_error}"
            for wid, w in sorted(self.workers.items())
            if w.delivery_error and w.state == common_pb2.WORKER_STATE_ONLINE
        ]

    # ------------------------------------------------------------ workers

    def set_workers(self, workers: Iterable[control_pb2.Worker]) -> None:
        fresh = {w.worker_id: w for w in workers}
        for gone in set(self.workers) - set(fresh):
            self.workers.pop(gone)
            self.cpu.pop(gone, None)
            self.mem.pop(gone, None)
        for worker in fresh.values():
            self.upsert_worker(worker)

    def upsert_worker(self, worker: control_pb2.Worker) -> None:
        previous = self.workers.get(worker.worker_id)
        if previous is not None and worker.process_state == UNKNOWN_PROCESS:
            # Worker events carry no process state (supervisord's view comes
            # with ListWorkers): keep the last one seen rather than show none.
            worker.process_state = previous.process_state
        self.workers[worker.worker_id] = worker
        # One sample per heartbeat, not per poll: an unchanged heartbeat
        # time means no new figures.
        if previous is not None and previous.last_heartbeat_at == worker.last_heartbeat_at:
            return
        if worker.last_heartbeat_at.seconds == 0:
            return
        self.cpu.setdefault(worker.worker_id, deque(maxlen=HISTORY)).append(
            worker.stats.cpu_percent
        )
        self.mem.setdefault(worker.worker_id, deque(maxlen=HISTORY)).append(
            float(worker.stats.rss_bytes)
        )

    # ------------------------------------------------------------ accounts

    def set_accounts(self, accounts: Iterable[control_pb2.Account]) -> None:
        self.accounts = {a.account_id: a for a in accounts}

    def upsert_account(self, account: control_pb2.Account) -> None:
        self.accounts[account.account_id] = account

    def remove_account(self, account_id: str) -> None:
        self.accounts.pop(account_id, None)
        self.unread.pop(account_id, None)

    def note_ack(self, ack: control_pb2.ConfigAcked) -> None:
        account = self.accounts.get(ack.account_id)
        if account is not None and ack.ok and ack.config_version > account.acked_config_version:
            account.acked_config_version = ack.config_version

    # ------------------------------------------------------------ unread

    def set_unread(self, resp: control_pb2.GetUnreadCountsResponse) -> None:
        self.unread = {c.account_id: Unread(c.comments, c.direct_messages) for c in resp.counts}

    def count_new(self, items: Iterable[control_pb2.StoredItem]) -> None:
        """Live items are unread when they arrive; the master counts them so."""
        for stored in items:
            if stored.read:
                continue
            counts = self.unread.setdefault(stored.item.account_id, Unread())
            if stored.item.kind == DM:
                counts.direct_messages += 1
            else:
                counts.comments += 1

    def apply_live_counts(
        self,
        items: Iterable[control_pb2.StoredItem],
        counts: dict[str, control_pb2.UnreadCount],
        after: dict[str, list[int]],
    ) -> None:
        """One event batch: the master's counts where it sent them (plus the
        items that followed them), counted items for the other accounts."""
        self.count_new(s for s in items if s.item.account_id not in counts)
        for account_id, c in counts.items():
            more_comments, more_dms = after.get(account_id, (0, 0))
            self.unread[account_id] = Unread(
                c.comments + more_comments, c.direct_messages + more_dms
            )

    def count_read(self, account_id: str, kind: int, n: int = 1) -> None:
        counts = self.unread.get(account_id)
        if counts is None:
            return
        if kind == DM:
            counts.direct_messages = max(0, counts.direct_messages - n)
        else:
            counts.comments = max(0, counts.comments - n)

    def unread_of(self, account_id: str) -> int:
        counts = self.unread.get(account_id)
        return counts.total if counts else 0

    def unread_total(self, account_ids: Iterable[str] | None = None) -> Unread:
        wanted = self.unread if account_ids is None else {a: None for a in account_ids}
        out = Unread()
        for account_id in wanted:
            counts = self.unread.get(account_id)
            if counts is not None:
                out.comments += counts.comments
                out.direct_messages += counts.direct_messages
        return out
