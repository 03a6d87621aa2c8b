"""Process-wide counters for GetStats and the metrics endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Counters:
    items_ingested: int = 0
    duplicates: int = 0
    batches: int = 0
    acks: int = 0
    frames_rejected: int = 0
    items_refused: int = 0  # single items Nacked as never storable
    batches_refused: int = 0  # whole batches Nacked (account unknown / never held)
    calls_refused: int = 0  # unauthenticated or without the role
    calls_exhausted: int = 0  # over a concurrency bound
    logins_by_outcome: dict[str, int] = field(default_factory=dict)
