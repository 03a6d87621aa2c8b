"""Ingest's side of conversations: which conversation a new item belongs to,
and the conversation's aggregates (last message, waiting since, counts).

Runs inside ingest's transaction (master/ingest.py), so an item and its
conversation land together or not at all. A DM conversation is one platform
conversation id of one account (the author's id when a platform gives none);
a comment thread is one post of one account. Conversation ids are cached in
memory so a steady stream of items costs no lookup.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Row, Table, bindparam, tuple_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from hiscrm_common.timeutil import aware, utcnow
from master.store.insert_new import InsertNew
from master.store.models import ConversationRow

DM_ITEM = "ITEM_KIND_DIRECT_MESSAGE"
DM = "CONVERSATION_KIND_DIRECT_MESSAGE"
THREAD = "CONVERSATION_KIND_COMMENT_THREAD"
INCOMING = "DIRECTION_INCOMING"
OUTGOING = "DIRECTION_OUTGOING"
OPEN = "CONVERSATION_STATUS_OPEN"
DONE = "CONVERSATION_STATUS_DONE"
LAST_TEXT = 200
CACHE_LIMIT = 200_000

Key = tuple[str, str, str]  # account_id, conversation kind, thread key


def key_of(row: dict[str, Any]) -> Key:
    if row["kind"] == DM_ITEM:
        return row["account_id"], DM, row["conversation_id"] or f"author:{row['author_id']}"
    return row["account_id"], THREAD, row["post_id"] or "(no post)"


def when(row: dict[str, Any]) -> datetime:
    """The platform's time; the stored time for an item without one."""
    return aware(row["created_at"] or row["received_at"]) or utcnow()


@dataclass
class Touched:
    """What one commit did to one conversation (for events and rules)."""

    conversation_ref: int
    account_id: str
    kind: str
    item_ids: list[int] = field(default_factory=list)
    new_incoming: int = 0
    reopened: bool = False
    values: dict[str, Any] = field(default_factory=dict)  # the row after the change

    def snapshot(self) -> ConversationRow:
        """The row after the change, detached; built only for whoever shows it
        (an ORM row costs ~150 µs, per conversation of every commit)."""
        return ConversationRow(**self.values)


