"""The master's settings, from the environment (HISCRM_*)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hiscrm_common import settings


@dataclass(frozen=True)
class MasterConfig:
    listen: str
    heartbeat_interval_ms: int
    missing_after_beats: float
    offline_after_ms: int
    max_message_bytes: int
    max_batch_bytes: int
    max_batch_items: int
    metrics_listen: str

    @property
    def missing_after_s(self) -> float:
        return self.heartbeat_interval_ms * self.missing_after_beats / 1000

    @property
    def offline_after_s(self) -> float:
        return self.offline_after_ms / 1000

    @classmethod
    def from_env(cls, listen: str | None = None) -> MasterConfig:
        heartbeat = settings.env_int("HISCRM_HEARTBEAT_MS", 2000)
        if heartbeat < 100:
            raise SystemExit("HISCRM_HEARTBEAT_MS must be at least 100")
        max_message = settings.env_int(
            "HISCRM_MAX_MESSAGE_BYTES", settings.DEFAULT_MAX_MESSAGE_BYTES
        )
        batch_bytes = settings.env_int(
            "HISCRM_MAX_BATCH_BYTES", min(settings.DEFAULT_MAX_BATCH_BYTES, max_message // 2)
        )
        return cls(
            listen=listen or os.environ.get("HISCRM_LISTEN", settings.DEFAULT_MASTER_ADDRESS),
            heartbeat_interval_ms=heartbeat,
            # 2.5: a frozen worker's accounts move about 1.5 s sooner than
            # with 3, while one heartbeat late by a whole interval is still fine
            missing_after_beats=settings.env_float("HISCRM_MISSING_AFTER_BEATS", 2.5),
            offline_after_ms=settings.env_int("HISCRM_OFFLINE_AFTER_MS", heartbeat * 10),
            max_message_bytes=max_message,
            max_batch_bytes=batch_bytes,
            max_batch_items=settings.env_int(
                "HISCRM_MAX_BATCH_ITEMS", settings.DEFAULT_MAX_BATCH_ITEMS
            ),
            metrics_listen=os.environ.get("HISCRM_METRICS_LISTEN", "127.0.0.1:9464"),
        )
