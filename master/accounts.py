"""Accounts: the in-memory working set, written through to the database.

Every change that a worker must know about bumps config_version in the same
transaction that makes it (invariant 2); the scheduler then pushes it.
"""

from __future__ import annotations

import logging
import uuid
from bisect import bisect_right, insort
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from google.protobuf import json_format
from sqlalchemy import update as sa_update
from sqlmodel import Session, col, delete, select

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from hiscrm_common.timeutil import aware, from_ts, to_ts, utcnow
from master import proxysecret
from master.events import EventBus
from master.store.database import Database, upsert
from master.store.models import AccountRow, ConversationReadRow, ConversationRow, ItemRow
from master.validation import InvalidInput, check_account_id, check_spec

log = logging.getLogger(__name__)

# Paths of AccountSpec an UpdateAccount may set, and whether the worker must hear of it.
UPDATABLE = {
    "display_name",
    "enabled",
    "monitor_interval_ms",
    "proxy",
    "monitor_comments",
    "monitor_direct_messages",
    "synthetic",
    "demo",
}
DEFAULT_INTERVAL_MS = 30_000
PAST_HOLDERS_KEPT = 8
# what a worker's AccountState sets (the primary key first: bulk UPDATE keys on it)
REPORTED_COLUMNS = (
    "account_id",
    "state",
    "error_kind",
    "state_reason",
    "state_changed_at",
    "screenshot_path",
    "last_cycle_at",
    "cursor",
    "proxy_ok",
    "proxy_detail",
    "proxy_latency_ms",
    "proxy_checked_at",
)


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """The caller's expected version did not match (ABORTED)."""


class AlreadyExists(Exception):
    pass


@dataclass
class Change:
    account_id: str
    reason: str
    fields: list[str]


def spec_of(row: AccountRow, *, reveal: bool = False) -> common_pb2.AccountSpec:
    """The spec as operators see it; reveal=True adds the proxy password
    (for the account's worker and for validation, never for Control)."""
    spec = common_pb2.AccountSpec(
        platform=row.platform,  # enum values' names, as stored
        display_name=row.display_name,
        enabled=row.enabled,
        monitor_interval_ms=row.monitor_interval_ms,
        proxy=proxysecret.join(row.proxy, proxysecret.unseal(row.account_id, row.proxy_secret))
        if reveal
        else row.proxy,
        monitor_comments=row.monitor_comments,
        monitor_direct_messages=row.monitor_direct_messages,
    )
    options = common_pb2.AccountSpec()
    json_format.Parse(row.options_json or "{}", options)
    which = options.WhichOneof("platform_options")
    if which:
        getattr(spec, which).CopyFrom(getattr(options, which))
    return spec


def apply_spec(row: AccountRow, spec: common_pb2.AccountSpec, paths: set[str]) -> list[str]:
    """Copy the named fields; return those that actually changed."""
    changed = []
    for path in sorted(paths):
        if path in ("synthetic", "demo"):
            current = spec_of(row)
            if spec.WhichOneof("platform_options") == current.WhichOneof(
                "platform_options"
            ) and getattr(spec, path) == getattr(current, path):
                continue
            options = common_pb2.AccountSpec()
            if spec.HasField(path):
                getattr(options, path).CopyFrom(getattr(spec, path))
            row.options_json = json_format.MessageToJson(options, indent=None)
            changed.append(path)
            continue
        if path == "proxy":
            if _apply_proxy(row, spec.proxy):
                changed.append(path)
            continue
        new = getattr(spec, path)
        if getattr(row, path) != new:
            setattr(row, path, new)
            changed.append(path)
    return changed


def _apply_proxy(row: AccountRow, proxy: str) -> bool:
    """The password goes to proxy_secret, encrypted. A URL written back as it
    was read (no password, same user and host) keeps the stored password."""
    public, password = proxysecret.split(proxy)
    if password is None and public == row.proxy:
        return False
    if public == row.proxy and password == proxysecret.unseal(row.account_id, row.proxy_secret):
        return False
    row.proxy = public
    row.proxy_secret = proxysecret.seal(row.account_id, password) if password else None
    return True


