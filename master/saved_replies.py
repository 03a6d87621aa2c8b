"""The team's saved replies, with placeholders filled per conversation.

Placeholders: {customer}, {account}, {operator}, {post}; a literal brace is
written twice ({{ }}). An unknown placeholder or an unbalanced brace is
refused when the reply is saved, so rendering never fails later.
"""

from __future__ import annotations

import string

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from hiscrm.v1 import control_pb2
from hiscrm_common.timeutil import aware, to_ts, utcnow
from master.accounts import AlreadyExists, NotFound
from master.limits import MAX_QUERY, MAX_REPLY_TEXT
from master.store.database import Database
from master.store.models import SavedReplyRow
from master.validation import InvalidInput

PLACEHOLDERS = ("customer", "account", "operator", "post")
MAX_NAME = 64


def check(name: str, text: str) -> tuple[str, str]:
    name, text = name.strip(), text.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidInput(f"name must be 1-{MAX_NAME} characters")
    if not 1 <= len(text) <= MAX_REPLY_TEXT:
        raise InvalidInput(f"text must be 1-{MAX_REPLY_TEXT} characters")
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(text) if f is not None]
        specs = [
            (spec, conv)
            for _, f, spec, conv in string.Formatter().parse(text)
            if f is not None and (spec or conv)
        ]
    except ValueError as exc:
        raise InvalidInput(f"text: {exc} (write a literal brace as {{{{ or }}}})") from None
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown or specs:
        raise InvalidInput(
            f"text: unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown) or ''}"
            f"{' or a format spec' if specs else ''}; use "
            + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        )
    return name, text


def proto_of(row: SavedReplyRow) -> control_pb2.SavedReply:
    msg = control_pb2.SavedReply(
        id=row.id or 0,
        name=row.name,
        text=row.text,
        created_by=row.created_by,
        updated_by=row.updated_by,
    )
    for field in ("created_at", "updated_at"):
        ts = to_ts(aware(getattr(row, field)))
        if ts is not None:
            getattr(msg, field).CopyFrom(ts)
    return msg


def render(text: str, values: dict[str, str]) -> str:
    return text.format_map({p: values.get(p, "") for p in PLACEHOLDERS})


class SavedReplies:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def listing(self, query: str) -> list[control_pb2.SavedReply]:
        if len(query) > MAX_QUERY:
            raise InvalidInput(f"query is longer than {MAX_QUERY} characters")
        stmt = select(SavedReplyRow).order_by(col(SavedReplyRow.name))
        if query:
            like = f"%{query.replace('%', '').replace('_', '')}%"
            stmt = stmt.where(
                or_(col(SavedReplyRow.name).ilike(like), col(SavedReplyRow.text).ilike(like))
            )
        rows = await self.db.run(lambda s: list(s.exec(stmt)))
        return [proto_of(r) for r in rows]

    async def get(self, reply_id: int) -> SavedReplyRow:
        row = await self.db.run(lambda s: s.get(SavedReplyRow, reply_id))
        if row is None:
            raise NotFound(f"no saved reply {reply_id}")
        return row

    async def save(
        self, reply_id: int, name: str, text: str, operator: str
    ) -> control_pb2.SavedReply:
        """Creates (reply_id 0) or replaces a saved reply."""
        name, text = check(name, text)

        def write(session: Session) -> SavedReplyRow:
            if reply_id:
                row = session.get(SavedReplyRow, reply_id)
                if row is None:
                    raise NotFound(f"no saved reply {reply_id}")
            else:
                row = SavedReplyRow(name=name, text=text, created_by=operator)
            row.name, row.text, row.updated_by, row.updated_at = name, text, operator, utcnow()
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                raise AlreadyExists(f"a saved reply is already named {name!r}") from None
            session.refresh(row)
            return SavedReplyRow(**row.model_dump())

        return proto_of(await self.db.run(write))

    async def delete(self, reply_id: int) -> None:
        def write(session: Session) -> None:
            row = session.get(SavedReplyRow, reply_id)
            if row is None:
                raise NotFound(f"no saved reply {reply_id}")
            session.delete(row)
            session.commit()

        await self.db.run(write)
