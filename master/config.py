"""The master's settings, from the settings model (HISCRM_*: environment, then file)."""

from __future__ import annotations

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
        current = settings.get()
        return cls(
            listen=listen or current.listen,
            heartbeat_interval_ms=current.heartbeat_ms,
            # 2.5 (the default): a frozen worker's accounts move about 1.5 s
            # sooner than with 3, while one heartbeat late by a whole interval
            # is still fine
            missing_after_beats=current.missing_after_beats,
            offline_after_ms=current.offline_after,
            max_message_bytes=current.max_message_bytes,
            max_batch_bytes=current.batch_bytes,
            max_batch_items=current.max_batch_items,
            metrics_listen=current.metrics_listen,
        )
