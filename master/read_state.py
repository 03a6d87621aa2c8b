"""Read state per operator and per conversation.

One mark per (conversation, operator): every incoming item of the
conversation with an id up to it is read for that operator. Two agents never
fight over one flag; outgoing items are never unread. Marking unread moves
the mark to just before the newest incoming item.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from hiscrm.v1 import control_pb2
from hiscrm_common.timeutil import utcnow
from master.accounts import NotFound
from master.store.database import Database, upsert
from master.store.models import ConversationReadRow, ConversationRow, ItemRow


def unread_counts(session: Session, refs: list[int], operator: str) -> dict[int, int]:
    """Incoming items each conversation has that the operator has not read."""
    if not refs:
        return {}
    mark = func.coalesce(ConversationReadRow.read_up_to, 0)
    stmt = (
        select(ItemRow.conversation_ref, func.count())
        .select_from(ItemRow)
        .outerjoin(
            ConversationReadRow,
            and_(
                col(ConversationReadRow.conversation_ref) == col(ItemRow.conversation_ref),
                col(ConversationReadRow.operator) == operator,
            ),
        )
        .where(
            col(ItemRow.conversation_ref).in_(refs),
            col(ItemRow.outgoing) == False,  # noqa: E712
            col(ItemRow.id) > mark,
        )
        .group_by(col(ItemRow.conversation_ref))
    )
    return {int(ref): int(n) for ref, n in session.exec(stmt)}


def unread_clause(operator: str) -> Any:
    """For ListConversations(unread_only): the caller has not read the newest incoming item."""
    mark = (
        select(ConversationReadRow.read_up_to)
        .where(
            ConversationReadRow.conversation_ref == ConversationRow.id,
            ConversationReadRow.operator == operator,
        )
        .scalar_subquery()
    )
    return col(ConversationRow.last_incoming_item_id) > func.coalesce(mark, 0)


class ReadMarks:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def mark(
        self, conversation_ref: int, operator: str, up_to: int = 0, unread: bool = False
    ) -> control_pb2.ConversationReadState:
        """Moves the operator's mark: to up_to (0 = everything so far), or,
        for unread, to just before the newest incoming item."""

        def write(session: Session) -> control_pb2.ConversationReadState:
            conv = session.get(ConversationRow, conversation_ref)
            if conv is None:
                raise NotFound(f"no conversation {conversation_ref}")
            if unread:
                mark = max(conv.last_incoming_item_id - 1, 0)
            else:
                mark = up_to or max(conv.last_item_id, conv.last_incoming_item_id)
            upsert(
                session,
                ConversationReadRow,
                {
                    "conversation_ref": conversation_ref,
                    "operator": operator,
                    "read_up_to": mark,
                    "updated_at": utcnow(),
                },
            )
            session.commit()
            count = unread_counts(session, [conversation_ref], operator).get(conversation_ref, 0)
            return control_pb2.ConversationReadState(
                conversation_ref=conversation_ref,
                operator=operator,
                unread_count=count,
                read_up_to_item_id=mark,
            )

        return await self.db.run(write)


def mark_of(session: Session, conversation_ref: int, operator: str) -> int:
    row = session.get(ConversationReadRow, (conversation_ref, operator))
    return row.read_up_to if row is not None else 0
