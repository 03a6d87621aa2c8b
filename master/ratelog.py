"""Log lines that a client can provoke at will, at most once per interval
per key, with a count of what was held back, so a flood of refused calls
cannot fill the disk or drown everything else."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

MAX_KEYS = 10_000


@dataclass
class _Slot:
    last: float
    suppressed: int = 0


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._slots: dict[str, _Slot] = {}

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        slot = self._slots.get(key)
        if slot is not None and now - slot.last < self.interval_s:
            slot.suppressed += 1
            return
        if len(self._slots) >= MAX_KEYS:
            self._slots.clear()  # bounded: a flood from many keys costs a few repeats
        held = slot.suppressed if slot else 0
        self._slots[key] = _Slot(now)
        suffix = f" (and {held} more like it in the last {self.interval_s:.0f}s)" if held else ""
        self.logger.warning(message + suffix, *args)
