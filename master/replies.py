"""Replies: Control.SendReply -> the account's worker -> the platform.

Idempotent by the client's request id: the same id never posts twice. The
row is written before the worker is asked; a reply still pending when its
worker goes away is sent again when a worker holds the account (the worker
remembers request ids it already posted, so a lost result is not a second
post).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import Session, select

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from hiscrm_common.timeutil import utcnow
from master import principals
from master.accounts import AccountStore
from master.audit import AuditLog
from master.events import EventBus
from master.registry import ONLINE, WorkerRecord, WorkerRegistry
from master.store.database import Database, upsert
from master.store.models import ItemRow, ReplyRow
from master.validation import InvalidInput

log = logging.getLogger(__name__)

MAX_TEXT = 2000
RESEND_AFTER_S = 15.0


def response_of(row: ReplyRow) -> control_pb2.SendReplyResponse:
    return control_pb2.SendReplyResponse(
        request_id=row.request_id,
        ok=row.status == "sent",
        error_kind=row.error_kind,  # the enum value's name, as stored
        error=row.error,
        platform_item_id=row.platform_item_id,
        operator=row.operator,
    )


class Replies:
    def __init__(
        self, db: Database, accounts: AccountStore, registry: WorkerRegistry, bus: EventBus
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.registry = registry
        self.bus = bus
        self.pending: dict[str, ReplyRow] = {}
        self._waiters: dict[str, list[asyncio.Future[ReplyRow]]] = {}
        self._sent_at: dict[str, float] = {}
        self.audit: AuditLog | None = None
        self.refused_results = 0
        # what a sent reply leaves behind (master/reply_items.py)
        self.on_sent: Callable[[ReplyRow], Awaitable[None]] | None = None

    async def load(self) -> None:
        def read(session: Session) -> list[ReplyRow]:
            return list(session.exec(select(ReplyRow).where(ReplyRow.status == "pending")))

        self.pending = {r.request_id: r for r in await self.db.run(read)}

    async def submit(self, req: control_pb2.SendReplyRequest) -> ReplyRow:
        if not 1 <= len(req.request_id) <= 128:
            raise InvalidInput("request_id is required (1-128 characters, unique per reply)")
        text = req.text.strip()
        if not text or len(text) > MAX_TEXT:
            raise InvalidInput(f"text must be 1-{MAX_TEXT} characters")
        existing = self.pending.get(req.request_id) or await self.db.run(
            lambda s: s.get(ReplyRow, req.request_id)
        )
        if existing is not None:
            if existing.item_id != req.item_id or existing.text != text:
                raise InvalidInput(
                    f"request_id {req.request_id} was already used for another reply"
                )
            return existing
        item = await self.db.run(lambda s: s.get(ItemRow, req.item_id))
        if item is None:
            raise InvalidInput(f"no stored item {req.item_id}")
        self.accounts.get(item.account_id)
        row = ReplyRow(
            request_id=req.request_id,
            account_id=item.account_id,
            item_id=req.item_id,
            text=text,
            operator=principals.actor(),
        )
        values = row.model_dump()
        await self.db.run(lambda s: _write(s, values))
        self.pending[row.request_id] = row
        self._dispatch(row, item)
        return row

    async def wait(self, row: ReplyRow, seconds: float) -> ReplyRow:
        if row.status != "pending":
            return row
        future: asyncio.Future[ReplyRow] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(row.request_id, []).append(future)
        try:
            return await asyncio.wait_for(future, seconds)
        except TimeoutError:
            return row

    def _dispatch(self, row: ReplyRow, item: ItemRow) -> bool:
        account = self.accounts.rows.get(row.account_id)
        record = self.registry.workers.get((account.worker_id if account else None) or "")
        if record is None or record.state != ONLINE or record.conn is None:
            return False
        record.conn.send(
            gateway_pb2.MasterFrame(
                send_reply=gateway_pb2.SendReply(
                    request_id=row.request_id,
                    account_id=row.account_id,
                    text=row.text,
                    target=gateway_pb2.ReplyTarget(
                        kind=item.kind,  # the enum value's name, as stored
                        platform_item_id=item.platform_item_id,
                        post_id=item.post_id,
                        conversation_id=item.conversation_id,
                    ),
                )
            )
        )
        self._sent_at[row.request_id] = time.monotonic()
        # only this worker may settle it (kept in memory; a master restart
        # re-sends, and the account's worker is then the one asked)
        row.worker_id = record.worker_id
        log.info(
            "account %s: reply %s sent to worker %s",
            row.account_id,
            row.request_id,
            record.worker_id,
        )
        return True

    async def resend_pending(self) -> None:
        """Pending replies whose worker went away or never answered."""
        now = time.monotonic()
        for row in list(self.pending.values()):
            if now - self._sent_at.get(row.request_id, 0.0) < RESEND_AFTER_S:
                continue
            item = await self._item(row.item_id)
            if item is not None:
                self._dispatch(row, item)

    async def _item(self, item_id: int) -> ItemRow | None:
        return await self.db.run(lambda s: s.get(ItemRow, item_id))

    def _forged(self, record: WorkerRecord, row: ReplyRow) -> bool:
        """A result from a worker the reply was not sent to."""
        account = self.accounts.rows.get(row.account_id)
        expected = row.worker_id or (account.worker_id if account else "") or ""
        return record.worker_id != expected

    async def on_result(self, record: WorkerRecord, result: gateway_pb2.CommandResult) -> None:
        pending = self.pending.get(result.request_id)
        if pending is not None and self._forged(record, pending):
            log.error(
                "worker %s: refused a result for reply %s of account %s: it was sent to worker %s",
                record.worker_id,
                result.request_id,
                pending.account_id,
                pending.worker_id or "(none yet)",
            )
            self.refused_results += 1
            if self.audit is not None:
                self.audit.record_later(
                    "worker/command_result",
                    actor=f"worker:{record.worker_id}",
                    account_id=pending.account_id,
                    item_id=pending.item_id,
                    worker_id=record.worker_id,
                    outcome="PERMISSION_DENIED",
                    detail=f"result for reply {result.request_id}, sent to "
                    f"{pending.worker_id or '(none yet)'}",
                )
            return
        row = self.pending.pop(result.request_id, None)
        if row is None:
            log.info(
                "worker %s: result for reply %s, already settled",
                record.worker_id,
                result.request_id,
            )
            return
        row.status = "sent" if result.ok else "failed"
        row.error_kind = common_pb2.ErrorKind.Name(result.error_kind)
        row.error = result.error
        row.platform_item_id = result.platform_item_id
        row.finished_at = utcnow()
        values = row.model_dump()
        await self.db.run(lambda s: _write(s, values))
        level = logging.INFO if result.ok else logging.ERROR
        log.log(
            level,
            "account %s: reply %s %s %s",
            row.account_id,
            row.request_id,
            row.status,
            row.error,
        )
        if row.status == "sent" and self.on_sent is not None:
            try:
                await self.on_sent(row)
            except Exception:
                # the reply is out and recorded; only its trail in the inbox is missing
                log.exception(
                    "account %s: reply %s was sent but could not be stored as an item",
                    row.account_id,
                    row.request_id,
                )
        self.bus.publish(account_id=row.account_id, reply=response_of(row))
        for future in self._waiters.pop(row.request_id, []):
            if not future.done():
                future.set_result(row)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(RESEND_AFTER_S / 3)
            try:
                await self.resend_pending()
            except Exception:
                log.exception("resending pending replies failed")


def _write(session: Session, values: dict[str, Any]) -> None:
    upsert(session, ReplyRow, values)
    session.commit()
