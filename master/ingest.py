"""Storing items: idempotent, committed in batches, acknowledged after commit.

Batches from every stream go through one queue; the ingest task takes as
many as are waiting (up to a bound), writes them in one transaction with
INSERT .. ON CONFLICT DO NOTHING on the item identity, and only then sends
each stream its Ack (invariant 1). New items, not duplicates, go on the bus.

Only what can never be stored is refused (Nack), loudly on both sides: a
batch for an account that does not exist or that the worker never held
since the last durable assignment (the scheduler writes a move before it
sends it, so every worker that ran the account is in worker_id or
past_worker_ids); or single items outside master/limits.py, named by their
index so that the worker sends the rest of the batch again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlmodel import Session, select

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from hiscrm_common.timeutil import from_ts, to_ts, utcnow
from master.accounts import AccountStore
from master.counters import Counters
from master.events import EventBus
from master.inbox import Inbox
from master.limits import LimitError, check_item
from master.registry import Connection, WorkerRecord
from master.store.database import Database
from master.store.insert_new import InsertNew
from master.store.models import ItemRow
from master.store.write_health import WriteHealth
from master.threads import Threads, Touched
from master.unread import UnreadEvents

log = logging.getLogger(__name__)
# by number, looked up per item on the hot path (check_item has refused unknown ones)
KIND_NAMES = {v.number: v.name for v in common_pb2.ItemKind.DESCRIPTOR.values}
PLATFORM_NAMES = {v.number: v.name for v in common_pb2.Platform.DESCRIPTOR.values}
INCOMING = control_pb2.DIRECTION_INCOMING
OUTGOING = control_pb2.DIRECTION_OUTGOING

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
    kind: common_pb2.ErrorKind = common_pb2.ERROR_KIND_NOT_ASSIGNED
    item_indexes: list[int] = field(default_factory=list)  # only these items refused
    # monotonic: the frame's receipt (hiscrm_ingest_to_ack_seconds)
    received: float = field(default_factory=time.monotonic)


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
        # SQLModel sets __table__ on table models at class creation; its stubs omit it.
        items: Table = ItemRow.__table__  # type: ignore[attr-defined]
        self._insert_new = InsertNew(
            items,
            conflict=("platform", "account_id", "kind", "platform_item_id"),
            returning=("id", "account_id", "kind", "platform_item_id"),
        )
        self.writes = WriteHealth("storing items")
        self.threads = Threads()
        # called after each commit with what it did to conversations (master/conversations.py)
        self.on_conversations: Callable[[list[Touched]], None] | None = None

    def refuse_reason(self, record: WorkerRecord, batch: gateway_pb2.ItemsBatch) -> str:
        """Why the whole batch can never be stored, or ''."""
        row = self.accounts.rows.get(batch.account_id)
        if row is None:
            return f"account {batch.account_id!r} does not exist"
        holders = {row.worker_id or "", *row.past_worker_ids.split(",")}
        if record.worker_id not in holders:
            return (
                f"account {batch.account_id} is not assigned to worker {record.worker_id} "
                f"(it is on {row.worker_id or 'no worker'}, and {record.worker_id} has not "
                "held it since the last durable assignment)"
            )
        return ""

    def bad_items(self, batch: gateway_pb2.ItemsBatch) -> tuple[list[int], str]:
        """Indexes of the items that can never be stored, and why (the first)."""
        row = self.accounts.rows[batch.account_id]
        platform = common_pb2.Platform.Value(row.platform)
        bad: list[int] = []
        first = ""
        for i, item in enumerate(batch.items):
            try:
                check_item(item)
                if item.account_id != batch.account_id or item.platform != platform:
                    raise LimitError(
                        f"it names account {item.account_id[:64]!r} / platform {item.platform}, "
                        f"not the batch's {batch.account_id} / {row.platform}"
                    )
            except LimitError as exc:
                bad.append(i)
                first = first or f"item {i} ({item.platform_item_id[:64]!r}): {exc}"
        return bad, first

    async def submit(
        self, record: WorkerRecord, conn: Connection, batch: gateway_pb2.ItemsBatch
    ) -> None:
        """Called by the gateway's reader; waits when ingest is behind, which
        slows that worker's stream (backpressure) instead of growing memory."""
        received = time.monotonic()
        reason = self.refuse_reason(record, batch)
        indexes: list[int] = []
        kind = common_pb2.ERROR_KIND_NOT_ASSIGNED
        if not reason:
            indexes, reason = self.bad_items(batch)
            kind = common_pb2.ERROR_KIND_INVALID_REQUEST
        if not reason:
            await self.queue.put(Pending(record, conn, batch, received=received))
            return
        what = f"{len(indexes)} of its {len(batch.items)} items" if indexes else "the batch"
        log.error(
            "worker %s: account %s batch %d: %s refused: %s",
            record.worker_id,
            batch.account_id[:64],
            batch.seq,
            what,
            reason,
        )
        self.counters.frames_rejected += 1
        if indexes:
            self.counters.items_refused += len(indexes)
        else:
            self.counters.batches_refused += 1
        self.bus.publish(
            account_id=batch.account_id,
            notice=control_pb2.Notice(
                level=control_pb2.Notice.LEVEL_ERROR,
                message=f"batch {batch.seq}: {what} refused: {reason}"[:2000],
                worker_id=record.worker_id,
                account_id=batch.account_id[:64],
            ),
        )
        # Through the queue, so the Nack follows the Acks of earlier batches.
        await self.queue.put(
            Pending(
                record,
                conn,
                gateway_pb2.ItemsBatch(seq=batch.seq),
                refused=reason,
                kind=kind,
                item_indexes=indexes,
            )
        )

    async def run(self) -> None:
        while True:
            first = await self.queue.get()
            work = [first]
            count = len(first.batch.items)
            while count < MAX_ITEMS_PER_COMMIT and not self.queue.empty():
                nxt = self.queue.get_nowait()
                work.append(nxt)
                count += len(nxt.batch.items)
            try:
                await self._commit(work)
            except Exception as exc:
                # Taken from the queue but not acked: without an answer the
                # workers would wait for these acks until some reconnect.
                # Closing their streams makes them reconnect and resend now.
                for p in work:
                    p.conn.close(f"the master failed to ingest a batch ({type(exc).__name__})")
                raise

    async def _commit(self, work: list[Pending]) -> None:
        rows = []
        now = utcnow()
        for p in work:
            account = self.accounts.rows.get(p.batch.account_id)
            own_id = account.platform_user_id if account is not None else ""
            for item in p.batch.items:
                if own_id and not item.outgoing and item.author_id == own_id:
                    # the account's own words are outgoing, whatever the page said
                    item.outgoing = True
                rows.append(row_of(item, p.record.worker_id, now))
        # Nothing is acked until this lands, so nothing is lost: the workers
        # keep the items, and GetStats.problems and health show the outage.
        inserted, touched = (
            await self.writes.until_written(
                lambda: self.db.run(lambda s: self._insert(s, rows)), f"{len(rows)} items"
            )
            if rows
            else ({}, [])
        )
        self._after_commit(work, inserted)
        if touched and self.on_conversations is not None:
            self.on_conversations(touched)

    async def store_own(self, item: common_pb2.Item, worker_id: str) -> int:
        """Stores one item the master knows of first (a reply it sent), as
        ingest would; returns its id (the existing one if the platform's copy
        came first)."""
        row = row_of(item, worker_id, utcnow())
        inserted, touched = await self.db.run(lambda s: self._insert(s, [row]))
        found = inserted.get((row["account_id"], row["kind"], row["platform_item_id"]))
        if found is None:
            return await self.db.run(lambda s: _item_id(s, row))
        item_id, conversation_ref = found
        self.counters.items_ingested += 1
        self.bus.publish(
            account_id=item.account_id,
            item=control_pb2.StoredItem(
                id=item_id,
                item=item,
                read=True,
                received_at=to_ts(row["received_at"]),
                worker_id=worker_id,
                direction=OUTGOING,
                conversation_ref=conversation_ref,
            ),
        )
        if touched and self.on_conversations is not None:
            self.on_conversations(touched)
        return item_id

    def _insert(
        self, session: Session, rows: list[dict]
    ) -> tuple[dict[tuple[str, str, str], tuple[int, int]], list[Touched]]:
        created = self.threads.resolve(session, rows)
        try:
            return self._insert_rows(session, rows)
        except BaseException:
            session.rollback()
            self.threads.rolled_back(created)
            raise

    def _insert_rows(
        self, session: Session, rows: list[dict]
    ) -> tuple[dict[tuple[str, str, str], tuple[int, int]], list[Touched]]:
        new: dict[tuple[str, str, str], tuple[int, int]] = {
            (account_id, kind, pid): (item_id, 0)
            for item_id, account_id, kind, pid in self._insert_new.run(session, rows)
        }
        fresh = []
        for row in rows:
            key = (row["account_id"], row["kind"], row["platform_item_id"])
            found = new.get(key)
            if found is not None and not found[1]:
                new[key] = (found[0], row["conversation_ref"])
                fresh.append((found[0], row))
        touched = self.threads.update(session, fresh)
        session.commit()
        return new, touched

    def _after_commit(
        self, work: list[Pending], inserted: dict[tuple[str, str, str], tuple[int, int]]
    ) -> None:
        counters = self.counters
        latencies = counters.latencies
        now_wall = time.time()
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
                            kind=p.kind,
                            reason=p.refused[:2000],
                            item_indexes=p.item_indexes,
                        )
                    )
                )
                continue
            stored = 0
            for item in p.batch.items:
                ikey = (item.account_id, KIND_NAMES[item.kind], item.platform_item_id)
                found = inserted.pop(ikey, None)
                if found is None:
                    continue
                item_id, conversation_ref = found
                stored += 1
                if self.inbox is not None and not item.outgoing:
                    self.inbox.added(item.account_id, item.kind)
                # its event is on the bus now (or would be, had it a subscriber)
                latencies.item_published(item, now_wall)
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
                            direction=OUTGOING if item.outgoing else INCOMING,
                            conversation_ref=conversation_ref,
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
        acked_at = time.monotonic()
        for p in work:
            if not p.refused:
                latencies.ingest_to_ack.observe(acked_at - p.received)
        if counted and self.unread is not None:
            self.unread.changed(counted)


def row_of(item: common_pb2.Item, worker_id: str, now: datetime) -> dict[str, Any]:
    return {
        "platform": PLATFORM_NAMES[item.platform],
        "account_id": item.account_id,
        "kind": KIND_NAMES[item.kind],
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
        "worker_id": worker_id,
        "raw_json": item.raw_json,
    }


def _item_id(session: Session, row: dict[str, Any]) -> int:
    found = session.exec(
        select(ItemRow.id).where(
            ItemRow.platform == row["platform"],
            ItemRow.account_id == row["account_id"],
            ItemRow.kind == row["kind"],
            ItemRow.platform_item_id == row["platform_item_id"],
        )
    ).first()
    return int(found or 0)
