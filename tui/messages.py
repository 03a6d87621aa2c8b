"""Typed Textual messages the gRPC side posts to the app.

The event pump never touches widgets; it posts these, and the app applies
them on its own message loop.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal

from textual.message import Message

from hiscrm.v1 import common_pb2, control_pb2


class Link(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"


@dataclass
class EventBatch:
    """Events collected over one flush window, already sorted by kind.

    Workers and accounts keep only their newest state per id: a burst of
    updates to one account becomes one table refresh. Unread counts keep the
    newest per account too, with the live items of that account that came
    after it (the stream is ordered; the batch must not lose that order).
    """

    items: list[control_pb2.StoredItem] = field(default_factory=list)
    workers: dict[str, control_pb2.Worker] = field(default_factory=dict)
    accounts: dict[str, control_pb2.Account] = field(default_factory=dict)
    deleted: dict[str, control_pb2.AccountDeleted] = field(default_factory=dict)
    unread: dict[str, control_pb2.UnreadCount] = field(default_factory=dict)
    # account -> [comments, DMs] that arrived after its newest unread count here
    unread_after: dict[str, list[int]] = field(default_factory=dict)
    config_acks: list[control_pb2.ConfigAcked] = field(default_factory=list)
    logins: list[control_pb2.LoginUpdate] = field(default_factory=list)
    replies: list[control_pb2.SendReplyResponse] = field(default_factory=list)
    notices: list[control_pb2.Notice] = field(default_factory=list)
    # in order: a conversation may change several times in one batch
    conversations: list[control_pb2.ConversationUpdate] = field(default_factory=list)
    count: int = 0

    def add(self, event: control_pb2.Event) -> None:
        self.count += 1
        kind = event.WhichOneof("event")
        if kind == "item":
            self.items.append(event.item)
            after = self.unread_after.get(event.item.item.account_id)
            if after is not None and not event.item.read:
                after[event.item.item.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE] += 1
        elif kind == "worker":
            self.workers[event.worker.worker_id] = event.worker
        elif kind == "account":
            self.accounts[event.account.account_id] = event.account
            self.deleted.pop(event.account.account_id, None)  # made again
        elif kind == "account_deleted":
            account_id = event.account_deleted.account_id
            self.deleted[account_id] = event.account_deleted
            self.accounts.pop(account_id, None)
            self.unread.pop(account_id, None)
            self.unread_after.pop(account_id, None)
        elif kind == "unread":
            self.unread[event.unread.account_id] = event.unread
            self.unread_after[event.unread.account_id] = [0, 0]
        elif kind == "config_acked":
            self.config_acks.append(event.config_acked)
        elif kind == "login":
            self.logins.append(event.login)
        elif kind == "reply":
            self.replies.append(event.reply)
        elif kind == "notice":
            self.notices.append(event.notice)
        elif kind == "conversation":
            self.conversations.append(event.conversation)


class EventsArrived(Message):
    """One batch of live events (see EventPump's flush window)."""

    def __init__(self, batch: EventBatch) -> None:
        super().__init__()
        self.batch = batch


class ConnectionChanged(Message):
    """The event stream's link to the master changed."""

    def __init__(
        self,
        link: Link,
        *,
        detail: str = "",
        reconnected: bool = False,
        offline_s: float = 0.0,
        retry_in_s: float = 0.0,
        attempt: int = 0,
        master_version: str = "",
        database: str = "",
    ) -> None:
        super().__init__()
        self.link = link
        self.detail = detail
        self.reconnected = reconnected
        self.offline_s = offline_s
        self.retry_in_s = retry_in_s
        self.attempt = attempt
        self.master_version = master_version
        self.database = database


# ------------------------------------------------------------ from the panes
# A pane never calls the app: it posts one of these, which bubbles up to the
# app (the only one that knows every pane and the polls).

Refreshable = Literal["all", "workers", "accounts", "unread", "stats"]


class RefreshWanted(Message):
    """Re-read part of the store from the master (after an action changed it)."""

    def __init__(self, what: Refreshable) -> None:
        super().__init__()
        self.what = what


class OpenWanted(Message):
    """Show another pane, opened at a key (an account id for Login)."""

    def __init__(self, tab: str, key: str) -> None:
        super().__init__()
        self.tab = tab
        self.key = key


class Alerted(Message):
    """Something an operator must notice now: a toast, and the bell if asked."""

    def __init__(self, text: str, *, severity: str = "information", bell: bool = False) -> None:
        super().__init__()
        self.text = text
        self.severity = severity
        self.bell = bell
