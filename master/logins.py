"""QR logins: from Control.StartLogin to a stored session and a pushed config.

The master starts a login on the account's worker, relays every event to the
caller's stream (and the bus), forwards SMS codes and cancels, and on success
stores the encrypted session and user info, bumps the config version and
pushes ConfigUpdate, so the running monitor gets the session at once (the
seed-001 failure cannot happen).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from hiscrm_common.timeutil import to_ts, utcnow
from master.accounts import AccountStore
from master.counters import Counters
from master.events import EventBus
from master.registry import ONLINE, WorkerRecord, WorkerRegistry
from master.scheduler import Scheduler

log = logging.getLogger(__name__)

FINAL = {"success", "failed", "expired", "cancelled"}


class LoginError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # a grpc.StatusCode name


@dataclass(eq=False)
class LoginSession:
    session_id: str
    account_id: str
    worker_id: str
    updates: asyncio.Queue[control_pb2.LoginUpdate] = field(
        default_factory=lambda: asyncio.Queue(256)
    )
    done: bool = False
    # the account's (state, error kind, reason) before the login, shown again
    # when the login ends without success (the worker's own view did not move)
    before: tuple[str, str, str] = ("", "", "")


class Logins:
    def __init__(
        self,
        accounts: AccountStore,
        registry: WorkerRegistry,
        scheduler: Scheduler,
        bus: EventBus,
        counters: Counters,
    ) -> None:
        self.accounts = accounts
        self.registry = registry
        self.scheduler = scheduler
        self.bus = bus
        self.counters = counters
        self.sessions: dict[str, LoginSession] = {}
        registry.listeners.append(self._on_worker_state)

    def _worker_of(self, account_id: str) -> WorkerRecord:
        row = self.accounts.get(account_id)
        record = self.registry.workers.get(row.worker_id or "")
        if record is None or record.state != ONLINE or record.conn is None:
            raise LoginError(
                "FAILED_PRECONDITION",
                f"account {account_id} has no online worker yet (state "
                f"{row.state}); enable it and wait until a worker holds it",
            )
        return record

    def start(self, account_id: str) -> LoginSession:
        for existing in self.sessions.values():
            if existing.account_id == account_id and not existing.done:
                self._finish(existing, "cancelled", "a new login for the account started")
        record = self._worker_of(account_id)
        session = LoginSession(uuid.uuid4().hex, account_id, record.worker_id)
        row = self.accounts.get(account_id)
        session.before = (row.state, row.error_kind, row.state_reason)
        self.accounts.set_state(row, "RUN_STATE_LOGGING_IN", reason="waiting for a QR scan")
        self.sessions[session.session_id] = session
        assert record.conn is not None
        record.conn.send(
            gateway_pb2.MasterFrame(
                login_start=gateway_pb2.LoginStart(
                    session_id=session.session_id, account_id=account_id
                )
            )
        )
        log.info(
            "account %s: login %s started on worker %s",
            account_id,
            session.session_id,
            record.worker_id,
        )
        return session

    def submit_code(self, session_id: str, code: str) -> None:
        session = self._live(session_id)
        if not code.strip():
            raise LoginError("INVALID_ARGUMENT", "the verification code is empty")
        record = self._worker_of(session.account_id)
        assert record.conn is not None
        record.conn.send(
            gateway_pb2.MasterFrame(
                verification_code=gateway_pb2.VerificationCode(
                    session_id=session_id, account_id=session.account_id, code=code.strip()
                )
            )
        )

    def cancel(self, session_id: str) -> None:
        session = self._live(session_id)
        record = self.registry.workers.get(session.worker_id)
        if record is not None and record.conn is not None:
            record.conn.send(
                gateway_pb2.MasterFrame(
                    login_cancel=gateway_pb2.LoginCancel(
                        session_id=session_id, account_id=session.account_id
                    )
                )
            )
        self._finish(session, "cancelled", "cancelled by the operator")

    def _live(self, session_id: str) -> LoginSession:
        session = self.sessions.get(session_id)
        if session is None or session.done:
            raise LoginError("NOT_FOUND", f"no login in progress with session id {session_id!r}")
        return session

    def forget(self, session: LoginSession) -> None:
        self.sessions.pop(session.session_id, None)

    # ------------------------------------------------------------ worker events

    async def on_event(self, record: WorkerRecord, event: gateway_pb2.LoginEvent) -> None:
        session = self.sessions.get(event.session_id)
        if session is None or session.done or session.worker_id != record.worker_id:
            log.warning(
                "worker %s: login event for unknown session %s (account %s)",
                record.worker_id,
                event.session_id,
                event.account_id,
            )
            return
        kind = event.WhichOneof("event")
        update = control_pb2.LoginUpdate(
            session_id=session.session_id,
            account_id=session.account_id,
            worker_id=record.worker_id,
            at=event.at if event.HasField("at") else to_ts(utcnow()),
        )
        if kind == "success":
            await self._store_session(session, event.success)
            update.success.CopyFrom(event.success.user)
        elif kind is not None:
            getattr(update, kind).CopyFrom(getattr(event, kind))
        self._emit(session, update)
        if kind in FINAL:
            session.done = True
            self._count(kind)
            if kind != "success":
                self._restore(session)
            self.scheduler.login_ended()

    async def _store_session(
        self, session: LoginSession, success: gateway_pb2.LoginSuccess
    ) -> None:
        row = self.accounts.get(session.account_id)
        row.session = success.session
        row.platform_user_id = success.user.platform_user_id
        row.nickname = success.user.nickname
        row.avatar_url = success.user.avatar_url
        row.unique_id = success.user.unique_id
        row.state = "RUN_STATE_STARTING"
        row.error_kind = "ERROR_KIND_UNSPECIFIED"
        row.state_reason = "logged in"
        await self.accounts.bump(row, "login success")
        self.scheduler.push_config(row, "login success", ["session", "user"])
        log.info(
            "account %s: logged in as %s (%s); config v%d pushed",
            row.account_id,
            row.nickname,
            row.platform_user_id,
            row.config_version,
        )

    def _emit(self, session: LoginSession, update: control_pb2.LoginUpdate) -> None:
        self.bus.publish(account_id=session.account_id, login=update)
        try:
            session.updates.put_nowait(update)
        except asyncio.QueueFull:
            log.warning("login %s: caller is not reading; update dropped", session.session_id)

    def _finish(self, session: LoginSession, kind: str, reason: str) -> None:
        if session.done:
            return
        update = control_pb2.LoginUpdate(
            session_id=session.session_id,
            account_id=session.account_id,
            worker_id=session.worker_id,
            at=to_ts(utcnow()),
        )
        if kind == "cancelled":
            update.cancelled.reason = reason
        else:
            update.failed.kind = common_pb2.ERROR_KIND_NETWORK
            update.failed.reason = reason
        self._emit(session, update)
        session.done = True
        self._count(kind)
        self._restore(session)
        self.scheduler.login_ended()

    def _restore(self, session: LoginSession) -> None:
        row = self.accounts.rows.get(session.account_id)
        if row is not None and row.state == "RUN_STATE_LOGGING_IN":
            state, kind, reason = session.before
            self.accounts.set_state(row, state, kind, reason)

    def _count(self, outcome: str) -> None:
        outcomes = self.counters.logins_by_outcome
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    def _on_worker_state(self, record: WorkerRecord, old: int) -> None:
        if record.state == ONLINE:
            return
        for session in list(self.sessions.values()):
            if session.worker_id == record.worker_id and not session.done:
                self._finish(session, "failed", f"worker {record.worker_id} went away")
