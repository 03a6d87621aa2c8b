"""Long-lived tasks that never end silently (invariant 7).

`supervise(name, factory)` runs `factory()` forever: an unexpected exception
is logged with its traceback, counted under the task's name, and the task is
started again after a backoff; a task that *returns* is just as unexpected
and is treated the same way. The counts and the last error are what GetStats,
the metrics endpoint and the heartbeats show, and `Failures.crash_looping()`
is what turns health NOT_SERVING: a task that keeps failing means the process
can no longer do that task's job.

A task for which a restart cannot help (`fatal=True`) ends the process after
logging, so that supervisord starts a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hiscrm_common.backoff import Backoff

log = logging.getLogger(__name__)

# A task that ran this long before failing gets its backoff reset: it was
# healthy, and the next failure is a new incident, not the same one again.
STEADY_AFTER_S = 60.0
# This many failures within CRASH_WINDOW_S is a crash loop: the process is
# not doing the task's job (health NOT_SERVING) until it runs steadily again.
CRASH_LOOP_FAILURES = 3
CRASH_WINDOW_S = 60.0
FATAL_EXIT_CODE = 70  # EX_SOFTWARE


@dataclass
class TaskHealth:
    failures: int = 0
    last_error: str = ""
    last_failed_at: float = 0.0  # monotonic
    recent: list[float] = field(default_factory=list)  # monotonic failure times
    running_since: float = 0.0


class Failures:
    """Per-task failure counts of one process."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskHealth] = {}

    def health(self, name: str) -> TaskHealth:
        return self.tasks.setdefault(name, TaskHealth())

    def started(self, name: str) -> None:
        self.health(name).running_since = time.monotonic()

    def record(self, name: str, error: str) -> TaskHealth:
        h = self.health(name)
        now = time.monotonic()
        h.failures += 1
        h.last_error = error
        h.last_failed_at = now
        h.recent = [t for t in h.recent if now - t < CRASH_WINDOW_S] + [now]
        h.running_since = 0.0
        return h

    def counts(self) -> dict[str, int]:
        return {name: h.failures for name, h in sorted(self.tasks.items())}

    def total(self) -> int:
        return sum(h.failures for h in self.tasks.values())

    def crash_looping(self) -> list[str]:
        """Tasks that failed CRASH_LOOP_FAILURES times in the last window and
        have not run steadily since: what the operator must look at."""
        now = time.monotonic()
        out = []
        for name, h in sorted(self.tasks.items()):
            recent = [t for t in h.recent if now - t < CRASH_WINDOW_S]
            steady = h.running_since and now - h.running_since >= STEADY_AFTER_S
            if len(recent) >= CRASH_LOOP_FAILURES and not steady:
                out.append(f"task {name} failed {len(recent)} times in a minute: {h.last_error}")
        return out


FAILURES = Failures()  # the process's own; tests make their own


def _exit_now(code: int) -> None:  # pragma: no cover - ends the process
    logging.shutdown()
    os._exit(code)


async def supervise(
    name: str,
    factory: Callable[[], Awaitable[object]],
    *,
    failures: Failures | None = None,
    backoff: Backoff | None = None,
    fatal: bool = False,
    context: str = "",
    exit_process: Callable[[int], None] = _exit_now,
) -> None:
    """Run factory() until cancelled, restarting it after any failure.

    context goes in front of every log line (e.g. "worker w-1") so that the
    line names whose task failed."""
    failures = failures or FAILURES
    backoff = backoff or Backoff(base=0.2, cap=10.0)
    prefix = f"{context}: " if context else ""
    while True:
        failures.started(name)
        began = time.monotonic()
        try:
            await factory()
            error = "returned, but it must run until cancelled"
            log.error("%stask %s %s", prefix, name, error)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("%stask %s failed: %s", prefix, name, error)
        h = failures.record(name, error)
        if fatal:
            log.critical(
                "%stask %s cannot be restarted in this process; exiting (code %d) so that "
                "supervisord starts a fresh one",
                prefix,
                name,
                FATAL_EXIT_CODE,
            )
            exit_process(FATAL_EXIT_CODE)
            return
        if time.monotonic() - began >= STEADY_AFTER_S:
            backoff.reset()
        delay = backoff.next_delay()
        log.warning(
            "%stask %s restarting in %.1fs (failure %d since start)",
            prefix,
            name,
            delay,
            h.failures,
        )
        await asyncio.sleep(delay)


def start(
    name: str,
    factory: Callable[[], Awaitable[object]],
    **kwargs: Any,  # supervise()'s keyword arguments
) -> asyncio.Task[None]:
    """asyncio.create_task(supervise(...)), named after the task."""
    return asyncio.create_task(supervise(name, factory, **kwargs), name=name)
