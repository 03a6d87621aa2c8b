"""The audit log: who did what to which account, item or worker, and when.

Operator actions are recorded by the auth interceptor (every Control call
that changes something, and every refused one); the gateway records worker
enrollments and refusals; replies carry their operator's name.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlmodel import Session, col, select

from hiscrm.v1 import control_pb2
from hiscrm_common.timeutil import aware, to_ts
from master.principals import Principal
from master.store.database import Database
from master.store.models import AuditRow
from master.validation import InvalidInput

log = logging.getLogger(__name__)

MAX_DETAIL = 2000


def entry_of(row: AuditRow) -> control_pb2.AuditEntry:
    msg = control_pb2.AuditEntry(
        id=row.id or 0,
        actor=row.actor,
        role=row.role,  # the enum value's name, as stored
        action=row.action,
        account_id=row.account_id,
        item_id=row.item_id,
        worker_id=row.worker_id,
        detail=row.detail,
        outcome=row.outcome,
        peer=row.peer,
    )
    ts = to_ts(aware(row.at))
    if ts is not None:
        msg.at.CopyFrom(ts)
    return msg


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: set[asyncio.Task[None]] = set()

    async def record(
        self,
        action: str,
        *,
        principal: Principal | None = None,
        actor: str = "",
        account_id: str = "",
        item_id: int = 0,
        worker_id: str = "",
        detail: str = "",
        outcome: str = "OK",
        peer: str = "",
    ) -> None:
        row = AuditRow(
            actor=actor or (principal.actor if principal else "anonymous"),
            role=control_pb2.Role.Name(principal.role if principal else 0),
            action=action,
            account_id=account_id[:64],
            item_id=item_id,
            worker_id=worker_id[:64] or (principal.worker_id if principal else ""),
            detail=detail[:MAX_DETAIL],
            outcome=outcome,
            peer=peer or (principal.peer if principal else ""),
        )

        def write(session: Session) -> None:
            session.add(row)
            session.commit()

        try:
            await self.db.run(write)
        except Exception:
            # An audit write that fails is loud, never silent.
            log.exception("could not write the audit entry for %s by %s", action, row.actor)

    async def record_soon(self, action: str, **kwargs: Any) -> None:
        """Written by a task of its own: for callers that may be cancelled
        or must not wait (a stream's end, the gateway's frame handling)."""
        self.record_later(action, **kwargs)

    def record_later(self, action: str, **kwargs: Any) -> None:
        task = asyncio.get_running_loop().create_task(self.record(action, **kwargs))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def list(self, req: control_pb2.ListAuditLogRequest) -> control_pb2.ListAuditLogResponse:
        size = req.page_size or 100
        if size > 1000:
            raise InvalidInput("page_size must be at most 1000")
        for name, value, most in (
            ("account_id", req.account_id, 64),
            ("actor", req.actor, 200),
            ("action", req.action, 200),
        ):
            if len(value) > most:
                raise InvalidInput(f"{name} is longer than {most} characters")

        def read(session: Session) -> list[AuditRow]:
            query = select(AuditRow)
            if req.account_id:
                query = query.where(AuditRow.account_id == req.account_id)
            if req.actor:
                query = query.where(AuditRow.actor == req.actor)
            if req.action:
                query = query.where(col(AuditRow.action).startswith(req.action, autoescape=True))
            if req.before_id:
                query = query.where(col(AuditRow.id) < req.before_id)
            query = query.order_by(col(AuditRow.id).desc()).limit(size + 1)
            return list(session.exec(query))

        rows = await self.db.run(read)
        more = len(rows) > size
        rows = rows[:size]
        return control_pb2.ListAuditLogResponse(
            entries=[entry_of(r) for r in rows],
            next_before_id=(rows[-1].id or 0) if more and rows else 0,
        )
