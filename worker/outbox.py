"""The worker's durable outbox: every detected item waits here until the master acks it.

Invariant 1 (docs/architecture.md): an item is written here, durably, before it is
sent, and it leaves only when the master has acknowledged the batch seq it was
sent in, or has refused that batch for good (Nack), which the caller reports
loudly. The life of an item:

    add()              pending, not yet in a batch (batch_seq NULL)
    next_batches()     given a batch seq, durably; still pending
    unacked_batches()  the same batches, same seqs, rebuilt for a resend
    ack(seq)           removed; its key is remembered so a re-detection is not resent
    nack(seq)          removed and handed back to the caller

The class is synchronous; asyncio code calls it through ``asyncio.to_thread``,
so every public method takes one lock around the single connection.
"""

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from hiscrm.v1 import common_pb2, gateway_pb2

log = logging.getLogger(__name__)

# (account_id, platform, kind, platform_item_id): the master's unique key, reordered so
# that account_id leads the SQLite index and per-account counts can use it.
ItemKey = tuple[str, int, int, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,  -- rowid: new rows always sort after every existing row
    account_id TEXT NOT NULL,
    platform INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    platform_item_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    batch_seq INTEGER,
    UNIQUE (account_id, platform, kind, platform_item_id)
);
CREATE INDEX IF NOT EXISTS items_by_seq ON items (batch_seq);
CREATE INDEX IF NOT EXISTS items_unbatched ON items (account_id, id) WHERE batch_seq IS NULL;
CREATE TABLE IF NOT EXISTS delivered (
    id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    platform INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    platform_item_id TEXT NOT NULL,
    UNIQUE (account_id, platform, kind, platform_item_id)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('last_seq', 0);
"""

_KEY_WHERE = "account_id = ? AND platform = ? AND kind = ? AND platform_item_id = ?"


@dataclass(frozen=True, slots=True)
class AddResult:
    """What ``Outbox.add`` did. accepted + duplicates + refused == len(items)."""

    accepted: int
    duplicates: int
    refused: int
    # The refused items themselves, in order, so the caller can hold or re-detect them.
    refused_items: list[common_pb2.Item] = field(default_factory=list)


def item_key(item: common_pb2.Item) -> ItemKey:
    return (item.account_id, item.platform, item.kind, item.platform_item_id)


def frame_size(batch: gateway_pb2.ItemsBatch) -> int:
    """Serialized size of ``WorkerFrame(items=batch)``, the unit the gRPC limit applies to."""
    return gateway_pb2.WorkerFrame(items=batch).ByteSize()


def _varint_len(n: int) -> int:
    length = 1
    while n >= 0x80:
        n >>= 7
        length += 1
    return length


def _field_len(payload_len: int) -> int:
    # Every field involved has a number < 16, so its tag is one byte.
    return 1 + _varint_len(payload_len) + payload_len


class Outbox:
    """A bounded, durable FIFO of detected items, grouped into per-account batches.

    Oversized items: an item whose batch alone would exceed ``max_batch_bytes`` is
    still sent, alone in its own batch (never dropped, never looped on), and logged
    at ERROR here. Such a batch is recognisable by ``frame_size(batch) >
    max_batch_bytes``; the caller must check that for every batch it sends (also for
    ``unacked_batches()``, whose chunking used the limits at the time) and report it.
    If the batch cannot pass the master's message limit at all, the caller removes
    it with ``nack(seq)`` and reports the returned items, otherwise it would break
    every stream it is resent on.
    """

    def __init__(self, path: Path, *, max_items: int = 200_000, delivered_keys: int = 100_000):
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._path = path
        self._max_items = max_items
        self._delivered_cap = max(0, delivered_keys)
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT),
        # so nothing is committed behind our back or left open between calls.
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"outbox {path}: cannot enable WAL (journal_mode={mode})")
        # FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss.
        # Callers treat a returned add()/next_batches() as "on disk" (the crawler moves
        # its cursor on, seqs go on the wire), so every commit must survive a crash.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._pending: int = self._conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        if self._pending:
            log.info("outbox %s reopened with %d pending items", path, self._pending)

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front so a transaction never fails halfway
        # on an upgrade from reader to writer.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ------------------------------------------------------------ writing

    def add(self, items: Sequence[common_pb2.Item]) -> AddResult:
        """Store items durably, in order, before returning.

        Skipped as duplicates: keys already pending, or acked recently (the last
        ``delivered_keys`` acked keys are remembered). When the outbox holds
        ``max_items``, the rest is refused and reported, never dropped: the caller
        should pause detection (RUN_STATE_OUTBOX_FULL) and try again later.
        Raises ValueError, writing nothing, if an item lacks its account or
        platform id, since such items would all collapse into one key.
        """
        for item in items:
            if not item.account_id or not item.platform_item_id:
                raise ValueError(
                    "outbox item without account_id or platform_item_id: "
                    f"account_id={item.account_id!r} platform_item_id={item.platform_item_id!r}"
                )
        prepared = [(item, item_key(item), item.SerializeToString()) for item in items]
        accepted = duplicates = 0
        refused: list[common_pb2.Item] = []
        with self._lock:
            pending = self._pending
            with self._transaction() as conn:
                for item, key, payload in prepared:
                    known = conn.execute(
                        f"SELECT 1 FROM items WHERE {_KEY_WHERE}"
                        f" UNION ALL SELECT 1 FROM delivered WHERE {_KEY_WHERE} LIMIT 1",
                        key + key,
                    ).fetchone()
                    if known:
                        duplicates += 1
                    elif pending >= self._max_items:
                        refused.append(item)
                    else:
                        conn.execute(
                            "INSERT INTO items"
                            " (account_id, platform, kind, platform_item_id, payload)"
                            " VALUES (?, ?, ?, ?, ?)",
                            (*key, payload),
                        )
                        accepted += 1
                        pending += 1
            # Still under the lock, and only once COMMIT has succeeded.
            self._pending = pending
        if refused:
            log.warning(
                "outbox full (%d items): refused %d of %d items; they were not stored",
                self._max_items,
                len(refused),
                len(items),
            )
        return AddResult(accepted, duplicates, len(refused), refused)

    def next_batches(
        self, *, max_batch_bytes: int, max_batch_items: int, limit_batches: int
    ) -> list[gateway_pb2.ItemsBatch]:
        """Group unbatched items into at most ``limit_batches`` new batches.

        Each batch holds one account's items in insertion order, at most
        ``max_batch_items`` of them, with ``frame_size(batch) <= max_batch_bytes``
        unless it is a single oversized item (see the class docstring). Accounts
        take turns, oldest waiting item first, so one busy account cannot starve
        the others. Seqs come from a counter in the file and are never reused; the
        item-to-seq assignment is committed before this returns, so
        ``unacked_batches()`` rebuilds exactly these batches after a crash.
        """
        if max_batch_bytes < 1 or max_batch_items < 1:
            raise ValueError("max_batch_bytes and max_batch_items must be at least 1")
        batches: list[gateway_pb2.ItemsBatch] = []
        if limit_batches < 1:
            return batches
        with self._lock, self._transaction() as conn:
            seq = self._last_seq(conn)
            accounts = [
                row[0]
                for row in conn.execute(
                    "SELECT account_id FROM items WHERE batch_seq IS NULL"
                    " GROUP BY account_id ORDER BY MIN(id)"
                )
            ]
            while accounts and len(batches) < limit_batches:
                for account_id in list(accounts):
                    if len(batches) >= limit_batches:
                        break
                    seq += 1
                    batch, exhausted = self._build_batch(
                        conn, seq, account_id, max_batch_bytes, max_batch_items
                    )
                    batches.append(batch)
                    if exhausted:
                        accounts.remove(account_id)
            if batches:
                conn.execute("UPDATE counters SET value = ? WHERE name = 'last_seq'", (seq,))
        return batches

    def _build_batch(
        self,
        conn: sqlite3.Connection,
        seq: int,
        account_id: str,
        max_bytes: int,
        max_items: int,
    ) -> tuple[gateway_pb2.ItemsBatch, bool]:
        """One batch of the account's oldest unbatched items; True when none are left."""
        size = 1 + _varint_len(seq) + _field_len(len(account_id.encode()))
        payloads: list[bytes] = []
        last_id = 0
        exhausted = True
        # Rows are read one at a time and we stop as soon as the batch is full, so a
        # backlog of large items is never loaded into memory at once.
        cur = conn.execute(
            "SELECT id, payload FROM items WHERE account_id = ? AND batch_seq IS NULL"
            " ORDER BY id LIMIT ?",
            (account_id, max_items + 1),
        )
        try:
            for row_id, payload in cur:
                cost = _field_len(len(payload))
                if len(payloads) == max_items or (payloads and _field_len(size + cost) > max_bytes):
                    exhausted = False
                    break
                payloads.append(payload)
                size += cost
                last_id = row_id
        finally:
            cur.close()
        conn.execute(
            "UPDATE items SET batch_seq = ? WHERE account_id = ? AND batch_seq IS NULL AND id <= ?",
            (seq, account_id, last_id),
        )
        batch = gateway_pb2.ItemsBatch(seq=seq, account_id=account_id)
        for payload in payloads:
            batch.items.add().ParseFromString(payload)
        if _field_len(size) > max_bytes:
            item = batch.items[0]
            log.error(
                "outbox: item %s is %d bytes, over the %d-byte batch limit on its own;"
                " sending it alone as batch seq %d",
                item_key(item),
                _field_len(size),
                max_bytes,
                seq,
            )
        return batch, exhausted

    # ------------------------------------------------------------ resending, acks

    def unacked_batches(self) -> list[gateway_pb2.ItemsBatch]:
        """Every batch given a seq and not yet acked or nacked, in seq order."""
        batches: list[gateway_pb2.ItemsBatch] = []
        with self._lock:
            rows = self._conn.execute(
                "SELECT batch_seq, account_id, payload FROM items"
                " WHERE batch_seq IS NOT NULL ORDER BY batch_seq, id"
            )
            for seq, account_id, payload in rows:
                if not batches or batches[-1].seq != seq:
                    batches.append(gateway_pb2.ItemsBatch(seq=seq, account_id=account_id))
                batches[-1].items.add().ParseFromString(payload)
        return batches

    def ack(self, seq: int) -> int:
        """The master committed every batch up to ``seq``: remove their items.

        Returns the number of items removed. Their keys join the bounded set of
        delivered keys, so a re-detection is reported by ``add`` as a duplicate.
        """
        with self._lock:
            with self._transaction() as conn:
                last = self._last_seq(conn)
                if seq > last:
                    log.warning("outbox: ack for seq %d, but the last seq given is %d", seq, last)
                if self._delivered_cap:
                    # REPLACE gives a re-delivered key a new rowid, so trimming by rowid
                    # forgets the least recently delivered keys first.
                    conn.execute(
                        "INSERT OR REPLACE INTO delivered"
                        " (account_id, platform, kind, platform_item_id)"
                        " SELECT account_id, platform, kind, platform_item_id FROM items"
                        " WHERE batch_seq <= ? ORDER BY id",
                        (seq,),
                    )
                removed = conn.execute("DELETE FROM items WHERE batch_seq <= ?", (seq,)).rowcount
                if removed and self._delivered_cap:
                    conn.execute(
                        "DELETE FROM delivered WHERE id <="
                        " (SELECT id FROM delivered ORDER BY id DESC LIMIT 1 OFFSET ?)",
                        (self._delivered_cap,),
                    )
            self._pending -= removed
        return removed

    def batch_items(self, seq: int) -> list[common_pb2.Item]:
        """The items of batch ``seq``, in batch order (nothing changes)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT payload FROM items WHERE batch_seq = ? ORDER BY id", (seq,)
            ).fetchall()
        return [common_pb2.Item.FromString(r[0]) for r in rows]

    def nack(self, seq: int, only: Sequence[int] | None = None) -> list[common_pb2.Item]:
        """The master refused batch ``seq`` for good: remove its items and return them.

        With ``only`` (indexes into the batch, as ``batch_items`` orders it),
        just those items are removed; the others lose their seq and go out
        again in a new batch, in their old order (a batch refused for some of
        its items stored none of them).

        The keys are not remembered as delivered: if the item is detected again
        later (say the account came back to this worker) it is sent again.
        """
        with self._lock:
            with self._transaction() as conn:
                rows = conn.execute(
                    "SELECT id, payload FROM items WHERE batch_seq = ? ORDER BY id", (seq,)
                ).fetchall()
                wanted = set(range(len(rows))) if only is None else set(only)
                gone = [(row_id, p) for i, (row_id, p) in enumerate(rows) if i in wanted]
                conn.executemany("DELETE FROM items WHERE id = ?", [(r,) for r, _ in gone])
                conn.execute("UPDATE items SET batch_seq = NULL WHERE batch_seq = ?", (seq,))
            self._pending -= len(gone)
        payloads = [p for _, p in gone]
        items = [common_pb2.Item.FromString(p) for p in payloads]
        if items:
            log.error(
                "outbox: batch seq %d refused by the master; removed %d items: %s",
                seq,
                len(items),
                ", ".join(str(item_key(i)) for i in items[:20])
                + (" ..." if len(items) > 20 else ""),
            )
        return items

    def reset_unsent(self) -> int:
        """Forget the seqs of all unacked batches, so ``next_batches`` re-chunks them.

        For when the link's limits changed (e.g. a smaller ``max_batch_bytes`` in a
        new Welcome). The items get new, higher seqs; old seqs are never reused,
        so the master sees a gap, not a repeat. Resending items the master already
        has is harmless (it stores idempotently). An ack for an old seq that
        arrives afterwards removes nothing. Returns the number of items affected.
        """
        with self._lock, self._transaction() as conn:
            return conn.execute(
                "UPDATE items SET batch_seq = NULL WHERE batch_seq IS NOT NULL"
            ).rowcount

    # ------------------------------------------------------------ reading

    def pending_count(self, account_id: str | None = None) -> int:
        """Items in the outbox (batched or not) not yet acked; optionally for one account."""
        with self._lock:
            if account_id is None:
                return self._pending
            return self._conn.execute(
                "SELECT COUNT(*) FROM items WHERE account_id = ?", (account_id,)
            ).fetchone()[0]

    def pending_by_account(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT account_id, COUNT(*) FROM items GROUP BY account_id ORDER BY account_id"
            ).fetchall()
        return dict(rows)

    def last_seq(self) -> int:
        """The highest seq ever handed out (0 before the first batch)."""
        with self._lock:
            return self._last_seq(self._conn)

    @staticmethod
    def _last_seq(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT value FROM counters WHERE name = 'last_seq'").fetchone()[0]
