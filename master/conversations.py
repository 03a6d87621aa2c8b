"""Conversations for Control: listing, one thread in order, and their events.

Lists sort by the platform's time of the last message (newest first); the
unread count is always the calling operator's (master/read_state.py).
Ingest keeps the rows (master/threads.py); changes by operators are in
master/conversation_actions.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from hiscrm.v1 import control_pb2
from hiscrm_common.timeutil import aware, from_ts, to_ts
from master import read_state
from master.accounts import NotFound
from master.events import EventBus
from master.inbox import stored_item
from master.limits import MAX_ID, MAX_IDS_PER_REQUEST, MAX_ITEM_ID, MAX_QUERY
from master.store.database import Database
from master.store.models import ConversationRow, ItemRow
from master.threads import Touched
from master.validation import InvalidInput, enum_names

DEFAULT_PAGE = 50
MAX_PAGE = 500
DEFAULT_THREAD = 500
MAX_THREAD = 5000
MAX_OPERATOR = 128
MAX_TAG = 64


def tags_of(row: ConversationRow) -> list[str]:
    return [t for t in row.tags.split(",") if t]


def proto_of(row: ConversationRow, unread: int = 0) -> control_pb2.Conversation:
    msg = control_pb2.Conversation(
        conversation_ref=row.id or 0,
        account_id=row.account_id,
        platform=row.platform,  # enum names, as stored
        kind=row.kind,
        customer_id=row.customer_id,
        customer_name=row.customer_name,
        post_id=row.post_id,
        post_title=row.post_title,
        platform_conversation_id=row.thread_key if row.kind.endswith("DIRECT_MESSAGE") else "",
        last_message_text=row.last_message_text,
        last_direction=row.last_direction,
        unread_count=unread,
        status=row.status,
        assignee=row.assignee,
        tags=tags_of(row),
        priority=row.priority,
        item_count=row.item_count,
        last_item_id=row.last_item_id,
        last_incoming_item_id=row.last_incoming_item_id,
    )
    for name, value in (
        ("last_message_at", row.last_message_at),
        ("waiting_since", row.waiting_since),
        ("created_at", row.created_at),
        ("updated_at", row.updated_at),
    ):
        ts = to_ts(aware(value))
        if ts is not None:
            getattr(msg, name).CopyFrom(ts)
    return msg


def _page_token(row: ConversationRow) -> str:
    at = aware(row.last_message_at)
    return f"{at.isoformat() if at else ''}|{row.id}"


def _parse_token(token: str) -> tuple[datetime, int] | None:
    if not token:
        return None
    try:
        at, _, ref = token.partition("|")
        return datetime.fromisoformat(at), int(ref)
    except ValueError:
        raise InvalidInput(f"page_token {token[:64]!r} is not one this server gave") from None


def _check_list(req: control_pb2.ListConversationsRequest) -> None:
    if len(req.account_ids) > MAX_IDS_PER_REQUEST:
        raise InvalidInput(f"at most {MAX_IDS_PER_REQUEST} account_ids per request")
    if any(len(a) > MAX_ID for a in req.account_ids):
        raise InvalidInput(f"account ids are at most {MAX_ID} characters")
    for name, value, most in (
        ("assignee", req.assignee, MAX_OPERATOR),
        ("tag", req.tag, MAX_TAG),
        ("customer", req.customer, MAX_QUERY),
        ("query", req.query, MAX_QUERY),
        ("post_id", req.post_id, MAX_ITEM_ID),
        ("page_token", req.page_token, 128),
    ):
        if len(value) > most:
            raise InvalidInput(f"{name} is longer than {most} characters")
    if req.page_size > MAX_PAGE:
        raise InvalidInput(f"page_size is at most {MAX_PAGE}")


def _like(text: str) -> str:
    return f"%{text.replace('%', '').replace('_', '')}%"


class Conversations:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus

    async def page(
        self, req: control_pb2.ListConversationsRequest, operator: str
    ) -> control_pb2.ListConversationsResponse:
        _check_list(req)
        size = req.page_size or DEFAULT_PAGE
        after = _parse_token(req.page_token)
        try:
            since, until = from_ts(req.since, strict=True), from_ts(req.until, strict=True)
        except ValueError as exc:
            raise InvalidInput(f"since/until: {exc}") from None
        stmt = select(ConversationRow)
        if req.account_ids:
            stmt = stmt.where(col(ConversationRow.account_id).in_(list(req.account_ids)))
        if req.statuses:
            statuses = enum_names(control_pb2.ConversationStatus, req.statuses, "statuses")
            stmt = stmt.where(col(ConversationRow.status).in_(statuses))
        if req.kinds:
            kinds = enum_names(control_pb2.ConversationKind, req.kinds, "kinds")
            stmt = stmt.where(col(ConversationRow.kind).in_(kinds))
        if req.assigned_to_me:
            stmt = stmt.where(ConversationRow.assignee == operator)
        elif req.assignee:
            stmt = stmt.where(ConversationRow.assignee == req.assignee)
        elif req.unassigned_only:
            stmt = stmt.where(ConversationRow.assignee == "")
        if req.tag:
            stmt = stmt.where(col(ConversationRow.tags).contains(f",{req.tag},", autoescape=True))
        if req.customer:
            stmt = stmt.where(
                or_(
                    col(ConversationRow.customer_name).ilike(_like(req.customer)),
                    col(ConversationRow.customer_id) == req.customer,
                )
            )
        if req.query:
            stmt = stmt.where(col(ConversationRow.last_message_text).ilike(_like(req.query)))
        if req.post_id:
            stmt = stmt.where(ConversationRow.post_id == req.post_id)
        if since is not None:
            stmt = stmt.where(col(ConversationRow.last_message_at) >= since)
        if until is not None:
            stmt = stmt.where(col(ConversationRow.last_message_at) < until)
        if req.unread_only:
            stmt = stmt.where(read_state.unread_clause(operator))
        if after is not None:
            at, ref = after
            stmt = stmt.where(
                or_(
                    col(ConversationRow.last_message_at) < at,
                    and_(col(ConversationRow.last_message_at) == at, col(ConversationRow.id) < ref),
                )
            )
        stmt = stmt.order_by(
            col(ConversationRow.last_message_at).desc(), col(ConversationRow.id).desc()
        ).limit(size + 1)

        def read(session: Session) -> tuple[list[ConversationRow], dict[int, int]]:
            rows = list(session.exec(stmt))[: size + 1]
            refs = [r.id or 0 for r in rows[:size]]
            return rows, read_state.unread_counts(session, refs, operator)

        rows, unread = await self.db.run(read)
        more = len(rows) > size
        rows = rows[:size]
        return control_pb2.ListConversationsResponse(
            conversations=[proto_of(r, unread.get(r.id or 0, 0)) for r in rows],
            next_page_token=_page_token(rows[-1]) if more and rows else "",
        )

    async def row(self, conversation_ref: int) -> ConversationRow:
        found = await self.db.run(lambda s: s.get(ConversationRow, conversation_ref))
        if found is None:
            raise NotFound(f"no conversation {conversation_ref}")
        return found

    async def thread(
        self, conversation_ref: int, operator: str, max_items: int = 0
    ) -> tuple[control_pb2.Conversation, list[tuple[ItemRow, control_pb2.StoredItem]], bool]:
        """The conversation and its items in thread order, with the caller's read marks."""
        if max_items > MAX_THREAD:
            raise InvalidInput(f"max_items is at most {MAX_THREAD}")
        limit = max_items or DEFAULT_THREAD

        def read(session: Session) -> tuple[ConversationRow | None, list[ItemRow], int, int]:
            conv = session.get(ConversationRow, conversation_ref)
            if conv is None:
                return None, [], 0, 0
            rows = list(
                session.exec(
                    select(ItemRow)
                    .where(ItemRow.conversation_ref == conversation_ref)
                    .order_by(col(ItemRow.id).desc())
                    .limit(limit + 1)
                )
            )
            unread = read_state.unread_counts(session, [conversation_ref], operator)
            mark = read_state.mark_of(session, conversation_ref, operator)
            return conv, rows, unread.get(conversation_ref, 0), mark

        conv, rows, unread, mark = await self.db.run(read)
        if conv is None:
            raise NotFound(f"no conversation {conversation_ref}")
        truncated = len(rows) > limit
        ordered = thread_order(rows[:limit])
        by_platform_id = {r.platform_item_id: r.id or 0 for r in ordered}
        pairs = []
        for r in ordered:
            msg = stored_item(r)
            msg.read = r.outgoing or (r.id or 0) <= mark
            msg.parent_item_id = by_platform_id.get(r.parent_id, 0) if r.parent_id else 0
            pairs.append((r, msg))
        return proto_of(conv, unread), pairs, truncated

    def publish(
        self,
        row: ConversationRow,
        change: control_pb2.ConversationChange,
        operator: str = "",
        unread: int = 0,
        rules_hit: list[str] | None = None,
    ) -> None:
        if not self.bus.wanted("conversation", row.account_id):
            return
        self.bus.publish(
            account_id=row.account_id,
            conversation=control_pb2.ConversationUpdate(
                conversation=proto_of(row, unread),
                change=change,
                operator=operator,
                rules_hit=rules_hit or [],
            ),
        )

    def after_ingest(self, touched: list[Touched]) -> None:
        """One event per conversation a commit touched, after the items' own."""
        for t in touched:
            if not t.values or not self.bus.wanted("conversation", t.account_id):
                continue
            self.bus.publish(
                account_id=t.account_id,
                conversation=control_pb2.ConversationUpdate(
                    conversation=proto_of(t.snapshot()),
                    change=control_pb2.CONVERSATION_CHANGE_ITEMS,
                    new_incoming=t.new_incoming,
                    item_ids=t.item_ids,
                ),
            )


def _when(row: ItemRow) -> tuple[datetime, int]:
    at = aware(row.created_at) or aware(row.received_at)
    assert at is not None
    return at, row.id or 0


def thread_order(rows: list[ItemRow]) -> list[ItemRow]:
    """Oldest first by platform time; a comment reply right after its parent
    (and the parent's earlier replies), at any depth."""
    rows = sorted(rows, key=_when)
    present = {r.platform_item_id for r in rows}
    children: dict[str, list[ItemRow]] = {}
    roots = []
    for r in rows:
        if r.parent_id and r.parent_id in present and r.parent_id != r.platform_item_id:
            children.setdefault(r.parent_id, []).append(r)
        else:
            roots.append(r)
    out: list[ItemRow] = []
    seen: set[int] = set()

    def walk(r: ItemRow) -> None:
        stack = [r]
        while stack:
            cur = stack.pop()
            if (cur.id or 0) in seen:
                continue
            seen.add(cur.id or 0)
            out.append(cur)
            stack.extend(reversed(children.get(cur.platform_item_id, [])))

    for r in roots:
        walk(r)
    # a cycle of parents (a platform bug) still shows every item
    out.extend(r for r in rows if (r.id or 0) not in seen)
    return out
