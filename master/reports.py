"""Reports over a time range: first-response time and replies per operator,
volume per account and per hour.

Counted by the platform's time (the stored time for items without one). A
wait starts at the first incoming message after the account last spoke in
a conversation and ends at the account's next outgoing message; the wait is
credited to the operator who sent that message with SendReply, or to
"(platform)" when it was written on the platform itself.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from hiscrm.v1 import control_pb2
from hiscrm_common.timeutil import aware, from_ts, to_ts, utcnow
from master.limits import MAX_ID, MAX_IDS_PER_REQUEST
from master.store.database import Database
from master.store.models import ItemRow, ReplyRow
from master.validation import InvalidInput

MAX_RANGE = timedelta(days=92)
PLATFORM = "(platform)"
DM = "ITEM_KIND_DIRECT_MESSAGE"


@dataclass
class _Operator:
    replies: int = 0
    waits: list[float] = field(default_factory=list)


def _range(req: control_pb2.GetReportRequest) -> tuple[datetime, datetime]:
    try:
        since, until = from_ts(req.since, strict=True), from_ts(req.until, strict=True)
    except ValueError as exc:
        raise InvalidInput(f"since/until: {exc}") from None
    if since is None:
        raise InvalidInput("since is required")
    until = until or utcnow()
    if until <= since:
        raise InvalidInput("until must be after since")
    if until - since > MAX_RANGE:
        raise InvalidInput(f"a report covers at most {MAX_RANGE.days} days")
    if len(req.account_ids) > MAX_IDS_PER_REQUEST or any(len(a) > MAX_ID for a in req.account_ids):
        raise InvalidInput(f"account_ids: at most {MAX_IDS_PER_REQUEST} ids of {MAX_ID} characters")
    return since, until


class Reports:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def report(self, req: control_pb2.GetReportRequest) -> control_pb2.Report:
        since, until = _range(req)
        accounts = list(req.account_ids)

        def read(session: Session) -> tuple[list[tuple], list[tuple]]:
            at = func.coalesce(col(ItemRow.created_at), col(ItemRow.received_at))
            stmt = sa_select(
                col(ItemRow.account_id),
                col(ItemRow.kind),
                col(ItemRow.outgoing),
                col(ItemRow.conversation_ref),
                col(ItemRow.platform_item_id),
                col(ItemRow.created_at),
                col(ItemRow.received_at),
                col(ItemRow.id),
            ).where(at >= since, at < until)
            replies = sa_select(
                col(ReplyRow.account_id), col(ReplyRow.platform_item_id), col(ReplyRow.operator)
            ).where(col(ReplyRow.status) == "sent")
            if accounts:
                stmt = stmt.where(col(ItemRow.account_id).in_(accounts))
                replies = replies.where(col(ReplyRow.account_id).in_(accounts))
            return [tuple(r) for r in session.execute(stmt)], [
                tuple(r) for r in session.execute(replies)
            ]

        items, replies = await self.db.run(read)
        sent_by = {(a, p): op or PLATFORM for a, p, op in replies if p}
        return _compute(since, until, items, sent_by)


def _compute(
    since: datetime, until: datetime, items: list[tuple], sent_by: dict[tuple[str, str], str]
) -> control_pb2.Report:
    operators: dict[str, _Operator] = defaultdict(_Operator)
    volume: dict[str, control_pb2.AccountVolume] = {}
    conversations: dict[str, set[int]] = defaultdict(set)
    start = since.replace(minute=0, second=0, microsecond=0)
    hours = []
    t = start
    while t < until:
        hours.append(control_pb2.HourVolume(hour=to_ts(t), incoming=0, outgoing=0))
        t += timedelta(hours=1)
    threads: dict[int, list[tuple[datetime, int, bool, str, str]]] = defaultdict(list)
    for account_id, kind, outgoing, ref, pid, created, received, item_id in items:
        when = aware(created) or aware(received)
        assert when is not None
        vol = volume.setdefault(account_id, control_pb2.AccountVolume(account_id=account_id))
        hour = hours[int((when - start).total_seconds() // 3600)]
        if outgoing:
            vol.outgoing += 1
            hour.outgoing += 1
            operators[sent_by.get((account_id, pid), PLATFORM)].replies += 1
        else:
            hour.incoming += 1
            if kind == DM:
                vol.incoming_direct_messages += 1
            else:
                vol.incoming_comments += 1
        if ref:
            conversations[account_id].add(ref)
            threads[ref].append((when, item_id, outgoing, account_id, pid))
    for entries in threads.values():
        entries.sort()
        waiting: datetime | None = None
        for when, _, outgoing, account_id, pid in entries:
            if not outgoing:
                waiting = waiting or when
            elif waiting is not None:
                who = sent_by.get((account_id, pid), PLATFORM)
                operators[who].waits.append(max((when - waiting).total_seconds(), 0.0))
                waiting = None
    report = control_pb2.Report(since=to_ts(since), until=to_ts(until), hours=hours)
    for account_id in sorted(volume):
        vol = volume[account_id]
        vol.conversations = len(conversations.get(account_id, ()))
        report.accounts.append(vol)
    for name in sorted(operators):
        o = operators[name]
        report.operators.append(
            control_pb2.OperatorReport(
                operator=name,
                replies=o.replies,
                first_responses=len(o.waits),
                first_response_avg_seconds=statistics.fmean(o.waits) if o.waits else 0.0,
                first_response_median_seconds=statistics.median(o.waits) if o.waits else 0.0,
            )
        )
    return report
