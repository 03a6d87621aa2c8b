"""The master's parts and the wiring between them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hiscrm.v1 import gateway_pb2
from hiscrm_common.timeutil import utcnow
from master.config import MasterConfig
from master.events import EventBus
from master.registry import Connection, WorkerRecord, WorkerRegistry
from master.store.database import Database

log = logging.getLogger(__name__)


@dataclass
class Counters:
    items_ingested: int = 0
    duplicates: int = 0
    batches: int = 0
    acks: int = 0
    frames_rejected: int = 0
    logins_by_outcome: dict[str, int] | None = None


class MasterApp:
    def __init__(self, config: MasterConfig, db: Database) -> None:
        self.config = config
        self.db = db
        self.bus = EventBus()
        self.registry = WorkerRegistry(config, db, self.bus)
        self.counters = Counters(logins_by_outcome={})
        self.started_at = utcnow()

    async def start(self) -> None:
        await self.registry.load()

    def pending_config_acks(self) -> int:
        return 0

    async def on_worker_connected(
        self, record: WorkerRecord, conn: Connection, reg: gateway_pb2.Register
    ) -> None:
        """Hook for assignment; the scheduler plugs in here."""

    async def dispatch(
        self, record: WorkerRecord, conn: Connection, frame: gateway_pb2.WorkerFrame
    ) -> None:
        kind = frame.WhichOneof("frame")
        log.error("worker %s sent %s, which this master does not handle", record.worker_id, kind)
        self.counters.frames_rejected += 1
