"""One Chromium per worker, one isolated BrowserContext per account.

    pool = BrowserPool(worker_id, data_dir)
    actx = await pool.context(account_id, seed, proxy, storage_state)
    page = await actx.new_page()
    ...
    await pool.close_context(account_id)   # on Revoke
    await pool.close()                     # on shutdown

Every context gets the account's deterministic fingerprint (fingerprint.py)
and its own proxy. When Chromium crashes or is killed, every context dies
with it: the pool marks them closed (`AccountContext.alive` turns False),
bumps `generation`, sets `browser_lost`, and the next `context()` call
relaunches Chromium and builds a fresh context, so callers recreate theirs
from the last saved storage state. The loss is noticed twice over: Playwright's
"disconnected" event (its pipe to Chromium closed) and the browser process's
own exit (a pidfd), whichever comes first.

Which Chromium: see chromium_executable(). The headless shell is preferred
for memory; headless_shell.py covers what it would give away to a page.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

import psutil
from playwright.async_api import Browser, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from hiscrm.v1 import common_pb2
from hiscrm_common import settings
from worker.browser import sandbox
from worker.browser.account_context import AccountContext
from worker.browser.fingerprint import DEFAULT_CHROME_MAJOR, Fingerprint
from worker.browser.headless_shell import PARITY_JS, is_headless_shell, user_agent_override
from worker.browser.processes import (
    executable_of,
    find_browser_pid,
    process_group,
    process_tree,
    reap_group,
    unwrap_launcher,
    wait_exit,
)
from worker.browser.proxy_check import (
    DEFAULT_CHECK_URL,
    ProxyHealth,
    ProxySpec,
    check_proxy,
    parse_proxy,
)
from worker.browser.relay_registry import ProxyRelays, RelayUnavailable
from worker.browser.resource_policy import ResourcePolicy, install_policy
from worker.browser.storage import account_dir_name
from worker.platforms.errors import PlatformError, ProxyFailed

log = logging.getLogger(__name__)

DEBIAN_HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
# Tried in this order when HISCRM_CHROMIUM is not set.
DEFAULT_EXECUTABLES = (DEBIAN_HEADLESS_SHELL, DEBIAN_CHROMIUM)
# --no-sandbox only where the sandbox cannot run (worker/browser/sandbox.py)
CHROMIUM_ARGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
# Switches that only make each account's processes smaller (see
# docs/performance.md, "what changed memory"); bench/chromium_flags.py
# measures them against the pool without them.
MEMORY_ARGS: tuple[str, ...] = ()
SCREENSHOTS_KEPT = 5
# After the browser process exits, how long Playwright's own "disconnected"
# event gets before the pool declares the loss itself (a launcher script that
# outlives Chromium keeps the pipe open, and Playwright never hears of it).
PIPE_GRACE_S = 1.0
# How long Chromium gets to close before its processes are killed.
CLOSE_TIMEOUT_S = 15.0


class BrowserUnavailable(PlatformError):
    """Chromium cannot be launched (missing binary, crash at start)."""

    kind = common_pb2.ERROR_KIND_INTERNAL


def chromium_executable() -> str | None:
    """$HISCRM_CHROMIUM, else Debian's headless shell, else Debian's Chromium,
    else None (Playwright's own build, from `playwright install chromium`).

    The headless shell (package chromium-headless-shell) has no browser UI:
    one renderer per account context where the full Chromium in headless mode
    runs two, about 40 % less memory per account (bench/memory.py). A headed
    browser is never needed."""
    override = (settings.get().chromium or "").strip()
    if override:
        if not os.access(override, os.X_OK):
            raise BrowserUnavailable(f"HISCRM_CHROMIUM={override} is not an executable file")
        return override
    return next((path for path in DEFAULT_EXECUTABLES if os.access(path, os.X_OK)), None)


class BrowserPool:
    def __init__(
        self,
        worker_id: str,
        data_dir: Path,
        *,
        executable: str | None = None,
        headless: bool = True,
        extra_args: tuple[str, ...] = (),
        launch_timeout: float = 30.0,
        screenshots_kept: int = SCREENSHOTS_KEPT,
    ) -> None:
        self.worker_id = worker_id
        self.data_dir = Path(data_dir)
        self.executable = executable if executable is not None else chromium_executable()
        # What Playwright runs: the binary itself when `executable` is only a
        # pass-through launcher script (processes.unwrap_launcher says why).
        self.launch_path = unwrap_launcher(self.executable) if self.executable else None
        self.headless = headless
        self.extra_args = extra_args
        self.launch_timeout = launch_timeout
        self.screenshots_kept = screenshots_kept
        # Bumped at every launch; a context from an older generation is dead.
        self.generation = 0
        self.crashes = 0
        # Set when Chromium went away on its own; cleared by the relaunch.
        self.browser_lost = asyncio.Event()
        self.browser_pid: int | None = None
        # The process group Playwright launched it in: the browser's pid, or a
        # launcher script's when one sits above the browser.
        self.browser_pgid: int | None = None
        self.chrome_major = DEFAULT_CHROME_MAJOR
        self.chrome_version = ""
        self.headless_shell = False
        # An inert switch on Chromium's command line, to find its pid.
        self._marker = f"--hiscrm-pool={secrets.token_hex(6)}"
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._contexts: dict[str, AccountContext] = {}
        self._account_locks: dict[str, asyncio.Lock] = {}
        # Logins running per account: their contexts block nothing (the QR
        # is an image); resource_policy.py blocks the rest for monitoring. A
        # count, as a new login may start before the one it replaces ended.
        self.logins: collections.Counter[str] = collections.Counter()
        self.policies: dict[str, ResourcePolicy] = {}
        self._launch_lock = asyncio.Lock()
        self._closing = False
        self._dead_groups: set[int] = set()
        self._watcher: asyncio.Task[None] | None = None
        # Local relays for the proxies Chromium cannot use itself (socks5, https).
        self.relays = ProxyRelays(worker_id)
        self._sandbox: sandbox.SandboxPlan | None = None

    # ------------------------------------------------------------ browser

    @property
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def start(self) -> None:
        """Launch Chromium now rather than at the first context()."""
        await self._ensure_browser()

    async def _ensure_browser(self) -> Browser:
        if self._closing:
            raise BrowserUnavailable(f"worker {self.worker_id}: the browser pool is closed")
        async with self._launch_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            await asyncio.to_thread(self._reap_dead_groups)
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            try:
                browser = await self._launch(self._playwright)
            except PlaywrightError as exc:
                # The driver itself may be gone; start a new one and try once more.
                log.warning("worker %s: Chromium launch failed (%s); retrying", self.worker_id, exc)
                with contextlib.suppress(Exception):
                    await self._playwright.stop()
                self._playwright = await async_playwright().start()
                try:
                    browser = await self._launch(self._playwright)
                except PlaywrightError as exc2:
                    raise BrowserUnavailable(
                        f"worker {self.worker_id}: cannot launch Chromium "
                        f"({self.executable or 'playwright build'}): {exc2}"
                    ) from exc2
            self._browser = browser
            self.generation += 1
            self.chrome_version = browser.version
            self.chrome_major = int(browser.version.split(".", 1)[0])
            self.browser_pid = await asyncio.to_thread(find_browser_pid, self._marker)
            self.browser_pgid = None
            binary = self.launch_path
            if self.browser_pid is not None:
                self.browser_pgid = process_group(self.browser_pid)
                binary = executable_of(self.browser_pid) or binary
                self._watcher = asyncio.get_running_loop().create_task(
                    self._watch(browser, self.browser_pid)
                )
            else:
                log.warning(
                    "worker %s: Chromium's process not found; only Playwright's "
                    "disconnected event will tell if it dies",
                    self.worker_id,
                )
            # Playwright's own build runs its headless shell when headless.
            self.headless_shell = is_headless_shell(binary) or (binary is None and self.headless)
            browser.on("disconnected", self._on_disconnected)
            self.browser_lost.clear()
            log.info(
                "worker %s: Chromium %s launched (pid %s, generation %d, %s%s)",
                self.worker_id,
                browser.version,
                self.browser_pid,
                self.generation,
                binary or "playwright build",
                ", headless shell" if self.headless_shell else "",
            )
            return browser

    async def _launch(self, playwright: Playwright) -> Browser:
        if self._sandbox is None:
            self._sandbox = await asyncio.to_thread(sandbox.plan, self.launch_path, self.data_dir)
        sandbox.announce(self._sandbox, self.worker_id)
        return await playwright.chromium.launch(
            executable_path=self._sandbox.executable,
            headless=self.headless,
            args=[
                *CHROMIUM_ARGS,
                *MEMORY_ARGS,
                *self._sandbox.args(),
                *self.extra_args,
                self._marker,
            ],
            env={**self._sandbox.env()},  # a copy: Playwright types env as str | float | bool
            chromium_sandbox=self._sandbox.sandboxed,
            timeout=self.launch_timeout * 1000,
            handle_sigint=False,
            handle_sigterm=False,
            handle_sighup=False,
        )

    async def _watch(self, browser: Browser, pid: int) -> None:
        """Declare the browser lost when its process exits, should Playwright not."""
        try:
            await wait_exit(pid)
        except OSError as exc:
            log.warning("worker %s: cannot watch Chromium's process: %s", self.worker_id, exc)
            return
        if browser is self._browser:
            await asyncio.sleep(PIPE_GRACE_S)
        if browser is not self._browser or self._closing:
            return  # Playwright saw it first, or the pool is closing it
        log.error(
            "worker %s: Chromium (pid %s) exited but Playwright's pipe to it is still open",
            self.worker_id,
            pid,
        )
        self._on_disconnected(browser)
        # Whatever still holds the pipe (a launcher script) goes now, so
        # Playwright lets go of the browser too.
        await asyncio.to_thread(self._reap_dead_groups)

    def _on_disconnected(self, browser: Browser) -> None:
        if browser is not self._browser:
            return
        self._browser = None
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
        lost = list(self._contexts.values())
        for actx in lost:
            actx.closed = True
        self._contexts.clear()
        self.policies.clear()
        if self.browser_pgid is not None:
            self._dead_groups.add(self.browser_pgid)
        if self._closing:
            return
        # Orphaned children normally exit by themselves; whatever has not, goes.
        asyncio.get_running_loop().call_later(2.0, self._reap_dead_groups)
        self.crashes += 1
        self.browser_lost.set()
        log.error(
            "worker %s: Chromium (pid %s, generation %d) disconnected; %d account contexts "
            "lost (%s); relaunching at the next context()",
            self.worker_id,
            self.browser_pid,
            self.generation,
            len(lost),
            ", ".join(a.account_id for a in lost) or "none",
        )
        for actx in lost:
            log.warning(
                "account %s on worker %s: context lost with the browser",
                actx.account_id,
                self.worker_id,
            )

    def _reap_dead_groups(self) -> None:
        """Kill what is left of dead Chromiums (orphaned children of a crash)."""
        for pgid in list(self._dead_groups):
            self._dead_groups.discard(pgid)
            killed = reap_group(pgid)
            if killed:
                log.warning(
                    "worker %s: killed %d leftover Chromium processes of group %d",
                    self.worker_id,
                    killed,
                    pgid,
                )

    def processes(self) -> list[psutil.Process]:
        """Chromium's main process and all its children (for memory accounting)."""
        if self.browser_pid is None or not self.connected:
            return []
        return process_tree(self.browser_pid)

    # ------------------------------------------------------------ contexts

    def get(self, account_id: str) -> AccountContext | None:
        actx = self._contexts.get(account_id)
        return actx if actx is not None and actx.alive else None

    @property
    def accounts(self) -> list[str]:
        return sorted(self._contexts)

    async def context(
        self,
        account_id: str,
        seed: str = "",
        proxy: str = "",
        storage_state: dict[str, Any] | None = None,
        *,
        replace: bool = False,
    ) -> AccountContext:
        """The account's live context, built (or rebuilt) when needed.

        An existing live context with the same seed and proxy is returned as
        is (storage_state is used only when building). A changed proxy or
        seed, replace=True, or a context lost with a crashed browser gives a
        new context; Chromium is relaunched first when it is gone.
        """
        seed = seed or account_id
        try:
            spec = parse_proxy(proxy)
        except ValueError as exc:  # the message never contains the password
            raise ProxyFailed(f"account {account_id}: bad proxy setting: {exc}") from None
        lock = self._account_locks.setdefault(account_id, asyncio.Lock())
        async with lock:
            current = self._contexts.get(account_id)
            if current is not None and current.alive and not replace:
                if current.seed == seed and current.proxy == spec:
                    try:  # a relay restarted on another port: rebuild
                        if current.route == self.relays.route(spec):
                            return current
                    except RelayUnavailable as exc:
                        raise ProxyFailed(f"account {account_id}: {exc}") from None
            if current is not None:
                await self._close(current, "rebuilt with new settings")
            for attempt in (1, 2):
                browser = await self._ensure_browser()
                try:
                    return await self._build(browser, account_id, seed, spec, storage_state)
                except PlaywrightError as exc:
                    if browser.is_connected() or attempt == 2:
                        raise
                    log.warning(
                        "account %s on worker %s: browser died while building the context "
                        "(%s); relaunching",
                        account_id,
                        self.worker_id,
                        type(exc).__name__,
                    )
            raise AssertionError("unreachable")

    async def _build(
        self,
        browser: Browser,
        account_id: str,
        seed: str,
        spec: ProxySpec | None,
        storage_state: dict[str, Any] | None,
    ) -> AccountContext:
        fingerprint = Fingerprint.from_seed(seed, chrome_major=self.chrome_major)
        options = fingerprint.context_options()
        try:
            route = await self.relays.acquire(account_id, spec)
        except RelayUnavailable as exc:
            raise ProxyFailed(f"account {account_id}: {exc}") from None
        if route is not None:
            options["proxy"] = route.playwright()
        if storage_state:
            options["storage_state"] = storage_state
        context = await browser.new_context(**options)
        try:
            engine_js = PARITY_JS if self.headless_shell else ""
            await context.add_init_script(fingerprint.init_script(engine_js))
            policy = await install_policy(context, account_id, lambda: self.logins[account_id] > 0)
        except BaseException:
            with contextlib.suppress(Exception):
                await context.close()
            raise
        actx = AccountContext(
            account_id=account_id,
            seed=seed,
            context=context,
            fingerprint=fingerprint,
            proxy=spec,
            route=route,
            generation=self.generation,
        )
        if self.headless_shell:
            actx.ua_override = user_agent_override(fingerprint, self.chrome_version)
            context.on("page", actx._on_page)
        self._contexts[account_id] = actx
        if policy is not None:
            self.policies[account_id] = policy
        log.info(
            "account %s on worker %s: context created (generation %d, %s, %dx%d, proxy %s, %s)",
            account_id,
            self.worker_id,
            self.generation,
            fingerprint.platform,
            fingerprint.viewport_width,
            fingerprint.viewport_height,
            _shown(spec, route),
            "with saved session" if storage_state else "no session",
        )
        return actx

    async def _close(self, actx: AccountContext, reason: str) -> None:
        if self._contexts.get(actx.account_id) is actx:
            del self._contexts[actx.account_id]
            self.policies.pop(actx.account_id, None)
        if actx.closed:
            return
        actx.closed = True
        try:
            await actx.context.close()
        except PlaywrightError:
            pass  # the browser went first; nothing left to close
        log.info(
            "account %s on worker %s: context closed (%s)", actx.account_id, self.worker_id, reason
        )

    async def close_context(self, account_id: str, reason: str = "revoked") -> None:
        lock = self._account_locks.setdefault(account_id, asyncio.Lock())
        async with lock:
            actx = self._contexts.get(account_id)
            if actx is not None:
                await self._close(actx, reason)
            await self.relays.release(account_id)
        self._account_locks.pop(account_id, None)

    # ------------------------------------------------------------ helpers

    def proxy_down(self, account_id: str) -> str:
        """Why the account's proxy relay is down right now ("" when it is not):
        a failed request then says PROXY, not NETWORK."""
        actx = self._contexts.get(account_id)
        try:
            self.relays.route(actx.proxy if actx is not None else None)
        except RelayUnavailable as exc:
            return str(exc)
        return ""

    async def check_proxy(
        self, account_id: str, url: str = DEFAULT_CHECK_URL, within: float = 10.0
    ) -> ProxyHealth:
        """Check the account's proxy through its own context; the result is kept on it."""
        actx = self.get(account_id)
        if actx is None:
            raise KeyError(f"account {account_id} has no context on worker {self.worker_id}")
        if actx.proxy is None:
            health = await check_proxy(None, url, within)
        else:
            health = await self.relays.check(actx.context, actx.proxy, url, within)
        actx.proxy_health = health
        level = logging.INFO if health.ok else logging.WARNING
        log.log(
            level,
            "account %s on worker %s: proxy %s %s in %.0f ms: %s",
            account_id,
            self.worker_id,
            actx.proxy.redacted() if actx.proxy else "none",
            "ok" if health.ok else "FAILED",
            health.latency_ms,
            health.detail,
        )
        return health

    def screenshot_dir(self, account_id: str) -> Path:
        return self.data_dir / "screenshots" / account_dir_name(account_id)

    async def screenshot(self, account_id: str, page: Page, reason: str) -> Path | None:
        """Save what the page shows (kept: the last few); None when the page is gone."""
        folder = self.screenshot_dir(account_id)
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        path = folder / f"{stamp}.png"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            actx = self.get(account_id)
            if actx is None:
                await page.screenshot(path=str(path), timeout=10_000)
            else:
                async with actx.full_size(page):  # a shrunk monitor page, in full
                    await page.screenshot(path=str(path), timeout=10_000)
        except (PlaywrightError, OSError) as exc:
            log.warning(
                "account %s on worker %s: no screenshot for %r: %s",
                account_id,
                self.worker_id,
                reason,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
            return None
        shots = sorted(folder.glob("*.png"))
        for old in shots[: max(0, len(shots) - self.screenshots_kept)]:
            old.unlink(missing_ok=True)
        log.info(
            "account %s on worker %s: screenshot (%s) %s", account_id, self.worker_id, reason, path
        )
        return path

    async def close(self) -> None:
        """Close every context, Chromium and the Playwright driver; reap leftovers."""
        if self._closing:
            return
        self._closing = True
        for actx in list(self._contexts.values()):
            await self._close(actx, "pool closing")
        await self.relays.close()
        browser, self._browser = self._browser, None
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
        if browser is not None:
            if self.browser_pgid is not None:
                self._dead_groups.add(self.browser_pgid)
            await self._close_browser(browser)
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
            self._playwright = None
        # Let orphans notice the browser is gone, then kill the stragglers.
        await asyncio.sleep(0.2)
        await asyncio.to_thread(self._reap_dead_groups)
        log.info("worker %s: browser pool closed", self.worker_id)

    async def _close_browser(self, browser: Browser) -> None:
        """Playwright's close returns once the process it launched has exited
        and let go of the pipe: a launcher script that outlives Chromium holds
        both as long as it runs. So once Chromium itself is gone (and the
        pipe's grace), the rest of its group is reaped, which ends the close."""
        pid, pgid = self.browser_pid, self.browser_pgid
        closing = asyncio.ensure_future(browser.close())
        if pid is not None and pgid is not None and pid != pgid:
            exited = asyncio.ensure_future(wait_exit(pid))
            await asyncio.wait(
                {closing, exited}, timeout=CLOSE_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
            exited.cancel()
            if exited.done() and not exited.cancelled() and exited.exception() is not None:
                log.warning("worker %s: cannot watch Chromium's process", self.worker_id)
            if not closing.done():
                await asyncio.wait({closing}, timeout=PIPE_GRACE_S)
            if not closing.done():
                await asyncio.to_thread(self._reap_dead_groups)
        try:
            await asyncio.wait_for(closing, timeout=CLOSE_TIMEOUT_S)
        except (PlaywrightError, TimeoutError) as exc:
            log.warning(
                "worker %s: Chromium (pid %s) did not close cleanly (%s); its processes are "
                "killed instead",
                self.worker_id,
                pid,
                type(exc).__name__,
            )

    async def __aenter__(self) -> BrowserPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _shown(spec: ProxySpec | None, route: ProxySpec | None) -> str:
    if spec is None:
        return "none"
    if route is None or route == spec:
        return spec.redacted()
    return f"{spec.redacted()} via relay {route.host}:{route.port}"
