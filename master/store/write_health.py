"""How one kind of database write is doing: failing since when, or waiting.

Ingest, the scheduler's assignment writes and the registry's worker rows
each keep one; `MasterApp.fatal_problems` reads them for GetStats.problems
and health (a write that keeps failing means the master cannot do its job).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
STALL_S = 5.0  # a write waiting this long is an outage an operator must see
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 5.0


class WriteHealth:
    def __init__(self, what: str) -> None:
        self.what = what  # e.g. "storing items", for the operator's problem line
        self.failing_since: float | None = None  # monotonic
        self.busy_since: float | None = None  # monotonic: the write under way began

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """One write: marks it under way, records a failure (and re-raises),
        and logs the recovery after failures."""
        self.busy_since = time.monotonic()
        try:
            yield
        except Exception:
            if self.failing_since is None:
                self.failing_since = time.monotonic()
            raise
        else:
            if self.failing_since is not None:
                log.warning(
                    "database: %s works again after %.0fs",
                    self.what,
                    time.monotonic() - self.failing_since,
                )
                self.failing_since = None
        finally:
            self.busy_since = None

    async def until_written(self, write: Callable[[], Awaitable[T]], detail: str) -> T:
        """Retry `write` with backoff until it succeeds; each failure is logged
        with its traceback and shows as a problem meanwhile."""
        delay = FIRST_DELAY_S
        while True:
            try:
                with self.attempt():
                    return await write()
            except Exception:
                log.exception(
                    "database: %s failed (%s); retrying in %.1fs", self.what, detail, delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)

    def problem(self, now: float) -> str | None:
        if self.failing_since is not None:
            return (
                f"database: {self.what} has failed for {now - self.failing_since:.0f}s "
                "(retrying until it works)"
            )
        if self.busy_since is not None and now - self.busy_since > STALL_S:
            return (
                f"database: {self.what} has waited for {now - self.busy_since:.0f}s "
                "(locked or unreachable?)"
            )
        return None
