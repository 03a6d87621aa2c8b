"""An account's BrowserContext in the pool, and the user-agent override
each of its pages gets before it loads anything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from worker.browser.fingerprint import Fingerprint
from worker.browser.proxy_check import ProxyHealth, ProxySpec

log = logging.getLogger(__name__)


@dataclass(eq=False)
class AccountContext:
    """An account's BrowserContext and what it was built from."""

    account_id: str
    seed: str
    context: BrowserContext
    fingerprint: Fingerprint
    proxy: ProxySpec | None
    generation: int
    # What Chromium was pointed at: the proxy itself, or its local relay.
    route: ProxySpec | None = None
    created_at: float = field(default_factory=time.time)
    proxy_health: ProxyHealth | None = None
    closed: bool = False
    # Emulation.setUserAgentOverride parameters every page gets before it
    # loads anything (the headless shell's brand list names "HeadlessChrome").
    ua_override: dict[str, Any] | None = None
    _ua_applied: weakref.WeakKeyDictionary[Page, asyncio.Task[None]] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False
    )

    @property
    def alive(self) -> bool:
        """False once closed, or once the browser it lived in is gone."""
        return not self.closed

    async def new_page(self) -> Page:
        page = await self.context.new_page()
        if self.ua_override is None:
            return page
        try:
            await self._fit(page)
        except BaseException:
            with contextlib.suppress(PlaywrightError):
                await page.close()
            raise
        return page

    def _fit(self, page: Page) -> asyncio.Task[None]:
        """The (one) task that gives `page` the context's user-agent override.

        Playwright's "page" event and new_page() both ask for it; new_page()
        waits for it, so its caller's first request already carries it. Pages
        the site opens itself (popups) get it a moment after they start."""
        task = self._ua_applied.get(page)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._override(page))
            self._ua_applied[page] = task
        return task

    async def _override(self, page: Page) -> None:
        if self.ua_override is None:
            return
        # The override lives as long as this DevTools session: it stays
        # attached until the page closes.
        session = await self.context.new_cdp_session(page)
        await session.send("Emulation.setUserAgentOverride", self.ua_override)

    def _on_page(self, page: Page) -> None:
        task = self._fit(page)
        task.add_done_callback(self._log_failed_override)

    def _log_failed_override(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.warning(
                "account %s: a page got no user-agent override: %s",
                self.account_id,
                task.exception(),
            )
