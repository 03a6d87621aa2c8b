"""What the TUI knows about the system, kept apart from the widgets.

The store is filled by List calls after each (re)connect and kept fresh by
live events; every screen reads from it, so a reconnect is one refresh.
Whoever changes it announces a Change; panes subscribe and redraw what the
change touches, so the app never has to know which pane shows what.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hiscrm.v1 import common_pb2, control_pb2
from tui.messages import EventBatch

DM = common_pb2.ITEM_KIND_DIRECT_MESSAGE
UNKNOWN_PROCESS = common_pb2.PROCESS_STATE_UNSPECIFIED

HISTORY = 30  # heartbeat samples kept per worker for the sparklines

log = logging.getLogger(__name__)


class Topic(enum.Enum):
    """What part of the store a change touched."""

    WORKERS = "workers"
    ACCOUNTS = "accounts"  # an account's state, config or existence
    UNREAD = "unread"
    STATS = "stats"
    ITEMS = "items"  # live items (Change.items) or a full reload
    LOGINS = "logins"
    CONVERSATIONS = "conversations"


@dataclass
class Change:
    """One announcement: the topics touched, and the live facts that are not
    kept in the store (items, logins and deletions pass through to panes)."""

    topics: set[Topic] = field(default_factory=set)
    items: list[control_pb2.StoredItem] = field(default_factory=list)
    logins: list[control_pb2.LoginUpdate] = field(default_factory=list)
    deleted_with_items: list[str] = field(default_factory=list)  # account ids
    conversations: list[control_pb2.ConversationUpdate] = field(default_factory=list)
    reloaded: bool = False  # everything was re-read (after a (re)connect)

    def touches(self, *topics: Topic) -> bool:
        return self.reloaded or any(t in self.topics for t in topics)


Listener = Callable[[Change], None]


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
    listeners: list[Listener] = field(default_factory=list, repr=False)
    operator: str = ""  # this console's operator (WhoAmI): read state and claims are theirs
    # Conversations the console has listed or heard of, by conversation_ref;
    # unread_count is this operator's.
    conversations: dict[int, control_pb2.Conversation] = field(default_factory=dict)

    # ------------------------------------------------------------ announcements

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def announce(self, change: Change) -> None:
        """Tell every listener, in the order they subscribed."""
        for listener in list(self.listeners):
            listener(change)

    def apply(self, batch: EventBatch) -> Change:
        """One batch of live events into the store; what it touched."""
        change = Change(items=batch.items, logins=batch.logins, conversations=batch.conversations)
        for worker in batch.workers.values():
            self.upsert_worker(worker)
        for account in batch.accounts.values():
            self.upsert_account(account)
        self.apply_live_counts(batch.items, batch.unread, batch.unread_after)
        for account_id in batch.deleted:
            self.remove_account(account_id)
        for ack in batch.config_acks:
            self.note_ack(ack)
        change.deleted_with_items = [
            g.account_id for g in batch.deleted.values() if g.items_deleted
        ]
        if batch.workers:
            change.topics.add(Topic.WORKERS)
        if batch.accounts or batch.config_acks or batch.deleted:
            change.topics.add(Topic.ACCOUNTS)
        # Items alone only move unread columns the panes redraw on their 1 s
        # tick, so a burst never redraws a table of thousands of accounts;
        # the master's counts (a few a second per account) do.
        if batch.items:
            change.topics.add(Topic.ITEMS)
        if batch.unread:
            change.topics.add(Topic.UNREAD)
        if batch.logins:
            change.topics.add(Topic.LOGINS)
        for update in batch.conversations:
            self.update_conversation(update)
            change.topics.add(Topic.CONVERSATIONS)
        return change

    # ------------------------------------------------------------ conversations

    def set_conversations(self, conversations: Iterable[control_pb2.Conversation]) -> None:
        self.conversations = {c.conversation_ref: c for c in conversations}

    def upsert_conversation(self, conversation: control_pb2.Conversation) -> None:
        """A conversation as a call on this operator's behalf returned it."""
        self.conversations[conversation.conversation_ref] = conversation

    def update_conversation(self, update: control_pb2.ConversationUpdate) -> None:
        """A live change. Its unread_count is only meaningful for a READ change
        by this operator; new items add their incoming count to ours."""
        fresh = control_pb2.Conversation()
        fresh.CopyFrom(update.conversation)
        before = self.conversations.get(fresh.conversation_ref)
        unread = before.unread_count if before is not None else 0
        if update.change == control_pb2.CONVERSATION_CHANGE_READ:
            if update.operator == self.operator:
                unread = fresh.unread_count
        elif update.change == control_pb2.CONVERSATION_CHANGE_ITEMS:
            unread += update.new_incoming
        fresh.unread_count = unread
        self.conversations[fresh.conversation_ref] = fresh

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