class Threads:
    def __init__(self) -> None:
        self._ids: dict[Key, int] = {}
        # SQLModel sets __table__ on table models at class creation; its stubs omit it.
        self._table: Table = ConversationRow.__table__  # type: ignore[attr-defined]
        table = self._table
        # built once: a statement's construction and cache key cost more
        # than its execution when a commit holds a few items
        self._select = sa_select(table).where(table.c.id.in_(bindparam("refs", expanding=True)))
        self._update = update(table).where(table.c.id == bindparam("ref"))
        self._insert_new = InsertNew(
            self._table,
            conflict=("account_id", "kind", "thread_key"),
            returning=("id", "account_id", "kind", "thread_key"),
        )

    def forget(self, account_id: str) -> None:
        """The account's conversations are gone (DeleteAccount)."""
        self._ids = {k: v for k, v in self._ids.items() if k[0] != account_id}

    def resolve(self, session: Session, rows: list[dict[str, Any]]) -> list[Key]:
        """Sets row["conversation_ref"] on every row, creating conversations;
        returns the keys created (to forget if the transaction fails)."""
        missing: list[Key] = []
        wanted: dict[Key, dict[str, Any]] = {}
        keys = [key_of(row) for row in rows]
        for key, row in zip(keys, rows, strict=True):
            if key not in self._ids:
                first = wanted.get(key)
                # a conversation is named after a customer's item, not ours
                if first is None or (first["outgoing"] and not row["outgoing"]):
                    wanted[key] = row
        if wanted:
            self._load(session, list(wanted))
            missing = [k for k in wanted if k not in self._ids]
            if missing:
                self._create(session, [(k, wanted[k]) for k in missing])
        ids = self._ids
        for key, row in zip(keys, rows, strict=True):
            row["conversation_ref"] = ids[key]
        return missing

    def rolled_back(self, keys: list[Key]) -> None:
        for key in keys:
            self._ids.pop(key, None)

    def _load(self, session: Session, keys: list[Key]) -> None:
        if len(self._ids) > CACHE_LIMIT:
            self._ids.clear()
        for i in range(0, len(keys), 300):
            chunk = keys[i : i + 300]
            stmt = select(
                ConversationRow.id,
                ConversationRow.account_id,
                ConversationRow.kind,
                ConversationRow.thread_key,
            ).where(
                tuple_(
                    col(ConversationRow.account_id),
                    col(ConversationRow.kind),
                    col(ConversationRow.thread_key),
                ).in_(chunk)
            )
            for ref, account_id, kind, thread_key in session.exec(stmt):
                self._ids[(account_id, kind, thread_key)] = int(ref or 0)

    def _create(self, session: Session, new: list[tuple[Key, dict[str, Any]]]) -> None:
        now = utcnow()
        values = []
        for (account_id, kind, thread_key), row in new:
            incoming = not row["outgoing"]
            values.append(
                {
                    "account_id": account_id,
                    "platform": row["platform"],
                    "kind": kind,
                    "thread_key": thread_key,
                    "customer_id": row["author_id"] if incoming and kind == DM else "",
                    "customer_name": row["author_name"] if incoming else "",
                    "post_id": row["post_id"],
                    "post_title": row["post_title"],
                    "last_message_at": when(row),
                    "status": OPEN,
                    "priority": "PRIORITY_NORMAL",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for ref, account_id, kind, thread_key in self._insert_new.run(session, values):
            self._ids[(account_id, kind, thread_key)] = int(ref)
        left = [k for k, _ in new if k not in self._ids]
        if left:
            self._load(session, left)

    def update(self, session: Session, new_rows: list[tuple[int, dict[str, Any]]]) -> list[Touched]:
        """Folds newly stored items ((item id, row dict) pairs) into their
        conversations' aggregates; returns what changed, per conversation."""
        # each item's time worked out once: sorting and folding both need it
        by_ref: dict[int, list[tuple[datetime, int, dict[str, Any]]]] = defaultdict(list)
        for item_id, row in new_rows:
            by_ref[row["conversation_ref"]].append((when(row), item_id, row))
        if not by_ref:
            return []
        # Core rows and one UPDATE per set of changed columns, not ORM
        # objects: the ORM's attribute tracking cost microseconds per field
        # set, per item (it once halved ingest's throughput)
        refs = list(by_ref)
        convs: dict[int, Row[Any]] = {}
        for i in range(0, len(refs), 500):
            for found in session.execute(self._select, {"refs": refs[i : i + 500]}):
                convs[found.id] = found
        now = utcnow()
        touched = []
        writes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for ref, rows in by_ref.items():
            conv = convs.get(ref)
            if conv is None:
                continue
            change = Touched(ref, conv.account_id, conv.kind)
            rows.sort(key=BY_TIME)
            agg = Aggregate.of(conv)
            for t, item_id, row in rows:
                _fold(agg, row, item_id, t, change)
            changed = agg.changed(conv)
            changed["updated_at"] = now
            writes[tuple(changed)].append({"ref": ref, **changed})
            change.values = {**conv._asdict(), **changed}
            touched.append(change)
        for params in writes.values():
            session.execute(self._update, params)
        return touched


BY_TIME = itemgetter(0, 1)  # (time, item id, row): never compares rows


@dataclass
class Aggregate:
    """The conversation fields an item changes, outside the ORM."""

    kind: str
    item_count: int
    last_item_id: int
    last_message_at: datetime | None
    last_message_text: str
    last_direction: str
    post_title: str
    waiting_since: datetime | None
    last_incoming_item_id: int
    customer_name: str
    customer_id: str
    status: str

    @classmethod
    def of(cls, conv: Row[Any]) -> Aggregate:
        return cls(
            kind=conv.kind,
            item_count=conv.item_count,
            last_item_id=conv.last_item_id,
            last_message_at=aware(conv.last_message_at),
            last_message_text=conv.last_message_text,
            last_direction=conv.last_direction,
            post_title=conv.post_title,
            waiting_since=aware(conv.waiting_since),
            last_incoming_item_id=conv.last_incoming_item_id,
            customer_name=conv.customer_name,
            customer_id=conv.customer_id,
            status=conv.status,
        )

    def changed(self, conv: Row[Any]) -> dict[str, Any]:
        """The folded fields that differ from the stored row."""
        return {
            name: value for name in FOLDED if (value := getattr(self, name)) != getattr(conv, name)
        }


FOLDED = tuple(n for n in Aggregate.__dataclass_fields__ if n != "kind")


def _fold(conv: Aggregate, row: dict[str, Any], item_id: int, t: datetime, change: Touched) -> None:
    incoming = not row["outgoing"]
    change.item_ids.append(item_id)
    conv.item_count += 1
    conv.last_item_id = max(conv.last_item_id, item_id)
    last = conv.last_message_at
    if last is None or t >= last or conv.item_count == 1:
        conv.last_message_at = t
        conv.last_message_text = row["content"][:LAST_TEXT]
        conv.last_direction = INCOMING if incoming else OUTGOING
    if row["post_title"] and not conv.post_title:
        conv.post_title = row["post_title"]
    waiting = conv.waiting_since
    if incoming:
        change.new_incoming += 1
        conv.last_incoming_item_id = max(conv.last_incoming_item_id, item_id)
        if row["author_name"]:
            conv.customer_name = row["author_name"]
        if conv.kind == DM and row["author_id"] and not conv.customer_id:
            conv.customer_id = row["author_id"]
        # the oldest message nobody answered yet; an old one arriving after
        # the account's newer answer does not start a wait
        if (waiting is None and conv.last_direction == INCOMING) or (
            waiting is not None and t < waiting
        ):
            conv.waiting_since = t
        if conv.status == DONE:
            conv.status = OPEN
            change.reopened = True
    elif waiting is not None and t >= waiting:
        conv.waiting_since = None


def backfill_chunk(session: Session, threads: Threads, limit: int) -> int:
    """Items stored before conversations existed (conversation_ref 0) join
    theirs, oldest first; returns how many (0: done)."""
    from master.store.models import ItemRow

    found = list(
        session.exec(
            select(ItemRow)
            .where(ItemRow.conversation_ref == 0)
            .order_by(col(ItemRow.id))
            .limit(limit)
        )
    )
    if not found:
        return 0
    rows = [r.model_dump() for r in found]
    created = threads.resolve(session, rows)
    try:
        threads.update(session, [(r["id"], r) for r in rows])
        for row in rows:
            session.execute(
                update(ItemRow)
                .where(col(ItemRow.id) == row["id"])
                .values(conversation_ref=row["conversation_ref"])
            )
        session.commit()
    except BaseException:
        session.rollback()
        threads.rolled_back(created)
        raise
    return len(rows)
