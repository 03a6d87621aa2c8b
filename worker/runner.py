"""Runs the accounts the master assigns (filled in by the delivery work)."""

from __future__ import annotations

import logging

from hiscrm.v1 import gateway_pb2
from worker.config import WorkerConfig
from worker.link import Link

log = logging.getLogger(__name__)


class Runner:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.link: Link | None = None

    def attach(self, link: Link) -> None:
        self.link = link

    def held_accounts(self) -> list[gateway_pb2.HeldAccount]:
        return []

    def account_statuses(self) -> list[gateway_pb2.AccountStatus]:
        return []

    def outbox_pending(self) -> int:
        return 0

    async def on_connected(self, link: Link, welcome: gateway_pb2.Welcome) -> None:
        pass

    async def on_frame(self, frame: gateway_pb2.MasterFrame) -> None:
        log.info("worker %s: %s", self.config.worker_id, frame.WhichOneof("frame"))

    async def on_disconnected(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def close(self) -> None:
        pass