def state_after_enabling(row: AccountRow) -> str:
    """The state shown when `enabled` just changed (the scheduler takes it from there)."""
    if not row.enabled:
        return "RUN_STATE_DISABLED"
    return row.state if row.worker_id else "RUN_STATE_UNASSIGNED"


def user_of(row: AccountRow) -> common_pb2.UserInfo:
    return common_pb2.UserInfo(
        platform_user_id=row.platform_user_id,
        nickname=row.nickname,
        avatar_url=row.avatar_url,
        unique_id=row.unique_id,
    )


def config_of(row: AccountRow) -> common_pb2.AccountConfig:
    return common_pb2.AccountConfig(
        account_id=row.account_id,
        spec=spec_of(row, reveal=True),
        config_version=row.config_version,
        session=row.session or b"",
        user=user_of(row),
        fingerprint_seed=row.fingerprint_seed,
        cursor=row.cursor,
    )


def account_of(
    row: AccountRow, unread: int = 0, page: common_pb2.MonitorPage | None = None
) -> control_pb2.Account:
    msg = control_pb2.Account(
        account_id=row.account_id,
        spec=spec_of(row),
        config_version=row.config_version,
        acked_config_version=row.acked_config_version,
        worker_id=row.worker_id or "",
        state=row.state,  # enum values' names, as stored
        error_kind=row.error_kind,
        state_reason=row.state_reason,
        has_session=bool(row.session),
        user=user_of(row),
        unread_count=unread,
        screenshot_path=row.screenshot_path,
        proxy_has_password=row.proxy_secret is not None,
    )
    for name in ("last_cycle_at", "state_changed_at", "created_at", "updated_at"):
        ts = to_ts(aware(getattr(row, name)))
        if ts is not None:
            getattr(msg, name).CopyFrom(ts)
    if row.proxy_ok is not None:
        msg.proxy_health.ok = row.proxy_ok
        msg.proxy_health.detail = row.proxy_detail
        msg.proxy_health.latency_ms = row.proxy_latency_ms
        ts = to_ts(aware(row.proxy_checked_at))
        if ts is not None:
            msg.proxy_health.checked_at.CopyFrom(ts)
    if page is not None:
        msg.monitor_page.CopyFrom(page)
    return msg


