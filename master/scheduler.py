"""Which worker runs which account, and keeping every worker's config current.

Assignment: enabled accounts go to online workers whose platforms match,
within max_accounts, spread evenly. A worker that comes back holding
accounts that were given away gets Revoke for them, so no account ever runs
on two workers.

Config: every assignment and every version bump is re-sent until the
worker's ConfigAck matches (invariant 2), across reconnects.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import defaultdict

from sqlalchemy import update
from sqlmodel import Session

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from master.accounts import PAST_HOLDERS_KEPT, AccountStore, config_of
from master.events import EventBus
from master.registry import ONLINE, WorkerRecord, WorkerRegistry
from master.store.database import Database
from master.store.models import AccountRow

log = logging.getLogger(__name__)

RESEND_AFTER_S = 2.0
ASSIGN_CHUNK = 100  # configs per Assign frame; sessions make configs large


class Scheduler:
    def __init__(
        self, db: Database, accounts: AccountStore, registry: WorkerRegistry, bus: EventBus
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.registry = registry
        self.bus = bus
        self._wake = asyncio.Event()
        self._last_sent: dict[str, float] = {}
        self.rebalances = 0
        self._held: dict[str, set[str]] | None = None
        registry.listeners.append(self._on_worker_state)
        registry.accounts_of = self.accounts_of

    # ------------------------------------------------------------ queries

    def accounts_of(self, worker_id: str) -> list[str]:
        # an index: this runs for every worker event, and a scan of 10,000
        # accounts per event stalled the loop when a fleet disconnected
        if self._held is None:
            self._held = defaultdict(set)
            for account_id, row in self.accounts.rows.items():
                if row.worker_id:
                    self._held[row.worker_id].add(account_id)
        return sorted(self._held.get(worker_id, ()))

    def forget(self, account_id: str, worker_id: str | None) -> None:
        if self._held is not None and worker_id:
            self._held[worker_id].discard(account_id)

    def accounts_by_worker(self) -> dict[str, list[str]]:
        """Every worker's accounts in one pass (ListWorkers at fleet scale)."""
        found: dict[str, list[str]] = defaultdict(list)
        for account_id, row in sorted(self.accounts.rows.items()):
            if row.worker_id:
                found[row.worker_id].append(account_id)
        return found

    def pending_acks(self) -> int:
        return sum(
            1
            for r in self.accounts.rows.values()
            if r.worker_id and r.acked_config_version != r.config_version
        )

    # ------------------------------------------------------------ triggers

    def poke(self) -> None:
        self._wake.set()

    def _on_worker_state(self, record: WorkerRecord, old: int) -> None:
        self.poke()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), RESEND_AFTER_S / 2)
            except TimeoutError:
                pass
            if self._wake.is_set():
                await asyncio.sleep(0.02)  # coalesce a burst of triggers
                self._wake.clear()
                try:
                    await self.rebalance()
                except Exception:
                    log.exception("rebalance failed; will retry")
                    self._wake.set()
            self.resend_unacked()
            await self.accounts.flush_cursors()

    # ------------------------------------------------------------ reconnects

    async def on_worker_connected(
        self, record: WorkerRecord, held: list[gateway_pb2.HeldAccount]
    ) -> None:
        """Reconcile what a (re)connecting worker still runs with our records."""
        revoke: list[str] = []
        changed: list[AccountRow] = []
        for h in held:
            row = self.accounts.rows.get(h.account_id)
            holder = self.registry.workers.get(row.worker_id) if row and row.worker_id else None
            if row is None or not row.enabled or not self._eligible(record, row):
                revoke.append(h.account_id)
            elif row.worker_id == record.worker_id or holder is None or holder.state != ONLINE:
                if row.worker_id != record.worker_id:
                    self._assign(row, record.worker_id)
                    changed.append(row)
                # it runs some version; anything but the current one is re-sent
                row.acked_config_version = h.config_version
                self._last_sent.pop(row.account_id, None)
            else:
                revoke.append(h.account_id)
                log.warning(
                    "worker %s still holds account %s, which now runs on %s: revoking",
                    record.worker_id,
                    h.account_id,
                    row.worker_id,
                )
        held_ids = {h.account_id for h in held}
        for row in self.accounts.rows.values():
            if row.worker_id == record.worker_id and row.account_id not in held_ids:
                row.acked_config_version = 0  # it lost the account (restart): Assign again
                self._last_sent.pop(row.account_id, None)
        if revoke:
            self._send(record, revoke=revoke, reason="held by another worker or no longer valid")
        await self._persist(changed)
        self.poke()

    def on_config_ack(self, record: WorkerRecord, ack: gateway_pb2.ConfigAck) -> bool:
        row = self.accounts.rows.get(ack.account_id)
        if row is None or row.worker_id != record.worker_id:
            return False
        if ack.ok:
            row.acked_config_version = ack.config_version
            if ack.config_version == row.config_version:
                self._last_sent.pop(row.account_id, None)
        else:
            log.error(
                "worker %s could not apply account %s config v%d: %s",
                record.worker_id,
                ack.account_id,
                ack.config_version,
                ack.error,
            )
            row.acked_config_version = 0
        self.bus.publish(
            account_id=row.account_id,
            config_acked=control_pb2.ConfigAcked(
                account_id=row.account_id,
                worker_id=record.worker_id,
                config_version=ack.config_version,
                ok=ack.ok,
                error=ack.error,
            ),
        )
        return True

    # ------------------------------------------------------------ config push

    def push_config(self, row: AccountRow, reason: str, fields: list[str]) -> None:
        record = self.registry.workers.get(row.worker_id or "")
        if record is None or record.conn is None or record.state != ONLINE:
            return
        record.conn.send(
            gateway_pb2.MasterFrame(
                config_update=gateway_pb2.ConfigUpdate(
                    config=config_of(row), reason=reason, updated_fields=fields
                )
            )
        )
        self._last_sent[row.account_id] = time.monotonic()

    def resend_unacked(self) -> None:
        now = time.monotonic()
        assigns: dict[str, list[AccountRow]] = defaultdict(list)
        for row in self.accounts.rows.values():
            if not row.worker_id or row.acked_config_version == row.config_version:
                continue
            if now - self._last_sent.get(row.account_id, 0.0) < RESEND_AFTER_S:
                continue
            if row.acked_config_version == 0:
                assigns[row.worker_id].append(row)
            else:
                self.push_config(row, "resend: not yet acknowledged", [])
        for worker_id, rows in assigns.items():
            record = self.registry.workers.get(worker_id)
            if record is not None and record.state == ONLINE:
                self._send(record, assign=rows)

    # ------------------------------------------------------------ assignment

    def _eligible(self, record: WorkerRecord, row: AccountRow) -> bool:
        return common_pb2.Platform.Value(row.platform) in record.platforms

    def _assign(self, row: AccountRow, worker_id: str | None) -> None:
        previous = row.worker_id
        if previous and previous != worker_id:
            past = [w for w in row.past_worker_ids.split(",") if w and w != previous]
            row.past_worker_ids = ",".join([previous, *past][:PAST_HOLDERS_KEPT])
        row.worker_id = worker_id
        if self._held is not None:
            if previous:
                self._held[previous].discard(row.account_id)
            if worker_id:
                self._held[worker_id].add(row.account_id)
        row.acked_config_version = 0
        self._last_sent.pop(row.account_id, None)
        if worker_id is None:
            row.state = "RUN_STATE_UNASSIGNED" if row.enabled else "RUN_STATE_DISABLED"
        else:
            row.state = "RUN_STATE_STARTING"
        row.error_kind = "ERROR_KIND_UNSPECIFIED"
        row.state_reason = ""

    async def rebalance(self) -> None:
        self.rebalances += 1
        online = {w.worker_id: w for w in self.registry.online()}
        members: dict[str, list[AccountRow]] = {w: [] for w in online}
        revokes: dict[str, list[str]] = defaultdict(list)
        assigns: dict[str, list[AccountRow]] = defaultdict(list)
        changed: dict[str, AccountRow] = {}
        waiting: list[AccountRow] = []

        for row in sorted(self.accounts.rows.values(), key=lambda r: r.account_id):
            holder = online.get(row.worker_id or "")
            keep = (
                row.enabled
                and holder is not None
                and self._eligible(holder, row)
                and (not row.pinned_worker_id or row.pinned_worker_id == holder.worker_id)
            )
            if keep:
                members[holder.worker_id].append(row)  # type: ignore[union-attr]
                continue
            if row.worker_id:
                if holder is not None:
                    revokes[holder.worker_id].append(row.account_id)
                self._assign(row, None)
                changed[row.account_id] = row
            if row.enabled:
                waiting.append(row)

        self._place(waiting, online, members, assigns, changed)
        self._even_out(online, members, revokes, assigns, changed)

        for worker_id, ids in revokes.items():
            self._send(online[worker_id], revoke=ids, reason="reassigned")
        for worker_id, rows in assigns.items():
            self._send(online[worker_id], assign=rows)
        await self._persist(list(changed.values()))
        for row in changed.values():
            self.accounts.publish(row)
        if changed:
            loads = sorted(len(m) for m in members.values())
            log.info(
                "rebalanced: %d accounts changed worker; %d workers, load min %d max %d",
                len(changed),
                len(loads),
                loads[0] if loads else 0,
                loads[-1] if loads else 0,
            )

    def _place(
        self,
        waiting: list[AccountRow],
        online: dict[str, WorkerRecord],
        members: dict[str, list[AccountRow]],
        assigns: dict[str, list[AccountRow]],
        changed: dict[str, AccountRow],
    ) -> None:
        """Least-loaded eligible worker for each waiting account: one heap per
        platform, so 10,000 accounts over 1,000 workers is n log m, not n*m."""
        heaps: dict[int, list[tuple[int, str]]] = {}
        for row in waiting:
            platform = common_pb2.Platform.Value(row.platform)
            pinned = online.get(row.pinned_worker_id or "")
            if pinned is not None:
                if platform in pinned.platforms and len(members[pinned.worker_id]) < (
                    pinned.max_accounts
                ):
                    self._take(row, pinned.worker_id, members, assigns, changed)
                continue
            heap = heaps.get(platform)
            if heap is None:
                heap = [
                    (len(members[w.worker_id]), w.worker_id)
                    for w in online.values()
                    if platform in w.platforms and len(members[w.worker_id]) < w.max_accounts
                ]
                heapq.heapify(heap)
                heaps[platform] = heap
            while heap:
                load, worker_id = heapq.heappop(heap)
                if load != len(members[worker_id]):  # stale: another platform's heap moved it
                    heapq.heappush(heap, (len(members[worker_id]), worker_id))
                    continue
                self._take(row, worker_id, members, assigns, changed)
                if len(members[worker_id]) < online[worker_id].max_accounts:
                    heapq.heappush(heap, (len(members[worker_id]), worker_id))
                break

    def _take(
        self,
        row: AccountRow,
        worker_id: str,
        members: dict[str, list[AccountRow]],
        assigns: dict[str, list[AccountRow]],
        changed: dict[str, AccountRow],
    ) -> None:
        self._assign(row, worker_id)
        members[worker_id].append(row)
        assigns[worker_id].append(row)
        changed[row.account_id] = row

    def _even_out(
        self,
        online: dict[str, WorkerRecord],
        members: dict[str, list[AccountRow]],
        revokes: dict[str, list[str]],
        assigns: dict[str, list[AccountRow]],
        changed: dict[str, AccountRow],
    ) -> None:
        """Move accounts from the busiest worker to the idlest until no two
        workers that could swap an account differ by more than one."""
        for _ in range(len(self.accounts.rows)):
            if not self._move_one(online, members, revokes, assigns, changed):
                return

    def _move_one(
        self,
        online: dict[str, WorkerRecord],
        members: dict[str, list[AccountRow]],
        revokes: dict[str, list[str]],
        assigns: dict[str, list[AccountRow]],
        changed: dict[str, AccountRow],
    ) -> bool:
        by_load = sorted(online.values(), key=lambda w: (-len(members[w.worker_id]), w.worker_id))
        for busy in by_load:
            for idle in reversed(by_load):
                gap = len(members[busy.worker_id]) - len(members[idle.worker_id])
                if gap <= 1:
                    break
                if len(members[idle.worker_id]) >= idle.max_accounts:
                    continue
                row = next(
                    (
                        r
                        for r in members[busy.worker_id]
                        if not r.pinned_worker_id and self._eligible(idle, r)
                    ),
                    None,
                )
                if row is None:
                    continue
                members[busy.worker_id].remove(row)
                if row in assigns[busy.worker_id]:
                    assigns[busy.worker_id].remove(row)
                else:
                    revokes[busy.worker_id].append(row.account_id)
                self._take(row, idle.worker_id, members, assigns, changed)
                return True
        return False

    def _send(
        self,
        record: WorkerRecord,
        *,
        assign: list[AccountRow] | None = None,
        revoke: list[str] | None = None,
        reason: str = "",
    ) -> None:
        conn = record.conn
        if conn is None:
            return
        if revoke:
            conn.send(
                gateway_pb2.MasterFrame(
                    revoke=gateway_pb2.Revoke(account_ids=revoke, reason=reason)
                )
            )
            log.info("worker %s: revoked %s (%s)", record.worker_id, ",".join(revoke), reason)
        if assign:
            now = time.monotonic()
            for i in range(0, len(assign), ASSIGN_CHUNK):
                chunk = assign[i : i + ASSIGN_CHUNK]
                conn.send(
                    gateway_pb2.MasterFrame(
                        assign=gateway_pb2.Assign(accounts=[config_of(r) for r in chunk])
                    )
                )
                for row in chunk:
                    self._last_sent[row.account_id] = now
            log.info("worker %s: assigned %d accounts", record.worker_id, len(assign))

    async def _persist(self, rows: list[AccountRow]) -> None:
        if not rows:
            return
        values = [
            {
                "account_id": r.account_id,
                "worker_id": r.worker_id,
                "past_worker_ids": r.past_worker_ids,
                "state": r.state,
                "error_kind": r.error_kind,
                "state_reason": r.state_reason,
                "acked_config_version": r.acked_config_version,
            }
            for r in rows
        ]

        def write(session: Session) -> None:
            session.execute(update(AccountRow), values)
            session.commit()

        await self.db.run(write)
