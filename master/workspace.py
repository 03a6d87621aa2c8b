"""The operator's workspace (issue 15), wired into the master: conversations,
read marks, claims, saved replies, rules, exports, reports, notifications.

MasterApp holds one Workspace; its parts are attributes of the app too, so
Control mixins reach them as self.app.<part> like every other part.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from hiscrm.v1 import common_pb2, control_pb2
from master.conversation_actions import ConversationActions
from master.conversations import Conversations
from master.notify.service import Notifications
from master.read_state import ReadMarks
from master.reply_items import ReplyTrail
from master.reports import Reports
from master.rules import Rules
from master.saved_replies import SavedReplies
from master.threads import Touched, backfill_chunk

if TYPE_CHECKING:
    from master.app import MasterApp

log = logging.getLogger(__name__)
BACKFILL_CHUNK = 500


class Workspace:
    def __init__(self, app: MasterApp) -> None:
        self.app = app
        db, bus = app.db, app.bus
        app.conversations = conversations = Conversations(db, bus)
        app.read_marks = ReadMarks(db)
        app.conversation_actions = ConversationActions(db, conversations, self._operators)
        app.saved_replies = SavedReplies(db)
        app.rules = self.rules = Rules(db, conversations)
        app.reports = Reports(db)
        app.notifications = self.notifications = Notifications(
            db, bus, self.rules.notifying, states=self._states
        )
        app.ingest.on_conversations = self._after_ingest
        trail = ReplyTrail(
            db, app.accounts, app.ingest, app.read_marks, app.inbox, conversations,
            app.unread_events,
        )  # fmt: skip
        app.replies.on_sent = trail.sent

    def _operators(self) -> dict[str, control_pb2.Role]:
        """Live operator tokens by name -> role (who may be assigned)."""
        return {
            t.name: t.role
            for t in self.app.credentials.listing(include_revoked=False)
            if t.kind == control_pb2.CREDENTIAL_KIND_OPERATOR
        }

    def _states(self) -> tuple[dict[str, int], dict[str, int]]:
        workers = {w.worker_id: int(w.state) for w in self.app.registry.workers.values()}
        accounts = {
            a.account_id: common_pb2.RunState.Value(a.state)
            for a in self.app.accounts.rows.values()
        }
        return workers, accounts

    def _after_ingest(self, touched: list[Touched]) -> None:
        self.app.conversations.after_ingest(touched)
        self.rules.after_ingest(touched)

    async def load(self) -> None:
        await self.rules.load()

    def tasks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {
            "rules": self.rules.run,
            "notifications": self.notifications.run,
            "conversation-backfill": self.backfill,
        }

    async def backfill(self) -> None:
        """Items stored before this release join their conversations, in
        short transactions between ingest's; then the task rests."""
        threads, total = self.app.ingest.threads, 0
        while True:
            done = await self.app.db.run(lambda s: backfill_chunk(s, threads, BACKFILL_CHUNK))
            if not done:
                break
            total += done
        if total:
            log.info("conversations: %d items stored before them joined theirs", total)
        await asyncio.Event().wait()  # a supervised task that ends is restarted
