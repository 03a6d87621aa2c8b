"""Refreshed sessions handed back by workers (SessionRefresh frames).

A platform may rotate a session cookie while an account is monitored; the
worker keeps the refreshed storage state on its disk and hands it back here,
so that after a failover the next worker starts from it instead of from the
login-time session (whose rotated cookie may have expired by then).

The session is stored without a config version bump: the worker that sent it
already runs it, and a ConfigUpdate back to it would be a wasted round trip
that could even replace its live browser context. config_of() reads the row,
so the next Assign (a failover, a rebalance, a restarted worker) carries it.
The blob is opaque (encrypted by the worker) and never logged.
"""

from __future__ import annotations

import logging

from hiscrm.v1 import gateway_pb2
from master.accounts import AccountStore
from master.counters import Counters
from master.registry import WorkerRecord

log = logging.getLogger(__name__)


class SessionRefreshes:
    def __init__(self, accounts: AccountStore, counters: Counters) -> None:
        self.accounts = accounts
        self.counters = counters
        self.stored = 0

    async def on_refresh(self, record: WorkerRecord, refresh: gateway_pb2.SessionRefresh) -> bool:
        """True when the session was taken (or was already the stored one)."""
        account_id = refresh.account_id
        row = self.accounts.rows.get(account_id)
        if row is None or row.worker_id != record.worker_id:
            # The same answer as items from a worker that does not hold the
            # account: refused, counted, said loudly; only the holder may
            # replace the session every future worker starts from.
            where = "unknown" if row is None else f"on {row.worker_id or 'no worker'}"
            log.warning(
                "worker %s: session refresh for account %s refused: NOT_ASSIGNED "
                "(the account is %s)",
                record.worker_id,
                account_id,
                where,
            )
            self.counters.frames_rejected += 1
            return False
        if not refresh.session:
            log.warning(
                "worker %s: empty session refresh for account %s ignored",
                record.worker_id,
                account_id,
            )
            self.counters.frames_rejected += 1
            return False
        if refresh.config_version != row.config_version:
            # Sent under an older config: a login may have replaced the
            # session since. The worker sends its state again once it runs
            # the current config (it compares against the config's session).
            log.info(
                "account %s on worker %s: session refresh of config v%d ignored "
                "(the account is at v%d)",
                account_id,
                record.worker_id,
                refresh.config_version,
                row.config_version,
            )
            return False
        if refresh.session == row.session:
            return True
        await self.accounts.keep_refreshed_session(row, refresh.session)
        self.stored += 1
        log.info(
            "account %s on worker %s: refreshed session kept (%d bytes, encrypted; "
            "config v%d unchanged)",
            account_id,
            record.worker_id,
            len(refresh.session),
            row.config_version,
        )
        return True
