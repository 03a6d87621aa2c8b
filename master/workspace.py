"""The operator's workspace (issue 15), wired into the master: conversations,
read marks, claims, saved replies, rules, exports, reports, notifications.

MasterApp holds one Workspace; its parts are attributes of the app too, so
Control mixins reach them as self.app.<part> like every other part.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from hiscrm.v1 import control_pb2
from master.conversation_actions import ConversationActions
from master.conversations import Conversations
from master.notify.service import Notifications
from master.read_state import ReadMarks
from master.reply_items import ReplyTrail
from master.reports import Reports
from master.rules import Rules
from master.saved_replies import SavedReplies
from master.threads import Touched

if TYPE_CHECKING:
    from master.app import MasterApp


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
            db, bus, self.rules.notifying, on_result=None
        )
        app.ingest.on_conversations = self._after_ingest
        trail = ReplyTrail(
            db, app.accounts, app.ingest, app.read_marks, app.inbox, conversations,
            app.unread_events,
        )  # fmt: skip
        app.replies.on_sent = trail.sent

    def _operators(self) -> dict[str, int]:
        """Live operator tokens by name -> role (who may be assigned)."""
        return {
            t.name: t.role
            for t in self.app.credentials.listing(include_revoked=False)
            if t.kind == control_pb2.CREDENTIAL_KIND_OPERATOR
        }

    def _after_ingest(self, touched: list[Touched]) -> None:
        self.app.conversations.after_ingest(touched)
        self.rules.after_ingest(touched)

    async def load(self) -> None:
        await self.rules.load()

    def tasks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"rules": self.rules.run, "notifications": self.notifications.run}
