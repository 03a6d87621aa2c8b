"""An account's BrowserContext in the pool, and the user-agent override
each of its pages gets before it loads anything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import BrowserContext, CDPSession, Page
from playwright.async_api import Error as PlaywrightError

from worker.browser.fingerprint import Fingerprint
from worker.browser.page_vitals import PageVitals
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

    # The scale each shrunk page paints at (render_scale); absent: full size.
    _scales: weakref.WeakKeyDictionary[Page, float] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False
    )
    _sessions: weakref.WeakKeyDictionary[Page, CDPSession] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False
    )
    # pages whose session has the Performance domain enabled (vitals)
    _measured: weakref.WeakKeyDictionary[Page, bool] = field(
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
        session = await self._session(page)
        await session.send("Emulation.setUserAgentOverride", self.ua_override)

    async def _session(self, page: Page) -> CDPSession:
        """The page's own DevTools session, kept while the page lives: what
        it overrides lasts as long as it stays attached."""
        session = self._sessions.get(page)
        if session is None:
            session = await self.context.new_cdp_session(page)
            self._sessions[page] = session
        return session

    async def vitals(self, page: Page) -> PageVitals:
        """The page's JS heap, DOM nodes and listeners now, through its own
        DevTools session (the Performance domain is enabled there once)."""
        session = await self._session(page)
        if page not in self._measured:
            await session.send("Performance.enable")
            self._measured[page] = True
        return PageVitals.of(await session.send("Performance.getMetrics"))

    async def render_scale(self, page: Page, scale: float) -> None:
        """Paint `page` at `scale` of its size (1: full size).

        The page's layout viewport, screen, devicePixelRatio and media
        queries stay the fingerprint's: only DevTools' emulation scale
        changes, which Chromium applies as a transform of the painted output.
        A monitoring page read through fetches needs no pixels, and its
        raster tiles and compositor surface shrink with the square of the
        scale (bench/chromium_flags.py). Clicks do not: Chromium hit-tests
        input at the unscaled position, so page work with the mouse or
        keyboard runs inside full_size()."""
        if self.ua_override is not None:
            await self._fit(page)  # one session per page, the override's
        fp = self.fingerprint
        metrics: dict[str, Any] = {
            # what Playwright sets for the context's viewport, plus the scale
            "mobile": False,
            "width": fp.viewport_width,
            "height": fp.viewport_height,
            "screenWidth": fp.screen_width,
            "screenHeight": fp.screen_height,
            "deviceScaleFactor": fp.device_scale_factor,
            "screenOrientation": {"angle": 0, "type": "landscapePrimary"},
        }
        if scale != 1:
            metrics["scale"] = scale
        session = await self._session(page)
        await session.send("Emulation.setDeviceMetricsOverride", metrics)
        if scale == 1:
            self._scales.pop(page, None)
        else:
            self._scales[page] = scale

    def scale_of(self, page: Page) -> float:
        """The scale `page` paints at now (1: full size)."""
        return self._scales.get(page, 1.0)

    @contextlib.asynccontextmanager
    async def full_size(self, page: Page) -> AsyncIterator[None]:
        """Page work that clicks, types or takes a picture: the page paints at
        full size meanwhile, and shrinks again after."""
        scale = self._scales.get(page, 1.0)
        if scale == 1 or page.is_closed():
            yield
            return
        await self.render_scale(page, 1.0)
        try:
            yield
        finally:
            if not page.is_closed():
                try:
                    await self.render_scale(page, scale)
                except PlaywrightError as exc:
                    log.warning("account %s: a page stays at full size: %s", self.account_id, exc)

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
