"""Which worker runs which account, and keeping every worker's config current.

Assignment: enabled accounts go to online workers whose platforms match,
within max_accounts, spread evenly. A worker that comes back holding
accounts that were given away gets Revoke for them, so no account ever runs
on two workers.

Config: every assignment and every version bump is re-sent until the
worker's ConfigAck matches (invariant 2), across reconnects.

Durability: a move is written before its Assign and Revoke go out, and the
write is retried until it lands (the scheduler waits meanwhile; nothing is
sent). A failover decided while the database is down is therefore either
on disk or never acted on: after a master restart the stored holder and its
past holders are exactly the workers that may have run the account, and
ingest accepts items from every one of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

from sqlalchemy import update
from sqlmodel import Session

from hiscrm.v1 import control_pb2, gateway_pb2
from master import placement
from master.accounts import PAST_HOLDERS_KEPT, AccountStore, config_of
from master.events import EventBus
from master.hosts import HostRegistry
from master.registry import ONLINE, WorkerRecord, WorkerRegistry
from master.store.database import Database
from master.store.models import AccountRow
from master.store.write_health import WriteHealth

log = logging.getLogger(__name__)

RESEND_AFTER_S = 2.0
ASSIGN_CHUNK = 100  # configs per Assign frame; sessions make configs large
# While workers keep arriving (a fleet starting, or all of it reconnecting
# after a master restart), placing accounts at each arrival and evening them
# out at the next moves thousands of accounts back and forth; waiting for a
# quiet moment (but never longer than the cap) places each account once.
ARRIVALS_QUIET_S = 0.3
ARRIVALS_WAIT_CAP_S = 2.0


class Scheduler:
    def __init__(
        self, db: Database, accounts: AccountStore, registry: WorkerRegistry, bus: EventBus
    ) -> None:
        self.db = db
        self.accounts = accounts
        self.registry = registry
        self.bus = bus
        self._wake = asyncio.Event()
        self.frozen = False  # the master is stopping (freeze)
        self._last_sent: dict[str, float] = {}
        self.rebalances = 0
        self.placements = 0
        self._held: dict[str, set[str]] | None = None
        # accounts whose worker may lack the current config: resend_unacked
        # looks at these, not at every account, every second
        self._unacked: set[str] = set()
        # accounts to re-check (created, updated, pinned); None in place of
        # the set means everything, with evening out (worker set changed)
        self._recheck: set[str] = set()
        self._full = False
        self._last_arrival = 0.0
        # evening out left accounts where they were for their login: the
        # end of a login asks for it again (Logins calls login_ended)
        self.moves_deferred = False
        self.writes = WriteHealth("writing assignments")
        registry.listeners.append(self._on_worker_state)
        registry.accounts_of = self.accounts_of
        # worker hosts (master/hosts.py), set by the app: placement spreads
        # over them within their caps, and a draining host's workers take none
        self.hosts: HostRegistry | None = None

    def _online(self) -> tuple[dict[str, WorkerRecord], dict[str, WorkerRecord], placement.Hosts]:
        """(every online worker, those that may take accounts, the host view)."""
        every = {w.worker_id: w for w in self.registry.online()}
        if self.hosts is None or not self.hosts.hosts:
            return every, every, placement.Hosts()
        view = placement.Hosts(host_of=self.hosts.host_map(every), caps=self.hosts.caps())
        usable = {
            worker_id: record
            for worker_id, record in every.items()
            if not self.hosts.draining(view.host_of.get(worker_id, ""))
        }
        return every, usable, view

    # ------------------------------------------------------------ queries

    def _index(self) -> dict[str, set[str]]:
        # this runs for every worker event, and a scan of 10,000 accounts per
        # event stalled the loop when a fleet disconnected
        if self._held is None:
            self._held = defaultdict(set)
            for account_id, row in self.accounts.rows.items():
                if row.worker_id:
                    self._held[row.worker_id].add(account_id)
                    self._unacked.add(account_id)
        return self._held

    def accounts_of(self, worker_id: str) -> list[str]:
        return sorted(self._index().get(worker_id, ()))

    def forget(self, account_id: str, worker_id: str | None) -> None:
        if worker_id:
            self._index()[worker_id].discard(account_id)
        self._unacked.discard(account_id)
        self._last_sent.pop(account_id, None)

    def accounts_by_worker(self) -> dict[str, list[str]]:
        """Every worker's accounts (ListWorkers at fleet scale)."""
        return {w: sorted(ids) for w, ids in self._index().items() if ids}

    def _still_unacked(self) -> list[AccountRow]:
        rows = self.accounts.rows
        found = []
        for account_id in list(self._unacked):
            row = rows.get(account_id)
            if row is None or not row.worker_id or row.acked_config_version == row.config_version:
                self._unacked.discard(account_id)
            else:
                found.append(row)
        return found

    def pending_acks(self) -> int:
        self._index()
        return len(self._still_unacked())

    # ------------------------------------------------------------ triggers

    def poke(self, account_id: str | None = None) -> None:
        """Re-check one account's placement (it was created, changed or
        pinned), or with no id everything, evening out the load."""
        if account_id is None:
            self._full = True
        else:
            self._recheck.add(account_id)
        self._wake.set()

    def freeze(self) -> None:
        """The master is stopping: nothing is placed or released from now on.
        Its workers' streams close while it stops; a rebalance then would
        release every account (no worker online) and store that, so the next
        master would find them all unassigned, and the allowance it gives
        the last run's workers to come back (WorkerRegistry.awaited) would
        hold back nothing: the first worker back would take them all."""
        self.frozen = True

    def login_ended(self) -> None:
        """A login ended: the load is evened out now if it waited for it."""
        if self.moves_deferred:
            self.poke()

    def _on_worker_state(self, record: WorkerRecord, old: int) -> None:
        if record.state == ONLINE:
            self._last_arrival = time.monotonic()
        self.poke()

    async def _arrivals_settled(self) -> None:
        started = time.monotonic()
        while True:
            quiet = time.monotonic() - self._last_arrival
            waited = time.monotonic() - started
            if quiet >= ARRIVALS_QUIET_S or waited >= ARRIVALS_WAIT_CAP_S:
                return
            await asyncio.sleep(min(ARRIVALS_QUIET_S - quiet, ARRIVALS_WAIT_CAP_S - waited))

    async def run(self) -> None:
        grace = self.registry.awaited_for_s()
        if grace:
            # the accounts held back for the last run's workers are placed
            # when their allowance ends, whoever came back by then
            asyncio.get_running_loop().call_later(grace + 0.05, self.poke)
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), RESEND_AFTER_S / 2)
            except TimeoutError:
                pass
            if self._wake.is_set():
                await asyncio.sleep(0.02)  # coalesce a burst of triggers
                if self._full:
                    await self._arrivals_settled()
                self._wake.clear()
                full, self._full = self._full, False
                recheck, self._recheck = self._recheck, set()
                try:
                    if full:
                        await self.rebalance()
                    else:
                        await self.place(recheck)
                except Exception:
                    log.exception("rebalance failed; will retry")
                    self._full = True
                    self._wake.set()
            self.resend_unacked()
            await self.accounts.flush_reports()

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
            if row is None or not row.enabled or not placement.eligible(record, row):
                revoke.append(h.account_id)
            elif row.worker_id == record.worker_id or (
                (holder is None or holder.state != ONLINE)
                # only a worker the master gave it to before may take it back
                # on its word: a claim is not a way to a session
                and record.worker_id in row.past_worker_ids.split(",")
            ):
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
        for account_id in self.accounts_of(record.worker_id):
            row = self.accounts.rows[account_id]
            self._unacked.add(account_id)
            if account_id not in held_ids:
                row.acked_config_version = 0  # it lost the account (restart): Assign again
                self._last_sent.pop(row.account_id, None)
        await self._persist(changed)
        if revoke:
            self._send(record, revoke=revoke, reason="held by another worker or no longer valid")
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
            self._unacked.add(row.account_id)
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
        self._unacked.add(row.account_id)  # resent from here on until acked
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
        for row in self._still_unacked():
            if now - self._last_sent.get(row.account_id, 0.0) < RESEND_AFTER_S:
                continue
            if row.acked_config_version == 0:
                assert row.worker_id  # _still_unacked keeps only rows a worker holds
                assigns[row.worker_id].append(row)
            else:
                self.push_config(row, "resend: not yet acknowledged", [])
        for worker_id, rows in assigns.items():
            record = self.registry.workers.get(worker_id)
            if record is not None and record.state == ONLINE:
                self._send(record, assign=rows)

    # ------------------------------------------------------------ assignment

    def _keeps(
        self, row: AccountRow, holder: WorkerRecord | None, online: dict[str, WorkerRecord]
    ) -> bool:
        # a pinned account runs elsewhere while its worker is away (better
        # than not being watched) and goes back when that worker returns
        return (
            row.enabled
            and holder is not None
            and placement.eligible(holder, row)
            and (
                not row.pinned_worker_id
                or row.pinned_worker_id == holder.worker_id
                or row.pinned_worker_id not in online
            )
        )

    def _assign(self, row: AccountRow, worker_id: str | None) -> None:
        previous = row.worker_id
        if previous and previous != worker_id:
            past = [w for w in row.past_worker_ids.split(",") if w and w != previous]
            row.past_worker_ids = ",".join([previous, *past][:PAST_HOLDERS_KEPT])
        held = self._index()
        if previous:
            held[previous].discard(row.account_id)
        row.worker_id = worker_id
        if worker_id:
            held[worker_id].add(row.account_id)
            self._unacked.add(row.account_id)
        row.acked_config_version = 0
        self._last_sent.pop(row.account_id, None)
        if worker_id is None:
            row.state = "RUN_STATE_UNASSIGNED" if row.enabled else "RUN_STATE_DISABLED"
        else:
            row.state = "RUN_STATE_STARTING"
        row.error_kind = "ERROR_KIND_UNSPECIFIED"
        row.state_reason = ""

    async def rebalance(self) -> None:
        """Every account checked, waiting ones placed, the load evened out."""
        if self.frozen:
            return
        self.rebalances += 1
        every, online, hosts = self._online()
        members: dict[str, list[AccountRow]] = {w: [] for w in online}
        revokes: dict[str, list[str]] = defaultdict(list)
        assigns: dict[str, list[AccountRow]] = defaultdict(list)
        changed: dict[str, AccountRow] = {}
        waiting: list[AccountRow] = []

        awaited = self.registry.awaited()
        for row in sorted(self.accounts.rows.values(), key=lambda r: r.account_id):
            if row.worker_id in awaited and row.enabled:
                continue  # its worker of the last run may still come back
            holder = every.get(row.worker_id or "")
            if holder is not None and self._keeps(row, online.get(holder.worker_id), online):
                members[holder.worker_id].append(row)
                continue
            self._release(row, holder, revokes, changed)
            if row.enabled:
                waiting.append(row)

        loads = {w: len(rows) for w, rows in members.items()}
        for row, worker_id in placement.place(waiting, online, loads, hosts):
            self._assign(row, worker_id)
            members[worker_id].append(row)
            assigns[worker_id].append(row)
            changed[row.account_id] = row
        for row, busy, idle in placement.even_out(online, members, hosts):
            if row in assigns[busy]:
                assigns[busy].remove(row)
            else:
                revokes[busy].append(row.account_id)
            self._assign(row, idle)
            assigns[idle].append(row)
            changed[row.account_id] = row
        loads_after = [len(m) for m in members.values()]
        self.moves_deferred = (
            bool(loads_after)
            and max(loads_after) - min(loads_after) > 1
            and any(r.state == placement.LOGGING_IN for m in members.values() for r in m)
        )
        await self._apply(every, revokes, assigns, changed)

        if changed:
            counts = sorted(len(m) for m in members.values())
            log.info(
                "rebalanced: %d accounts changed worker; %d workers, load min %d max %d",
                len(changed),
                len(counts),
                counts[0] if counts else 0,
                counts[-1] if counts else 0,
            )

    async def place(self, account_ids: set[str]) -> None:
        """Only the named accounts: revoked where they may no longer run,
        placed when waiting. Creating 10,000 accounts one by one must not
        walk all of them each time; new ones go to the least loaded worker,
        which keeps the load even without moving anything else."""
        if self.frozen:
            return
        self.placements += 1
        every, online, hosts = self._online()
        revokes: dict[str, list[str]] = defaultdict(list)
        assigns: dict[str, list[AccountRow]] = defaultdict(list)
        changed: dict[str, AccountRow] = {}
        waiting: list[AccountRow] = []
        awaited = self.registry.awaited()
        for account_id in sorted(account_ids):
            row = self.accounts.rows.get(account_id)
            if row is None or (row.worker_id in awaited and row.enabled):
                continue
            holder = every.get(row.worker_id or "")
            if holder is not None and self._keeps(row, online.get(holder.worker_id), online):
                continue
            self._release(row, holder, revokes, changed)
            if row.enabled:
                waiting.append(row)
        if not waiting and not changed:
            return
        held = self._index()
        loads = {w: len(held.get(w, ())) for w in online}
        for row, worker_id in placement.place(waiting, online, loads, hosts):
            self._assign(row, worker_id)
            assigns[worker_id].append(row)
            changed[row.account_id] = row
        await self._apply(every, revokes, assigns, changed)

    def _release(
        self,
        row: AccountRow,
        holder: WorkerRecord | None,
        revokes: dict[str, list[str]],
        changed: dict[str, AccountRow],
    ) -> None:
        if row.worker_id:
            if holder is not None:
                revokes[holder.worker_id].append(row.account_id)
            self._assign(row, None)
            changed[row.account_id] = row

    async def _apply(
        self,
        online: dict[str, WorkerRecord],
        revokes: dict[str, list[str]],
        assigns: dict[str, list[AccountRow]],
        changed: dict[str, AccountRow],
    ) -> None:
        # durable first: a move on the wire that is not on disk is lost by
        # a master restart, and the real holder's items with it
        await self._persist(list(changed.values()))
        for worker_id, ids in revokes.items():
            if ids:
                self._send(online[worker_id], revoke=ids, reason="reassigned")
        for worker_id, rows in assigns.items():
            if rows:
                self._send(online[worker_id], assign=rows)
        for row in changed.values():
            self.accounts.publish(row)

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
        """Write the rows' assignment columns, retrying until it lands."""
        if not rows:
            return
        shown = ",".join(r.account_id for r in rows[:5]) + (" ..." if len(rows) > 5 else "")
        await self.writes.until_written(
            lambda: self._write_assignments(rows),
            f"{len(rows)} accounts ({shown}); nothing about them is sent until it lands",
        )

    async def _write_assignments(self, rows: list[AccountRow]) -> None:
        # the values as they are at this attempt: a retry writes the newest
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
