"""The worker's proxy relays: which account uses which, started, shared,
stopped and restarted here (the relay itself: proxy_relay.py).

- one relay per distinct upstream (scheme, host, port, user, password),
  shared by the accounts that use it; started by the first context that needs
  it (`acquire`), stopped when the last account using it goes (`release`, or
  `acquire` with another proxy);
- supervised: a relay whose listener dies (or stops answering its own probe)
  is restarted after a backoff, on the same port when it is free, so the
  contexts pointed at it keep working; meanwhile `route()` raises
  RelayUnavailable and the account shows a PROXY error with the cause;
- a drill: SIGUSR2 to the worker closes its relays as if they had died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from playwright.async_api import BrowserContext

from hiscrm_common.backoff import Backoff
from worker.browser.proxy_check import ProxyHealth, ProxySpec, check_in_context
from worker.browser.proxy_relay import ProxyRelay, RelayLimits

log = logging.getLogger(__name__)


class RelayUnavailable(Exception):
    """The account's relay is down (and being restarted); the message says why."""


class ProxyRelays:
    """The worker's relays: which account uses which, started and restarted here."""

    def __init__(self, worker_id: str, limits: RelayLimits | None = None) -> None:
        self.worker_id = worker_id
        self.limits = limits or RelayLimits()
        self._relays: dict[ProxySpec, ProxyRelay] = {}
        self._down: dict[ProxySpec, tuple[float, str]] = {}  # since, why
        self._watchers: dict[ProxySpec, asyncio.Task[None]] = {}
        self._died: dict[ProxySpec, asyncio.Event] = {}
        self._users: dict[str, ProxySpec] = {}
        self._lock = asyncio.Lock()
        self._drill_installed = False
        self.restarts = 0

    def relay(self, spec: ProxySpec) -> ProxyRelay | None:
        return self._relays.get(spec)

    def route(self, spec: ProxySpec | None) -> ProxySpec | None:
        """What Chromium should be pointed at now for `spec` (spec itself when
        it needs no relay); RelayUnavailable while its relay is down."""
        if spec is None or not spec.relayed:
            return spec
        relay = self._relays.get(spec)
        if relay is None:
            raise RelayUnavailable(f"no relay to {spec.redacted()} on worker {self.worker_id}")
        if spec in self._down or not relay.alive:
            since, why = self._down.get(spec, (time.monotonic(), "its listener is closed"))
            raise RelayUnavailable(
                f"the local relay to {spec.redacted()} is down ({why}) for "
                f"{time.monotonic() - since:.0f}s; restarting"
            )
        return relay.local

    async def acquire(self, account_id: str, spec: ProxySpec | None) -> ProxySpec | None:
        """Start (or share) the relay `spec` needs, for `account_id`; the route."""
        async with self._lock:
            previous = self._users.pop(account_id, None)
            if spec is not None and spec.relayed:
                self._users[account_id] = spec
                if spec not in self._relays:
                    await self._start(spec)
            if previous is not None and previous != spec:
                await self._stop_unused(previous)
        return self.route(spec)

    async def release(self, account_id: str) -> None:
        async with self._lock:
            previous = self._users.pop(account_id, None)
            if previous is not None:
                await self._stop_unused(previous)

    def users(self, spec: ProxySpec) -> list[str]:
        return sorted(a for a, s in self._users.items() if s == spec)

    async def check(
        self, context: BrowserContext, spec: ProxySpec, url: str, within: float
    ) -> ProxyHealth:
        """check_in_context, told in the relay's words when the relay saw why
        (Chromium only says ERR_SOCKS_CONNECTION_FAILED)."""
        started = time.monotonic()
        try:
            self.route(spec)
        except RelayUnavailable as exc:
            return ProxyHealth(False, 0.0, str(exc))
        relay = self._relays.get(spec) if spec.relayed else None
        failed_before = relay.failed if relay is not None else 0
        health = await check_in_context(context, url, within, spec)
        if health.ok or relay is None or relay.failed == failed_before:
            return health
        latency = round((time.monotonic() - started) * 1000, 1)
        return ProxyHealth(False, latency, relay.last_error)

    async def _start(self, spec: ProxySpec) -> None:
        relay = ProxyRelay(spec, self.worker_id, self.limits)
        try:
            await relay.start()
        except OSError as exc:
            raise RelayUnavailable(
                f"cannot open a local relay to {spec.redacted()}: {exc.strerror or exc}"
            ) from None
        self._relays[spec] = relay
        self._died[spec] = asyncio.Event()
        self._supervise(spec, relay)
        self._install_drill()
        log.info(
            "worker %s: relay to %s listening on 127.0.0.1:%d (accounts: %s)",
            self.worker_id,
            spec.redacted(),
            relay.port,
            ", ".join(self.users(spec)),
        )

    async def _stop_unused(self, spec: ProxySpec) -> None:
        if spec in self._users.values():
            return
        relay = self._relays.pop(spec, None)
        watcher = self._watchers.pop(spec, None)
        self._down.pop(spec, None)
        self._died.pop(spec, None)
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        if relay is not None:
            await relay.kill()
            log.info(
                "worker %s: relay to %s on 127.0.0.1:%d stopped (no account uses it; "
                "%d tunnels served, %d failed)",
                self.worker_id,
                spec.redacted(),
                relay.port,
                relay.served,
                relay.failed,
            )

    def _supervise(self, spec: ProxySpec, relay: ProxyRelay) -> None:
        task = asyncio.get_running_loop().create_task(
            self._watch(spec, relay), name=f"relay:{relay.port}"
        )
        self._watchers[spec] = task

        def done(task: asyncio.Task[None]) -> None:
            if task.cancelled() or self._watchers.get(spec) is not task:
                return  # stopped on purpose
            log.error(
                "worker %s: the watcher of the relay to %s failed; starting it again in 1 s",
                self.worker_id,
                spec.redacted(),
                exc_info=task.exception(),
            )
            asyncio.get_running_loop().call_later(1.0, again)

        def again() -> None:
            if self._relays.get(spec) is relay:  # not stopped meanwhile
                self._supervise(spec, relay)

        task.add_done_callback(done)

    async def _watch(self, spec: ProxySpec, relay: ProxyRelay) -> None:
        """Restart the relay when it dies or stops answering its own probe."""
        # 2-4 s before the first restart (doubling to 30 s while they fail): a
        # relay that died for a reason is not hammered back up in a hot loop
        backoff = Backoff(base=4.0, cap=30.0)
        died = self._died[spec]
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.probe_s):
                    await died.wait()
            if not died.is_set() and relay.alive and await relay.probe():
                continue
            why = "killed" if died.is_set() else "its listener stopped answering"
            died.clear()
            self._down.setdefault(spec, (time.monotonic(), why))
            await relay.kill()
            log.error(
                "worker %s: relay to %s on 127.0.0.1:%d died (%s); accounts %s see a "
                "PROXY error until it is back",
                self.worker_id,
                spec.redacted(),
                relay.port,
                why,
                ", ".join(self.users(spec)) or "none",
            )
            while True:
                await asyncio.sleep(backoff.next_delay())
                try:
                    await relay.start(relay.port)
                except OSError as exc:
                    # The port went to someone else: a new one (contexts get rebuilt).
                    log.warning(
                        "worker %s: relay port %d taken (%s); moving to a new port",
                        self.worker_id,
                        relay.port,
                        exc.strerror,
                    )
                    try:
                        await relay.start(0)
                    except OSError as exc2:
                        log.error("worker %s: relay restart failed: %s", self.worker_id, exc2)
                        continue
                break
            backoff.reset()
            self._down.pop(spec, None)
            self.restarts += 1
            log.info(
                "worker %s: relay to %s restarted on 127.0.0.1:%d",
                self.worker_id,
                spec.redacted(),
                relay.port,
            )

    def drill(self) -> None:
        """Close every relay as if it had died (SIGUSR2); they restart by themselves."""
        log.warning("worker %s: relay drill: closing %d relays", self.worker_id, len(self._relays))
        for spec, relay in self._relays.items():
            self._down.setdefault(spec, (time.monotonic(), "closed by the SIGUSR2 drill"))
            relay.die()
            self._died[spec].set()

    def _install_drill(self) -> None:
        if self._drill_installed:
            return
        self._drill_installed = True
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, self.drill)

    async def close(self) -> None:
        async with self._lock:
            self._users.clear()
            for spec in list(self._relays):
                await self._stop_unused(spec)
