"""What a sent reply leaves behind: the reply as an outgoing item in its
conversation (at once, not only when the platform shows it again), and the
conversation read for the operator who sent it.

The item carries the platform's id of the reply, so the copy the monitor
finds later is the same row (items are unique by platform id). The items
the reply answered are marked read in the team-wide flag too: somebody
answered them.
"""

from __future__ import annotations

import logging

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import update
from sqlmodel import Session, col

from hiscrm.v1 import common_pb2, control_pb2
from master.accounts import AccountStore
from master.conversations import Conversations
from master.inbox import Inbox
from master.ingest import Ingest
from master.read_state import ReadMarks
from master.store.database import Database
from master.store.models import ItemRow, ReplyRow
from master.unread import UnreadEvents

log = logging.getLogger(__name__)


class ReplyTrail:
    def __init__(
        self,
        db: Database,
        accounts: AccountStore,
        ingest: Ingest,
        reads: ReadMarks,
        inbox: Inbox,
        conversations: Conversations,
        unread: UnreadEvents,
    ) -> None:
        self.unread = unread
        self.db = db
        self.accounts = accounts
        self.ingest = ingest
        self.reads = reads
        self.inbox = inbox
        self.conversations = conversations

    async def sent(self, reply: ReplyRow) -> None:
        target = await self.db.run(lambda s: s.get(ItemRow, reply.item_id))
        if target is None:
            return
        account = self.accounts.rows.get(reply.account_id)
        created = Timestamp()
        created.GetCurrentTime()
        item = common_pb2.Item(
            platform=target.platform,  # enum names, as stored
            account_id=target.account_id,
            kind=target.kind,
            platform_item_id=reply.platform_item_id or f"hiscrm-reply:{reply.request_id}",
            author_id=account.platform_user_id if account else "",
            author_name=(account.nickname or account.display_name) if account else "",
            content=reply.text,
            post_id=target.post_id,
            post_title=target.post_title,
            conversation_id=target.conversation_id,
            parent_id=target.platform_item_id if target.kind == "ITEM_KIND_COMMENT" else "",
            outgoing=True,
            created_at=created,
        )
        item_id = await self.ingest.store_own(item, reply.worker_id)
        ref = target.conversation_ref
        if not ref:
            return
        if reply.operator:
            state = await self.reads.mark(ref, reply.operator, max(item_id, reply.item_id))
            conv = await self.conversations.row(ref)
            self.conversations.publish(
                conv, control_pb2.CONVERSATION_CHANGE_READ, reply.operator, state.unread_count
            )

        def mark_answered(session: Session) -> int:
            result = session.execute(
                update(ItemRow)
                .where(
                    col(ItemRow.conversation_ref) == ref,
                    col(ItemRow.read) == False,  # noqa: E712
                    col(ItemRow.id) <= reply.item_id,
                )
                .values(read=True)
            )
            session.commit()
            return int(getattr(result, "rowcount", 0) or 0)

        if await self.db.run(mark_answered):
            await self.inbox.recount({target.account_id})
            self.unread.publish_now([target.account_id])
        log.info(
            "account %s: reply %s stored as item %d of conversation %d",
            reply.account_id,
            reply.request_id,
            item_id,
            ref,
        )
