"""Reading the stored items: filters, paging, read marks, unread counts.

Unread counts are kept in memory per account and kind (loaded once, bumped
by ingest, recounted for the accounts a MarkRead touches), so listing 10,000
accounts never runs 10,000 COUNT queries.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, update
from sqlmodel import Session, col, select

from hiscrm.v1 import common_pb2, control_pb2
from hiscrm_common.timeutil import aware, from_ts, to_ts
from master.limits import MAX_LIST_RESPONSE_BYTES
from master.store.database import Database
from master.store.models import ItemRow, ReplyRow
from master.validation import InvalidInput, enum_names

DEFAULT_PAGE = 50
MAX_QUERY = 200
MAX_PAGE = 1000
COMMENT = "ITEM_KIND_COMMENT"
DM = "ITEM_KIND_DIRECT_MESSAGE"


def stored_item(row: ItemRow) -> control_pb2.StoredItem:
    item = common_pb2.Item(
        platform=row.platform,  # the enum value's name, as stored
        account_id=row.account_id,
        kind=row.kind,
        platform_item_id=row.platform_item_id,
        author_id=row.author_id,
        author_name=row.author_name,
        content=row.content,
        post_id=row.post_id,
        post_title=row.post_title,
        conversation_id=row.conversation_id,
        parent_id=row.parent_id,
        outgoing=row.outgoing,
        created_at=to_ts(aware(row.created_at)),
        raw_json=row.raw_json,
    )
    return control_pb2.StoredItem(
        id=row.id or 0,
        item=item,
        read=row.read,
        received_at=to_ts(aware(row.received_at)),
        worker_id=row.worker_id,
        direction=control_pb2.DIRECTION_OUTGOING
        if row.outgoing
        else control_pb2.DIRECTION_INCOMING,
        conversation_ref=row.conversation_ref,
    )


def _page_after(token: str, by_created: bool) -> tuple[int | None, datetime | None]:
    if not token:
        return None, None
    try:
        if by_created:
            at, _, item_id = token.partition("|")
            return int(item_id), datetime.fromisoformat(at)
        return int(token), None
    except ValueError:
        raise InvalidInput(f"page_token {token[:64]!r} is not one this server gave") from None


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.unread: dict[str, dict[str, int]] = defaultdict(lambda: {COMMENT: 0, DM: 0})

    async def load(self) -> None:
        def count(session: Session) -> list[tuple[str, str, int]]:
            stmt = (
                select(ItemRow.account_id, ItemRow.kind, func.count())
                .where(ItemRow.read == False)  # noqa: E712
                .group_by(ItemRow.account_id, ItemRow.kind)
            )
            return list(session.exec(stmt).all())

        self.unread.clear()
        for account_id, kind, n in await self.db.run(count):
            self.unread[account_id][kind] = int(n)

    def unread_total(self, account_id: str) -> int:
        counts = self.unread.get(account_id)
        return sum(counts.values()) if counts else 0

    def added(self, account_id: str, kind: int, n: int = 1) -> None:
        self.unread[account_id][common_pb2.ItemKind.Name(kind)] += n

    def forget(self, account_id: str) -> None:
        self.unread.pop(account_id, None)

    async def list(self, req: control_pb2.ListItemsRequest) -> control_pb2.ListItemsResponse:
        size = min(req.page_size or DEFAULT_PAGE, MAX_PAGE)
        if len(req.query) > MAX_QUERY:
            raise InvalidInput(f"query is longer than {MAX_QUERY} characters")
        if len(req.conversation_id) > 256 or len(req.post_id) > 256:
            raise InvalidInput("conversation_id and post_id are at most 256 characters")
        if len(req.account_ids) > 1000:
            raise InvalidInput("at most 1000 account_ids per request")
        by_created = req.sort == control_pb2.ITEM_SORT_CREATED
        if req.sort not in control_pb2.ItemSort.values():
            raise InvalidInput(f"sort {req.sort} is not one this master knows")
        after, after_at = _page_after(req.page_token, by_created)
        stmt = select(ItemRow)
        if req.conversation_ref:
            stmt = stmt.where(ItemRow.conversation_ref == req.conversation_ref)
        if req.directions:
            names = enum_names(control_pb2.Direction, req.directions, "directions")
            if names != ["DIRECTION_INCOMING", "DIRECTION_OUTGOING"] and len(set(names)) == 1:
                stmt = stmt.where(col(ItemRow.outgoing) == (names[0] == "DIRECTION_OUTGOING"))
        if req.account_ids:
            stmt = stmt.where(col(ItemRow.account_id).in_(list(req.account_ids)))
        if req.kinds:
            kinds = enum_names(common_pb2.ItemKind, req.kinds, "kinds")
            stmt = stmt.where(col(ItemRow.kind).in_(kinds))
        if req.unread_only:
            stmt = stmt.where(ItemRow.read == False)  # noqa: E712
        if req.query:
            pattern = f"%{req.query.replace('%', '').replace('_', '')}%"
            stmt = stmt.where(
                or_(col(ItemRow.content).ilike(pattern), col(ItemRow.author_name).ilike(pattern))
            )
        try:
            since, until = from_ts(req.since, strict=True), from_ts(req.until, strict=True)
        except ValueError as exc:
            raise InvalidInput(f"since/until: {exc}") from None
        if since is not None:
            stmt = stmt.where(ItemRow.received_at >= since)
        if until is not None:
            stmt = stmt.where(ItemRow.received_at < until)
        if req.conversation_id:
            stmt = stmt.where(ItemRow.conversation_id == req.conversation_id)
        if req.post_id:
            stmt = stmt.where(ItemRow.post_id == req.post_id)
        if by_created:
            # the platform's time, the stored time for items without one
            at = func.coalesce(col(ItemRow.created_at), col(ItemRow.received_at))
            if after is not None and after_at is not None:
                stmt = stmt.where(or_(at < after_at, and_(at == after_at, col(ItemRow.id) < after)))
            stmt = stmt.order_by(at.desc(), col(ItemRow.id).desc()).limit(size + 1)
        else:
            if after is not None:
                stmt = stmt.where(col(ItemRow.id) < after)
            stmt = stmt.order_by(col(ItemRow.id).desc()).limit(size + 1)

        rows = await self.db.run(lambda s: list(s.exec(stmt)))
        # Cut by bytes too, so a page of large items always fits a message.
        items: list[control_pb2.StoredItem] = []
        taken = []
        budget = MAX_LIST_RESPONSE_BYTES
        for r in rows[:size]:
            item = stored_item(r)
            budget -= item.ByteSize() + 8
            if items and budget < 0:
                break
            items.append(item)
            taken.append(r)
        await self.replied_by(taken, items)
        more = len(rows) > len(items)
        token = ""
        if more and items:
            token = str(items[-1].id)
            if by_created:
                last = aware(taken[-1].created_at) or aware(taken[-1].received_at)
                token = f"{last.isoformat() if last else ''}|{token}"
        return control_pb2.ListItemsResponse(items=items, next_page_token=token)

    async def replied_by(
        self, page: builtins.list[ItemRow], items: builtins.list[control_pb2.StoredItem]
    ) -> None:
        """Which operator replied: on the item replied to, and on the reply
        itself once the platform shows it (matched by its platform id)."""
        ids = [r.id for r in page if r.id is not None]
        ours = [r.platform_item_id for r in page if r.outgoing and r.platform_item_id]
        if not ids:
            return
        stmt = select(ReplyRow).where(
            ReplyRow.status == "sent",
            or_(
                col(ReplyRow.item_id).in_(ids),
                col(ReplyRow.platform_item_id).in_(ours),
            ),
        )
        replies = await self.db.run(lambda s: list(s.exec(stmt)))
        by_item = {(r.account_id, r.item_id): r.operator for r in replies if r.operator}
        by_platform_id = {
            (r.account_id, r.platform_item_id): r.operator for r in replies if r.operator
        }
        for row, msg in zip(page, items, strict=True):
            who = by_item.get((row.account_id, row.id or 0))
            if row.outgoing:
                who = by_platform_id.get((row.account_id, row.platform_item_id), who)
            msg.replied_by = who or ""

    async def get(self, item_id: int) -> ItemRow | None:
        return await self.db.run(lambda s: s.get(ItemRow, item_id))

    async def mark(self, req: control_pb2.MarkReadRequest) -> tuple[int, set[str]]:
        """Returns (rows changed, accounts whose counts changed)."""
        if not req.item_ids and not req.account_id:
            raise InvalidInput("name item_ids, or an account_id (optionally with conversation_id)")
        if req.conversation_id and not req.account_id:
            raise InvalidInput("conversation_id needs its account_id")
        read = not req.unread
        where = [col(ItemRow.read) == (not read)]
        if req.item_ids:
            where.append(col(ItemRow.id).in_(list(req.item_ids)))
        if req.account_id:
            where.append(col(ItemRow.account_id) == req.account_id)
        if req.conversation_id:
            where.append(col(ItemRow.conversation_id) == req.conversation_id)

        def write(session: Session) -> tuple[int, set[str]]:
            accounts = set(session.exec(select(ItemRow.account_id).where(*where).distinct()))
            # An UPDATE gives a CursorResult (sqlmodel's Session types it as Result).
            result = cast(
                CursorResult[Any], session.execute(update(ItemRow).where(*where).values(read=read))
            )
            session.commit()
            return result.rowcount or 0, accounts

        changed, accounts = await self.db.run(write)
        if changed:
            await self.recount(accounts)
        return changed, accounts

    async def recount(self, accounts: set[str]) -> None:
        def count(session: Session) -> list[tuple[str, str, int]]:
            stmt = (
                select(ItemRow.account_id, ItemRow.kind, func.count())
                .where(col(ItemRow.read) == False, col(ItemRow.account_id).in_(list(accounts)))  # noqa: E712
                .group_by(ItemRow.account_id, ItemRow.kind)
            )
            return list(session.exec(stmt).all())

        fresh = await self.db.run(count)
        for account_id in accounts:
            self.unread[account_id] = {COMMENT: 0, DM: 0}
        for account_id, kind, n in fresh:
            self.unread[account_id][kind] = int(n)

    def counts(self, account_ids: builtins.list[str]) -> control_pb2.GetUnreadCountsResponse:
        wanted = account_ids or sorted(self.unread)
        resp = control_pb2.GetUnreadCountsResponse()
        for account_id in wanted:
            c = self.unread.get(account_id, {COMMENT: 0, DM: 0})
            resp.counts.append(
                control_pb2.UnreadCount(
                    account_id=account_id, comments=c[COMMENT], direct_messages=c[DM]
                )
            )
            resp.total += c[COMMENT] + c[DM]
        return resp
