"""A monitor cycle as separate guarded steps (comments, direct messages).

One list failing never throws away what another list delivered: each step
runs on its own, a failed step's typed error is kept with its name, and the
cycle goes on with the next step, unless the failure concerns the whole
session (logged out, captcha, blocked, proxy), when the rest would only
fail the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hiscrm.v1 import common_pb2
from worker.platforms.errors import SESSION_KINDS, PlatformError

Guard = Callable[[Callable[[], Any], str], Awaitable[Any]]
Step = Callable[[], Awaitable[list[common_pb2.Item]]]


class CycleSteps:
    def __init__(self, guard: Guard) -> None:
        self._guard = guard  # turns browser failures into typed ones, with a screenshot
        self.items: list[common_pb2.Item] = []
        self.failures: list[tuple[str, PlatformError]] = []
        self.done: set[str] = set()

    @property
    def stopped(self) -> bool:
        return any(exc.kind in SESSION_KINDS for _, exc in self.failures)

    async def run(self, name: str, work: Step) -> None:
        if self.stopped:
            return
        try:
            items: list[common_pb2.Item] = await self._guard(work, name)
        except PlatformError as exc:
            self.failures.append((name, exc))
            return
        self.items += items
        self.done.add(name)
