"""Exponential backoff with full jitter."""

from __future__ import annotations

import random

# A worker's longest wait between attempts to reach the master; the master
# gives the workers of its last run this long (and more) to come back.
RECONNECT_CAP_S = 15.0


class Backoff:
    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None):
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        # Full jitter spreads a fleet's reconnects after a master restart.
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0
