"""Background traffic: seeded random comments and DMs for every user."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

from aiohttp import web

from demosite import seed as content
from demosite.state import DemoState

log = logging.getLogger(__name__)

MAX_PER_MINUTE = 6000.0


class TrafficGenerator:
    """While on, each selected user gets `per_minute` new items a minute.

    A fraction `dm_ratio` of them are DMs, the rest comments. Choices come from
    a generator seeded from the site seed, so runs repeat.
    """

    def __init__(self, state: DemoState) -> None:
        self._state = state
        self._rng = random.Random(state.seed * 7919 + 17)
        self._task: asyncio.Task[None] | None = None
        self.per_minute = 0.0
        self.dm_ratio = 0.5
        self.usernames: list[str] = []
        self.injected = 0

    @property
    def on(self) -> bool:
        return self._task is not None and not self._task.done()

    def status(self) -> dict[str, Any]:
        return {
            "on": self.on,
            "per_minute": self.per_minute,
            "dm_ratio": self.dm_ratio,
            "usernames": self.usernames,
            "injected": self.injected,
        }

    async def configure(
        self,
        on: bool,
        per_minute: float = 30.0,
        dm_ratio: float = 0.5,
        usernames: list[str] | None = None,
    ) -> None:
        await self.stop()
        if not on:
            return
        if not 0 < per_minute <= MAX_PER_MINUTE:
            raise ValueError(f"per_minute must be in (0, {MAX_PER_MINUTE:g}]")
        if not 0.0 <= dm_ratio <= 1.0:
            raise ValueError("dm_ratio must be in [0, 1]")
        for name in usernames or []:
            self._state.user(name)
        self.per_minute = per_minute
        self.dm_ratio = dm_ratio
        self.usernames = list(usernames or [])
        self._task = asyncio.create_task(self._run(), name="demosite-traffic")
        log.info("traffic on: %g/min per user, dm_ratio %.2f", per_minute, dm_ratio)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        # A failed run was logged by _run itself.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._task = None
        log.info("traffic off after %d items", self.injected)

    def tick(self) -> None:
        """One item for every selected user."""
        names = self.usernames or sorted(self._state.users)
        for name in names:
            user = self._state.users.get(name)
            if user is None:
                continue
            if self._rng.random() < self.dm_ratio:
                self._state.add_message(
                    user,
                    self._rng.choice(content.MESSAGE_TEXTS),
                    from_name=self._rng.choice(content.NICKNAMES),
                )
            else:
                post = self._rng.choice(user.posts)
                self._state.add_comment(
                    user,
                    self._rng.choice(content.COMMENT_TEXTS),
                    post_id=post.post_id,
                    author_name=self._rng.choice(content.NICKNAMES),
                )
            self.injected += 1

    async def _run(self) -> None:
        period = 60.0 / self.per_minute
        loop = asyncio.get_running_loop()
        next_at = loop.time() + period
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += period
            try:
                self.tick()
            except Exception:
                log.exception("traffic tick failed; traffic stops")
                raise


TRAFFIC_KEY = web.AppKey("demosite_traffic", TrafficGenerator)
