"""The master's parts and the wiring between them.

Reading order for one comment: gateway.py (frame arrives) -> frames.py
-> ingest.py (stored, acked, published) -> events.py -> control/live.py.

Every long-lived task runs under hiscrm_common.supervise: a failure is
logged with its traceback, counted (GetStats.task_failures, the metrics),
and the task restarted with backoff; `problems()` is what an operator must
look at now, and what turns health NOT_SERVING (master/watchdog.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from hiscrm.v1 import gateway_pb2
from hiscrm_common import fleet_size, settings
from hiscrm_common.supervise import Failures
from hiscrm_common.supervise import start as supervised
from hiscrm_common.timeutil import utcnow
from master.accounts import AccountStore
from master.audit import AuditLog
from master.config import MasterConfig
from master.conversation_actions import ConversationActions
from master.conversations import Conversations
from master.counters import Counters
from master.enrollment import Enrollment
from master.events import EventBus
from master.frames import FrameRouter
from master.host_store import HostStore
from master.hosts import HostRegistry
from master.inbox import Inbox
from master.ingest import Ingest
from master.logins import Logins
from master.notify.service import Notifications
from master.processes import Processes
from master.read_state import ReadMarks
from master.registry import Connection, WorkerRecord, WorkerRegistry
from master.replies import Replies
from master.reports import Reports
from master.rules import Rules
from master.saved_replies import SavedReplies
from master.scheduler import Scheduler
from master.sessions import SessionRefreshes
from master.store.database import Database
from master.tokens import CredentialStore
from master.unread import UnreadEvents
from master.workspace import Workspace

log = logging.getLogger(__name__)


class MasterApp:
    # the workspace's parts (issue 15), set by master/workspace.py
    conversations: Conversations
    read_marks: ReadMarks
    conversation_actions: ConversationActions
    saved_replies: SavedReplies
    rules: Rules
    reports: Reports
    notifications: Notifications

    def __init__(self, config: MasterConfig, db: Database) -> None:
        self.config = config
        self.db = db
        self.bus = EventBus()
        self.credentials = CredentialStore(db)
        self.audit = AuditLog(db)
        self.counters = Counters()
        self.failures = Failures()
        self.registry = WorkerRegistry(config, db, self.bus)
        self.enrollment = Enrollment(self.credentials, self.registry)
        self.accounts = AccountStore(db, self.bus)
        self.scheduler = Scheduler(db, self.accounts, self.registry, self.bus)
        self.hosts = HostRegistry(config, self.registry)
        self.scheduler.hosts = self.hosts
        self.hosts.on_change.append(self.scheduler.poke)
        self.host_store = HostStore(db, self.hosts)
        self.inbox = Inbox(db)
        self.accounts.unread = self.inbox.unread_total
        self.accounts.monitor_page = self.registry.monitor_page
        self.unread_events = UnreadEvents(self.bus, self.inbox, lambda a: a in self.accounts.rows)
        self.ingest = Ingest(
            db, self.accounts, self.bus, self.counters, self.inbox, self.unread_events
        )
        self.sessions = SessionRefreshes(self.accounts, self.counters)
        self.logins = Logins(self.accounts, self.registry, self.scheduler, self.bus, self.counters)
        self.replies = Replies(db, self.accounts, self.registry, self.bus)
        self.replies.audit = self.audit
        self.workspace = Workspace(self)
        self.processes = Processes()
        self.frames = FrameRouter(self, self.failures)
        self.started_at = utcnow()
        self.stopping = False  # the gRPC server is closing its streams
        self._tasks: list[asyncio.Task[object]] = []

    async def start(self) -> None:
        self.enrollment.load()  # the credentials are loaded by now
        await self.registry.load()
        await self.host_store.load()  # after the workers: seeding touches none of them
        await self.accounts.load()
        await self.inbox.load()
        await self.replies.load()
        await self.workspace.load()
        tasks = {
            "maintenance": self.registry.run_maintenance,
            "scheduler": self.scheduler.run,
            "ingest": self.ingest.run,
            "replies": self.replies.run,
            "unread-events": self.unread_events.run,
            **self.workspace.tasks(),
            "hosts": self.hosts.run,
            "host-writes": self.host_store.run,
            "credential-usage": self.credentials.run_usage,
        }
        self._tasks = [
            supervised(name, run, failures=self.failures, context="master")
            for name, run in tasks.items()
        ]
        # One-shot, not long-lived: it logs its own outcome (and never raises).
        self._tasks.append(asyncio.create_task(self.processes.restore_worker_count()))
        self.scheduler.poke()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.registry.flush()
        if not await self.host_store.flush():  # logged there; the stop goes on
            log.warning("hosts' last state not written at stop")
        try:
            await self.credentials.flush_usage()
        except Exception as exc:  # a dead database must not stop the stop
            log.warning("credentials' last use not written at stop: %s", exc)

    def remember_worker_count(self, count: int) -> None:
        """So that `hiscrm up` and the next master start bring back this size."""
        fleet_size.remember_workers(settings.home(), count)

    def pending_config_acks(self) -> int:
        return self.scheduler.pending_acks()

    async def on_worker_connected(
        self, record: WorkerRecord, conn: Connection, reg: gateway_pb2.Register
    ) -> None:
        await self.scheduler.on_worker_connected(record, list(reg.held_accounts))

    def problems(self) -> list[str]:
        """What an operator must look at now (GetStats.problems); the first
        kind (a task in a crash loop, the database failing) means the master
        cannot do its job: health NOT_SERVING."""
        return self.fatal_problems() + self.registry.delivery_problems() + self.hosts.problems()

    def fatal_problems(self) -> list[str]:
        found = self.failures.crash_looping()
        now = time.monotonic()
        for writes in (
            self.ingest.writes,
            self.scheduler.writes,
            self.registry.writes,
            self.host_store.writes,
        ):
            problem = writes.problem(now)
            if problem:
                found.append(problem)
        return found