class AccountStore:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self.rows: dict[str, AccountRow] = {}
        self.past_holders: dict[str, list[str]] = {}
        self.unread: Callable[[str], int] = lambda _account_id: 0
        # (worker id, account id) -> its monitor page as last measured. Live
        # figures from heartbeats, read from the worker registry and never
        # written to the database: they change every cycle, are worth nothing
        # once the worker is gone, and the next heartbeat brings them back.
        self.monitor_page: Callable[[str, str], common_pb2.MonitorPage | None] = (
            lambda _worker_id, _account_id: None
        )
        # accounts whose worker-reported fields (state, cursor, last cycle,
        # proxy health) changed since the last flush: written in one batch
        # a second, since 10,000 accounts each reporting would otherwise be
        # 10,000 transactions
        self.reported: set[str] = set()
        self._ordered: list[str] = []  # account ids, sorted: ListAccounts pages

    async def load(self) -> None:
        def read(session: Session) -> list[AccountRow]:
            return list(session.exec(select(AccountRow)))

        for row in await self.db.run(read):
            self.rows[row.account_id] = row
        self._ordered = sorted(self.rows)
        log.info("%d accounts loaded", len(self.rows))
        # rows from before passwords were write-only: encrypt them now
        for row in self.rows.values():
            if proxysecret.split(row.proxy)[1] is not None:
                _apply_proxy(row, row.proxy)
                await self._write(row)
                log.warning("account %s: proxy password now stored encrypted", row.account_id)

    def get(self, account_id: str) -> AccountRow:
        row = self.rows.get(account_id)
        if row is None:
            raise NotFound(f"no account {account_id!r}")
        return row

    def ordered_after(self, page_token: str) -> Iterator[AccountRow]:
        """Accounts in id order, starting after page_token."""
        for account_id in self._ordered[bisect_right(self._ordered, page_token) :]:
            row = self.rows.get(account_id)
            if row is not None:
                yield row

    def publish(self, row: AccountRow) -> None:
        # describing 10,000 accounts after a rebalance is wasted with no console
        if self.bus.wanted("account", row.account_id):
            self.bus.publish(account_id=row.account_id, account=self.describe(row))

    def describe(self, row: AccountRow) -> control_pb2.Account:
        page = self.monitor_page(row.worker_id, row.account_id) if row.worker_id else None
        return account_of(row, self.unread(row.account_id), page)

    async def _write(self, row: AccountRow) -> None:
        row.updated_at = utcnow()
        values = row.model_dump()

        def write(session: Session) -> None:
            upsert(session, AccountRow, values)
            session.commit()

        await self.db.run(write)

    async def save(self, row: AccountRow) -> None:
        await self._write(row)
        if row.account_id not in self.rows:
            insort(self._ordered, row.account_id)
        self.rows[row.account_id] = row

    # ------------------------------------------------------------ operator actions

    async def create(self, account_id: str, spec: common_pb2.AccountSpec) -> AccountRow:
        account_id = account_id or f"acc-{uuid.uuid4().hex[:12]}"
        check_account_id(account_id)
        if spec.monitor_interval_ms == 0:
            spec.monitor_interval_ms = DEFAULT_INTERVAL_MS
        check_spec(spec)
        if account_id in self.rows:
            raise AlreadyExists(f"account {account_id!r} already exists")
        row = AccountRow(
            account_id=account_id,
            platform=common_pb2.Platform.Name(spec.platform),
            fingerprint_seed=uuid.uuid4().hex,
        )
        apply_spec(row, spec, UPDATABLE)
        row.state = "RUN_STATE_UNASSIGNED" if row.enabled else "RUN_STATE_DISABLED"
        await self.save(row)
        log.info("account %s created (%s)", account_id, row.platform)
        self.publish(row)
        return row

    async def update(
        self,
        account_id: str,
        spec: common_pb2.AccountSpec,
        paths: list[str],
        expected_version: int = 0,
    ) -> tuple[AccountRow, list[str]]:
        row = self.get(account_id)
        if expected_version and expected_version != row.config_version:
            raise Conflict(
                f"account {account_id} is at config version {row.config_version}, "
                f"not {expected_version}; re-read it and retry"
            )
        if not paths:
            raise InvalidInput("update_mask is empty: name the fields to change, e.g. 'proxy'")
        unknown = set(paths) - UPDATABLE
        if unknown:
            raise InvalidInput(
                f"update_mask has fields that cannot be updated: {sorted(unknown)}; "
                f"allowed: {sorted(UPDATABLE)}"
            )
        candidate = AccountRow.model_validate(row.model_dump())
        changed = apply_spec(candidate, spec, set(paths))
        check_spec(spec_of(candidate, reveal=True))
        if not changed:
            return row, []
        candidate.config_version = row.config_version + 1
        if "enabled" in changed:
            candidate.state = state_after_enabling(candidate)
        await self._write(candidate)
        # The live row stays the one object everybody holds: a worker's report
        # or an assignment may have changed it while the write was waiting,
        # and replacing it with the copy would undo that.
        apply_spec(row, spec, set(paths))
        row.config_version = candidate.config_version
        row.updated_at = candidate.updated_at
        if "enabled" in changed:
            row.state = state_after_enabling(row)
        if (row.state, row.worker_id) != (candidate.state, candidate.worker_id):
            await self.save(row)
        log.info(
            "account %s updated to config v%d: %s",
            account_id,
            row.config_version,
            ",".join(changed),
        )
        self.publish(row)
        return row, changed

    async def delete(self, account_id: str, keep_items: bool) -> int:
        self.get(account_id)

        def write(session: Session) -> int:
            removed = 0
            if not keep_items:
                result = session.exec(delete(ItemRow).where(col(ItemRow.account_id) == account_id))
                removed = result.rowcount or 0
                refs = select(ConversationRow.id).where(ConversationRow.account_id == account_id)
                session.exec(
                    delete(ConversationReadRow).where(
                        col(ConversationReadRow.conversation_ref).in_(refs)
                    )
                )
                session.exec(
                    delete(ConversationRow).where(col(ConversationRow.account_id) == account_id)
                )
            session.exec(delete(AccountRow).where(col(AccountRow.account_id) == account_id))
            session.commit()
            return removed

        removed = await self.db.run(write)
        self.rows.pop(account_id, None)
        self.reported.discard(account_id)
        index = bisect_right(self._ordered, account_id) - 1
        if index >= 0 and self._ordered[index] == account_id:
            del self._ordered[index]
        log.info("account %s deleted (%d items removed)", account_id, removed)
        return removed

    # ------------------------------------------------------------ worker reports

    async def apply_state(self, worker_id: str, report: gateway_pb2.AccountState) -> bool:
        """Applied in memory and published at once; written with the next
        flush_reports (at most about a second later)."""
        row = self.rows.get(report.account_id)
        if row is None or row.worker_id != worker_id:
            return False
        self.reported.add(row.account_id)
        state = common_pb2.RunState.Name(report.state)
        kind = common_pb2.ErrorKind.Name(report.error_kind)
        last_cycle = from_ts(report.last_cycle_at)
        if last_cycle is not None:
            row.last_cycle_at = last_cycle
        if report.cursor:
            row.cursor = report.cursor
        proxy_changed = report.HasField("proxy_health")
        if proxy_changed:
            health = report.proxy_health
            row.proxy_ok, row.proxy_detail = health.ok, health.detail
            row.proxy_latency_ms = health.latency_ms
            row.proxy_checked_at = from_ts(health.checked_at) or utcnow()
        if (state, kind, report.reason) == (row.state, row.error_kind, row.state_reason):
            if proxy_changed:
                self.publish(row)
            return True
        row.state, row.error_kind, row.state_reason = state, kind, report.reason
        row.state_changed_at = utcnow()
        if report.screenshot_path:
            row.screenshot_path = report.screenshot_path
        level = logging.INFO if report.state == common_pb2.RUN_STATE_RUNNING else logging.WARNING
        log.log(
            level,
            "account %s on worker %s: %s %s %s",
            row.account_id,
            worker_id,
            state,
            kind if report.error_kind else "",
            report.reason,
        )
        self.publish(row)
        return True

    def set_state(
        self,
        row: AccountRow,
        state: str,
        kind: str = "ERROR_KIND_UNSPECIFIED",
        reason: str = "",
    ) -> None:
        """A state the master itself knows of (a login in progress): shown at
        once, written with the next flush_reports like a worker's report."""
        if (row.state, row.error_kind, row.state_reason) == (state, kind, reason):
            return
        row.state, row.error_kind, row.state_reason = state, kind, reason
        row.state_changed_at = utcnow()
        self.reported.add(row.account_id)
        log.info("account %s: %s %s", row.account_id, state, reason)
        self.publish(row)

    async def flush_reports(self) -> None:
        ids, self.reported = self.reported, set()
        values = [
            {name: getattr(self.rows[a], name) for name in REPORTED_COLUMNS}
            for a in ids
            if a in self.rows
        ]
        if not values:
            return

        def write(session: Session) -> None:
            session.execute(sa_update(AccountRow), values)
            session.commit()

        try:
            await self.db.run(write)
        except Exception:
            self.reported |= ids
            log.exception("could not save %d accounts' reported states; will retry", len(values))

    async def bump(self, row: AccountRow, reason: str) -> AccountRow:
        """A master-side change the worker must apply (e.g. login success)."""
        row.config_version += 1
        await self.save(row)
        log.info("account %s config v%d (%s)", row.account_id, row.config_version, reason)
        self.publish(row)
        return row

    async def keep_refreshed_session(self, row: AccountRow, session: bytes) -> None:
        """A worker's refreshed session (master/sessions.py): in memory at once,
        so the next Assign carries it, and written as its one column, without a
        config version bump or an account event (nothing an operator sees)."""
        row.session = session
        account_id = row.account_id

        def write(db: Session) -> None:
            db.execute(
                sa_update(AccountRow)
                .where(col(AccountRow.account_id) == account_id)
                .values(session=session)
            )
            db.commit()

        try:
            await self.db.run(write)
        except Exception as exc:
            # Not log.exception: the failed statement's parameters are the session.
            log.error(
                "account %s: could not write the refreshed session (%s); it stays in "
                "memory for the next Assign and is written with the account's next save",
                account_id,
                type(exc).__name__,
            )
