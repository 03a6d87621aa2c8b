"""Control.GetStats."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import grpc
from sqlalchemy import func
from sqlmodel import Session, select

from hiscrm.v1 import control_pb2
from hiscrm_common import __version__
from hiscrm_common.timeutil import to_ts
from master.control.base import RpcBase
from master.store.models import ItemRow

log = logging.getLogger(__name__)
# GetStats is where an operator looks during a database outage: the counts
# from the database are skipped (and the outage listed) rather than waited for.
DB_FIGURES_WAIT_S = 3.0


def _db_figures(session: Session) -> tuple[int, int]:
    total = session.exec(select(func.count()).select_from(ItemRow)).one()
    unread = session.exec(
        select(func.count()).select_from(ItemRow).where(ItemRow.read == False)  # noqa: E712
    ).one()
    return int(total), int(unread)


class StatsRpcs(RpcBase):
    async def GetStats(
        self, request: control_pb2.GetStatsRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Stats:
        app = self.app
        problems = app.problems()
        try:
            total, unread = await asyncio.wait_for(app.db.run(_db_figures), DB_FIGURES_WAIT_S)
        except Exception as exc:
            log.warning("GetStats: item counts unavailable: %s", type(exc).__name__)
            total = unread = 0
            problems.append(f"database: item counts unavailable ({type(exc).__name__})")
        accounts_by_state = dict(Counter(r.state for r in app.accounts.rows.values()))
        c = app.counters
        sent, failed, dropped = app.notifications.counts
        return control_pb2.Stats(
            notifications_sent=sent,
            notifications_failed=failed,
            notifications_dropped=dropped,
            started_at=to_ts(app.started_at),
            master_version=__version__,
            database=app.db.backend,
            workers_by_state=app.registry.counts_by_state(),
            accounts_by_state=accounts_by_state,
            items_total=total,
            items_unread=unread,
            items_ingested=c.items_ingested,
            duplicates=c.duplicates,
            batches=c.batches,
            acks=c.acks,
            pending_config_acks=app.pending_config_acks(),
            stream_connects=app.registry.stream_connects,
            subscribers=app.bus.subscriber_count,
            frames_rejected=c.frames_rejected,
            task_failures=app.failures.counts(),
            problems=problems,
            items_refused=c.items_refused,
            batches_refused=c.batches_refused,
        )
