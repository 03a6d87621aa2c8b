"""What operators change on a conversation: claim, assign, status, labels.

Each change is one short transaction and one ConversationUpdate event; the
auth interceptor writes the audit entry (master/auth.py), with the
conversation and the new value in its detail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlmodel import Session

from hiscrm.v1 import control_pb2
from hiscrm_common.timeutil import utcnow
from master.accounts import Conflict, NotFound
from master.conversations import MAX_OPERATOR, MAX_TAG, Conversations, proto_of, tags_of
from master.store.database import Database
from master.store.models import ConversationRow
from master.validation import InvalidInput

log = logging.getLogger(__name__)

MAX_TAGS = 32


def check_tags(tags: list[str], what: str) -> list[str]:
    clean = []
    for tag in tags:
        tag = tag.strip()
        if not 1 <= len(tag) <= MAX_TAG or "," in tag:
            raise InvalidInput(
                f"{what}: a tag is 1-{MAX_TAG} characters without commas: {tag[:80]!r}"
            )
        clean.append(tag)
    if len(clean) > MAX_TAGS:
        raise InvalidInput(f"{what}: at most {MAX_TAGS} tags")
    return clean


def joined(tags: list[str]) -> str:
    return "," + ",".join(tags) + "," if tags else ""


def add_tags(row: ConversationRow, tags: list[str]) -> bool:
    have = tags_of(row)
    fresh = [t for t in tags if t not in have]
    if not fresh:
        return False
    if len(have) + len(fresh) > MAX_TAGS:
        raise InvalidInput(f"a conversation has at most {MAX_TAGS} tags")
    row.tags = joined(have + fresh)
    return True


def raise_priority(row: ConversationRow, priority: int) -> bool:
    """Rules only ever raise a conversation's priority."""
    current = control_pb2.Priority.Value(row.priority)
    if priority <= current:
        return False
    row.priority = control_pb2.Priority.Name(priority)
    return True


class ConversationActions:
    def __init__(
        self,
        db: Database,
        conversations: Conversations,
        operators: Callable[[], dict[str, control_pb2.Role]],
    ) -> None:
        self.db = db
        self.conversations = conversations
        # live operator token names -> role (master/tokens.py)
        self.operators = operators

    async def _change(
        self,
        ref: int,
        change: control_pb2.ConversationChange,
        operator: str,
        apply: Callable[[ConversationRow], None],
    ) -> control_pb2.Conversation:
        def write(session: Session) -> ConversationRow:
            row = session.get(ConversationRow, ref)
            if row is None:
                raise NotFound(f"no conversation {ref}")
            apply(row)
            row.updated_at = utcnow()
            session.add(row)
            session.commit()
            session.refresh(row)
            return ConversationRow(**row.model_dump())

        row = await self.db.run(write)
        log.info(
            "account %s: conversation %d %s by %s",
            row.account_id,
            ref,
            control_pb2.ConversationChange.Name(change),
            operator,
        )
        self.conversations.publish(row, change, operator)
        return proto_of(row)

    async def claim(self, ref: int, operator: str, take_over: bool) -> control_pb2.Conversation:
        def apply(row: ConversationRow) -> None:
            if row.assignee and row.assignee != operator and not take_over:
                raise Conflict(
                    f"conversation {ref} is assigned to {row.assignee}; claim with take_over "
                    "to take it"
                )
            row.assignee = operator

        return await self._change(ref, control_pb2.CONVERSATION_CHANGE_ASSIGNED, operator, apply)

    def assignees(self) -> list[control_pb2.Assignee]:
        """Who may be assigned a conversation: live agent and admin tokens, by name."""
        return [
            control_pb2.Assignee(name=name, role=role)
            for name, role in sorted(self.operators().items())
            if role >= control_pb2.ROLE_AGENT
        ]

    async def assign(self, ref: int, assignee: str, operator: str) -> control_pb2.Conversation:
        if len(assignee) > MAX_OPERATOR:
            raise InvalidInput(f"assignee is longer than {MAX_OPERATOR} characters")
        if assignee:
            role = self.operators().get(assignee)
            if role is None:
                raise InvalidInput(f"no live operator token named {assignee!r}")
            if role < control_pb2.ROLE_AGENT:
                raise InvalidInput(
                    f"{assignee} is a viewer: only agents and admins handle conversations"
                )

        def apply(row: ConversationRow) -> None:
            row.assignee = assignee

        return await self._change(ref, control_pb2.CONVERSATION_CHANGE_ASSIGNED, operator, apply)

    async def set_status(self, ref: int, status: int, operator: str) -> control_pb2.Conversation:
        if status not in control_pb2.ConversationStatus.values() or status == 0:
            raise InvalidInput(f"status {status} is not open, pending or done")

        def apply(row: ConversationRow) -> None:
            row.status = control_pb2.ConversationStatus.Name(status)

        return await self._change(ref, control_pb2.CONVERSATION_CHANGE_STATUS, operator, apply)

    async def label(
        self, req: control_pb2.LabelConversationRequest, operator: str
    ) -> control_pb2.Conversation:
        add = check_tags(list(req.add_tags), "add_tags")
        remove = set(check_tags(list(req.remove_tags), "remove_tags"))
        if req.priority not in control_pb2.Priority.values():
            raise InvalidInput(f"priority {req.priority} is not one this master knows")

        def apply(row: ConversationRow) -> None:
            kept = [t for t in tags_of(row) if t not in remove]
            row.tags = joined(kept)
            add_tags(row, add)
            if req.priority:
                row.priority = control_pb2.Priority.Name(req.priority)

        return await self._change(
            req.conversation_ref, control_pb2.CONVERSATION_CHANGE_LABELS, operator, apply
        )
