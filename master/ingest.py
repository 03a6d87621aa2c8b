"""Storing items: idempotent, committed in batches, acknowledged after commit.

Batches from every stream go through one queue; the ingest task takes as
many as are waiting (up to a bound), writes them in one transaction with
INSERT .. ON CONFLICT DO NOTHING on the item identity, and only then sends
each stream its Ack (invariant 1). New items, not duplicates, go on the bus.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from hiscrm_common.timeutil import from_ts, to_ts, utcnow
from master.accounts import AccountStore
from master.counters import Counters
from master.events import EventBus
from master.inbox import Inbox
from master.registry import Connection, WorkerRecord
from master.store.database import Database
from master.store.models import ItemRow
from master.unread import UnreadEvents

log = logging.getLogger(__name__)

# Short transactions: a long one holds SQLite's write lock against every
# other write (an UpdateAccount waits behind it) and delays every ack in it.
MAX_ITEMS_PER_COMMIT = 4_000
QUEUE_BATCHES = 1_000


@dataclass
class Pending:
    record: WorkerRecord
    conn: Connection
    batch: gateway_pb2.ItemsBatch
    refused: str = ""  # a batch that will never be stored gets Nack, in order


class Ingest:
    def __init__(
        self,
        db: Database,
        accounts: AccountStore,
        bus: EventBus,
        counters: Counters,
        inbox: Inbox | None = None,
        unread: UnreadEvents | None = None,
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.bus = bus
        self.counters = counters
        self.inbox = inbox
        self.unread = unread
        self.queue: asyncio.Queue[Pending] = asyncio.Queue(QUEUE_BATCHES)
        self._table: Table = ItemRow.__table__  # type: ignore[attr-defined]

    def refuse_reason(self, record: WorkerRecord, batch: gateway_pb2.ItemsBatch) -> str:
        row = self.accounts.rows.get(batch.account_id)
        if row is None:
            return f"account {batch.account_id!r} does not exist"
        holders = {row.worker_id or "", *row.past_worker_ids.split(",")}
        if record.worker_id not in holders:
            return f"account {batch.account_id} is not assigned to worker {record.worker_id}"
        platform = common_pb2.Platform.Value(row.platform)
        for item in batch.items:
            if item.account_id != batch.account_id or item.platform != platform:
                return (
                    f"item {item.platform_item_id!r} names account {item.account_id!r} / "
                    f"{common_pb2.Platform.Name(item.platform)}, not the batch's"
                )
            if not item.platform_item_id or item.kind == common_pb2.ITEM_KIND_UNSPECIFIED:
                return "every item needs platform_item_id and kind"
        return ""

    async def submit(
        self, record: WorkerRecord, conn: Connection, batch: gateway_pb2.ItemsBatch
    ) -> None:
        """Called by the gateway's reader; waits when ingest is behind, which
        slows that worker's stream (backpressure) instead of growing memory."""
        reason = self.refuse_reason(record, batch)
        if reason:
            log.error("worker %s: batch %d refused: %s", record.worker_id, batch.seq, reason)
            self.counters.frames_rejected += 1
            # Through the queue, so the Nack follows the Acks of earlier batches.
            await self.queue.put(
                Pending(record, conn, gateway_pb2.ItemsBatch(seq=batch.seq), refused=reason)
            )
            return
        await self.queue.put(Pending(record, conn, batch))

    async def run(self) -> None:
        while True:
            first = await self.queue.get()
            work = [first]
            count = len(first.batch.items)
            while count < MAX_ITEMS_PER_COMMIT and not self.queue.empty():
                nxt = self.queue.get_nowait()
                work.append(nxt)
                count += len(nxt.batch.items)
            await self._commit(work)

    async def _commit(self, work: list[Pending]) -> None:
        rows = []
        now = utcnow()
        for p in work:
            for item in p.batch.items:
                rows.append(
                    {
                        "platform": common_pb2.Platform.Name(item.platform),
                        "account_id": item.account_id,
                        "kind": common_pb2.ItemKind.Name(item.kind),
                        "platform_item_id": item.platform_item_id,
                        "author_id": item.author_id,
                        "author_name": item.author_name,
                        "content": item.content,
                        "post_id": item.post_id,
                        "post_title": item.post_title,
                        "conversation_id": item.conversation_id,
                        "parent_id": item.parent_id,
                        "outgoing": item.outgoing,
                        "created_at": from_ts(item.created_at),
                        "received_at": now,
                        # the account's own comments and messages are never unread
                        "read": item.outgoing,
                        "worker_id": p.record.worker_id,
                        "raw_json": item.raw_json,
                    }
                )
        while True:
            try:
                inserted = await self.db.run(lambda s: self._insert(s, rows)) if rows else {}
                break
            except Exception:
                # Nothing is acked, so nothing is lost; the workers keep the
                # items until this succeeds.
                log.exception("committing %d items failed; retrying in 1s", len(rows))
                await asyncio.sleep(1.0)
        self._after_commit(work, inserted)

    def _insert(self, session: Session, rows: list[dict]) -> dict[tuple[str, str, str], int]:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(self._table)
            .on_conflict_do_nothing(
                index_elements=["platform", "account_id", "kind", "platform_item_id"]
            )
            .returning(
                self._table.c.id,
                self._table.c.account_id,
                self._table.c.kind,
                self._table.c.platform_item_id,
            )
        )
        new: dict[tuple[str, str, str], int] = {}
        chunk = 500 if dialect == "sqlite" else 2000  # SQLite's bound-parameter limit
        for i in range(0, len(rows), chunk):
            result = session.execute(stmt, rows[i : i + chunk])
            for item_id, account_id, kind, pid in result:
                new[(account_id, kind, pid)] = item_id
        session.commit()
        return new

    def _after_commit(self, work: list[Pending], inserted: dict[tuple[str, str, str], int]) -> None:
        counters = self.counters
        received = to_ts(utcnow())
        want_events = self.bus.subscriber_count > 0
        # One Ack per stream per commit (acks are cumulative), flushed before
        # a Nack on the same stream so the worker sees them in seq order.
        pending: dict[int, tuple[Pending, int, int, int]] = {}
        counted: set[str] = set()  # accounts whose unread count moved

        def flush(conn_key: int) -> None:
            entry = pending.pop(conn_key, None)
            if entry is None:
                return
            p, seq, stored, duplicates = entry
            counters.acks += 1
            p.conn.send(
                gateway_pb2.MasterFrame(
                    ack=gateway_pb2.Ack(seq=seq, stored=stored, duplicates=duplicates)
                )
            )

        for p in work:
            key = id(p.conn)
            if p.refused:
                flush(key)
                p.conn.send(
                    gateway_pb2.MasterFrame(
                        nack=gateway_pb2.Nack(
                            seq=p.batch.seq,
                            kind=common_pb2.ERROR_KIND_NOT_ASSIGNED,
                            reason=p.refused,
                        )
                    )
                )
                continue
            stored = 0
            for item in p.batch.items:
                ikey = (item.account_id, common_pb2.ItemKind.Name(item.kind), item.platform_item_id)
                item_id = inserted.pop(ikey, None)
                if item_id is None:
                    continue
                stored += 1
                if self.inbox is not None and not item.outgoing:
                    self.inbox.added(item.account_id, item.kind)
                if want_events:
                    counted.add(item.account_id)
                    self.bus.publish(
                        account_id=item.account_id,
                        item=control_pb2.StoredItem(
                            id=item_id,
                            item=item,
                            read=item.outgoing,
                            received_at=received,
                            worker_id=p.record.worker_id,
                        ),
                    )
            duplicates = len(p.batch.items) - stored
            counters.items_ingested += stored
            counters.duplicates += duplicates
            counters.batches += 1
            _, _, s0, d0 = pending.get(key, (p, 0, 0, 0))
            pending[key] = (p, p.batch.seq, s0 + stored, d0 + duplicates)
        for key in list(pending):
            flush(key)
        if counted and self.unread is not None:
            self.unread.changed(counted)
