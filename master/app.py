"""The master's parts and the wiring between them.

Reading order for one comment: gateway.py (frame arrives) -> app.dispatch
-> ingest.py (stored, acked, published) -> events.py -> control/live.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from hiscrm.v1 import gateway_pb2
from hiscrm_common import settings
from hiscrm_common.timeutil import utcnow
from master.accounts import AccountStore
from master.audit import AuditLog
from master.config import MasterConfig
from master.counters import Counters
from master.enrollment import Enrollment
from master.events import EventBus
from master.inbox import Inbox
from master.ingest import Ingest
from master.logins import Logins
from master.processes import Processes
from master.registry import Connection, WorkerRecord, WorkerRegistry
from master.replies import Replies
from master.scheduler import Scheduler
from master.sessions import SessionRefreshes
from master.store.database import Database
from master.tokens import CredentialStore
from master.unread import UnreadEvents

log = logging.getLogger(__name__)


class MasterApp:
    def __init__(self, config: MasterConfig, db: Database) -> None:
        self.config = config
        self.db = db
        self.bus = EventBus()
        self.credentials = CredentialStore(db)
        self.audit = AuditLog(db)
        self.counters = Counters()
        self.registry = WorkerRegistry(config, db, self.bus)
        self.enrollment = Enrollment(self.credentials, self.registry)
        self.accounts = AccountStore(db, self.bus)
        self.scheduler = Scheduler(db, self.accounts, self.registry, self.bus)
        self.inbox = Inbox(db)
        self.accounts.unread = self.inbox.unread_total
        self.unread_events = UnreadEvents(self.bus, self.inbox, lambda a: a in self.accounts.rows)
        self.ingest = Ingest(
            db, self.accounts, self.bus, self.counters, self.inbox, self.unread_events
        )
        self.sessions = SessionRefreshes(self.accounts, self.counters)
        self.logins = Logins(self.accounts, self.registry, self.scheduler, self.bus, self.counters)
        self.replies = Replies(db, self.accounts, self.registry, self.bus)
        self.replies.audit = self.audit
        self.processes = Processes()
        self.started_at = utcnow()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.registry.load()
        await self.accounts.load()
        await self.inbox.load()
        await self.replies.load()
        self._tasks = [
            asyncio.create_task(self.registry.run_maintenance()),
            asyncio.create_task(self.scheduler.run()),
            asyncio.create_task(self.ingest.run()),
            asyncio.create_task(self.replies.run()),
            asyncio.create_task(self.unread_events.run()),
        ]
        self.scheduler.poke()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.registry.flush()

    def remember_worker_count(self, count: int) -> None:
        """So that `hiscrm up` brings back the fleet size an operator chose."""
        path = settings.home() / "fleet.json"
        path.write_text(json.dumps({"workers": count}))

    def pending_config_acks(self) -> int:
        return self.scheduler.pending_acks()

    async def on_worker_connected(
        self, record: WorkerRecord, conn: Connection, reg: gateway_pb2.Register
    ) -> None:
        await self.scheduler.on_worker_connected(record, list(reg.held_accounts))

    async def dispatch(
        self, record: WorkerRecord, conn: Connection, frame: gateway_pb2.WorkerFrame
    ) -> None:
        kind = frame.WhichOneof("frame")
        if kind == "items":
            await self.ingest.submit(record, conn, frame.items)
        elif kind == "config_ack":
            self.scheduler.on_config_ack(record, frame.config_ack)
        elif kind == "command_result":
            await self.replies.on_result(record, frame.command_result)
        elif kind == "login":
            await self.logins.on_event(record, frame.login)
        elif kind == "session_refresh":
            await self.sessions.on_refresh(record, frame.session_refresh)
        elif kind == "account_state":
            if not await self.accounts.apply_state(record.worker_id, frame.account_state):
                log.warning(
                    "worker %s reported state for account %s, which it does not hold",
                    record.worker_id,
                    frame.account_state.account_id,
                )
        else:
            log.error(
                "worker %s sent %s, which this master does not handle yet", record.worker_id, kind
            )
            self.counters.frames_rejected += 1
