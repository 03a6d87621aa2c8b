"""One account's monitor loop: fetch, write to the outbox, report state.

The loop reads its config afresh every cycle and a new config wakes it, so a
ConfigUpdate takes effect at once without a restart (invariant 2). Every
failure becomes a typed state (a failed list among several is one too, while
the others' items are stored); transient ones back off with jitter, auth
expiry waits for a new session instead of retrying (invariant 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import random
import time
from collections.abc import Callable
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from hiscrm.v1 import common_pb2, gateway_pb2
from hiscrm_common.backoff import Backoff
from hiscrm_common.timeutil import to_ts, utcnow
from worker.cursors import CursorStore
from worker.handback import SessionHandback
from worker.outbox import Outbox
from worker.platforms.base import Adapter
from worker.platforms.errors import PlatformError, RateLimited, merge_failures

log = logging.getLogger(__name__)

TRANSIENT = {
    common_pb2.ERROR_KIND_NETWORK,
    common_pb2.ERROR_KIND_TIMEOUT,
    common_pb2.ERROR_KIND_PROXY,
    common_pb2.ERROR_KIND_INTERNAL,
}
# Kinds that need a person (new login, captcha): wait for a new config.
NEEDS_OPERATOR = {
    common_pb2.ERROR_KIND_AUTH_EXPIRED: common_pb2.RUN_STATE_NEEDS_LOGIN,
    common_pb2.ERROR_KIND_VERIFICATION: common_pb2.RUN_STATE_CAPTCHA,
}
SLOW_RETRY_S = 300.0  # layout changed, blocked: look again now and then, never hammer
JITTER = 0.05  # of the interval, around the account's slot
# A cycle that starts this much after its slot, or takes longer than the
# interval, is logged: the worker holds more accounts than it can poll.
OVERRUN_SLACK_S = 5.0
LOGIN_RECHECK_S = 1.0
STOP_RECANCEL_S = 5.0  # a stop cancels the cycle again this often until it ends
CLOSE_WITHIN_S = 60.0  # closing the account's context and pages


def phase_of(account_id: str) -> float:
    """The account's fixed place in its interval, in [0, 1): the same on
    every worker and after every restart, and different between accounts."""
    digest = hashlib.sha256(account_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def cycle_wait(phase: float, interval_s: float, now: float, jitter: float = 0.0) -> float:
    """Seconds until the account's next slot, at least half an interval away.

    Slots sit at phase * interval past each multiple of the interval on the
    wall clock, so accounts that start together (a worker's restart, a
    failover) still poll spread over the interval instead of in lockstep,
    and a slow cycle does not push the next ones later. `jitter` (a fraction
    of the interval, +-) keeps the rhythm from looking machine-made."""
    wait = (phase * interval_s - now) % interval_s
    if wait < interval_s / 2:
        wait += interval_s
    return max(0.0, wait + jitter * interval_s)


StateSink = Callable[[gateway_pb2.AccountState], None]


class AccountMonitor:
    def __init__(
        self,
        worker_id: str,
        adapter: Adapter,
        outbox: Outbox,
        cursors: CursorStore,
        report: StateSink,
        on_items: Callable[[], None],
        handback: SessionHandback | None = None,
    ) -> None:
        self.worker_id = worker_id
        self.adapter = adapter
        self.outbox = outbox
        self.cursors = cursors
        self.report = report
        self.on_items = on_items
        self.handback = handback
        self.state = common_pb2.RUN_STATE_STARTING
        self.error_kind = common_pb2.ERROR_KIND_UNSPECIFIED
        self.reason = ""
        self.last_cycle_at: datetime | None = None
        self.last_cycle_ms = 0  # how long that cycle took (Heartbeat, the master's histogram)
        self.cycles = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._backoff = Backoff(base=1.0, cap=120.0)
        self._rng = random.Random(adapter.account_id)
        self._phase = phase_of(adapter.account_id)
        self._due: float | None = None  # wall-clock time the next cycle is due
        self.overruns = 0
        self._live_tasks: set[asyncio.Task[None]] = set()
        # Items the master refused for good (quarantined on disk): shown as the
        # account's error until the operator changes its config, so a clean
        # cycle right after does not wipe it out.
        self.refused = ""
        adapter.live_sink = self._live
        adapter.proxy_sink = self._proxy_checked

    @property
    def account_id(self) -> str:
        return self.adapter.account_id

    @property
    def config(self) -> common_pb2.AccountConfig:
        return self.adapter.config

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"monitor:{self.account_id}")

    async def stop(self) -> None:
        """Ends the cycle task and closes the account's pages; bounded, since
        the worker's frames wait on it (a revoke that never finished once
        stopped every ack behind it, and the account ran on two workers)."""
        task = self._task
        waited = 0.0
        while task is not None and not task.done():
            # Cancelled again and again: a cancel that lands as an awaited
            # future completes is swallowed (asyncio.wait_for in 3.11).
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_RECANCEL_S)
            waited += STOP_RECANCEL_S
            if not task.done():
                log.warning(
                    "account %s on worker %s: cycle not ended %.0f s after its stop; "
                    "cancelling it again",
                    self.account_id,
                    self.worker_id,
                    waited,
                )
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.error(
                "account %s on worker %s: cycle task ended with %r",
                self.account_id,
                self.worker_id,
                task.exception(),
            )
        try:
            async with asyncio.timeout(CLOSE_WITHIN_S):
                await self.adapter.close()
        except TimeoutError:
            log.error(
                "account %s on worker %s: its pages did not close within %.0f s; left behind",
                self.account_id,
                self.worker_id,
                CLOSE_WITHIN_S,
            )

    async def apply(self, config: common_pb2.AccountConfig) -> None:
        await self.adapter.apply_config(config)
        log.info(
            "account %s on worker %s: config v%d applied (interval %d ms)",
            self.account_id,
            self.worker_id,
            config.config_version,
            config.spec.monitor_interval_ms,
        )
        self.refused = ""  # the operator has acted on the account
        self._backoff.reset()
        self._wake.set()

    def refuse(self, reason: str) -> None:
        self.refused = reason
        self._set_state(common_pb2.RUN_STATE_ERROR, common_pb2.ERROR_KIND_INVALID_REQUEST, reason)

    def status(self) -> gateway_pb2.AccountStatus:
        return gateway_pb2.AccountStatus(
            account_id=self.account_id,
            state=self.state,
            config_version=self.config.config_version,
            last_cycle_at=to_ts(self.last_cycle_at),
            last_cycle_ms=self.last_cycle_ms,
            monitor_page=self.adapter.monitor_page(),
        )

    def state_frame(self) -> gateway_pb2.AccountState:
        return gateway_pb2.AccountState(
            account_id=self.account_id,
            state=self.state,
            error_kind=self.error_kind,
            reason=self.reason,
            at=to_ts(utcnow()),
            last_cycle_at=to_ts(self.last_cycle_at),
        )

    def _set_state(
        self,
        state: common_pb2.RunState,
        kind: common_pb2.ErrorKind = common_pb2.ERROR_KIND_UNSPECIFIED,
        reason: str = "",
        screenshot: str = "",
    ) -> None:
        if state == common_pb2.RUN_STATE_RUNNING and self.refused:
            state, kind, reason = (
                common_pb2.RUN_STATE_ERROR,
                common_pb2.ERROR_KIND_INVALID_REQUEST,
                self.refused,
            )
        if (state, kind, reason) == (self.state, self.error_kind, self.reason):
            return
        self.state, self.error_kind, self.reason = state, kind, reason
        frame = self.state_frame()
        frame.screenshot_path = screenshot
        self.report(frame)

    def _proxy_checked(self, health: common_pb2.ProxyHealth) -> None:
        frame = self.state_frame()
        frame.proxy_health.CopyFrom(health)
        self.report(frame)

    def _live(self, items: list[common_pb2.Item]) -> None:
        """Items pushed by the platform between cycles go straight to the
        outbox; if it is full they are fetched again by the next cycle."""
        task = asyncio.get_running_loop().create_task(self._store_live(items))
        self._live_tasks.add(task)
        task.add_done_callback(self._live_tasks.discard)

    async def _store_live(self, items: list[common_pb2.Item]) -> None:
        _stamp_detected(items)
        added = await asyncio.to_thread(self.outbox.add, items)
        if added.accepted:
            self.on_items()

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancel
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _interval(self) -> float:
        base = max(self.config.spec.monitor_interval_ms, 100) / 1000
        return base * self._rng.uniform(0.9, 1.1)  # jitter: accounts drift apart

    def _next_cycle(self) -> float:
        base = max(self.config.spec.monitor_interval_ms, 100) / 1000
        wait = cycle_wait(self._phase, base, time.time(), self._rng.uniform(-JITTER, JITTER))
        self._due = time.time() + wait
        return wait

    def _check_overrun(self, due: float | None, started: float) -> None:
        """Log a cycle that started well after its slot (the page slots were
        all busy, the event loop lagged) or took longer than the interval."""
        took = time.time() - started
        late = started - due if due is not None else 0.0
        interval = max(self.config.spec.monitor_interval_ms, 100) / 1000
        if late <= OVERRUN_SLACK_S and took <= interval:
            return
        self.overruns += 1
        log.warning(
            "account %s on worker %s: cycle overran: started %.1f s late, took %.1f s "
            "(interval %.0f s, %d overruns)",
            self.account_id,
            self.worker_id,
            late,
            took,
            interval,
            self.overruns,
        )

    async def _run(self) -> None:
        local = await asyncio.to_thread(self.cursors.get, self.account_id)
        cursor = self.adapter.newer_cursor(local, self.config.cursor)
        while True:
            if not self.config.spec.enabled:
                self._set_state(common_pb2.RUN_STATE_DISABLED)
                await self._sleep(3600)
                continue
            if self.adapter.logging_in:
                # a cycle now would open the login's fresh, not yet logged-in
                # context and report the account logged out. Looked at again
                # soon: the login's new session (a ConfigUpdate) can arrive
                # while the login still closes its page, and its first cycle
                # should not then wait a whole interval.
                await self._sleep(min(self._interval(), LOGIN_RECHECK_S))
                continue
            if self.adapter.needs_login():
                self._set_state(
                    common_pb2.RUN_STATE_NEEDS_LOGIN,
                    common_pb2.ERROR_KIND_AUTH_EXPIRED,
                    "no session: log the account in",
                )
                await self._sleep(3600)
                continue
            due, self._due = self._due, None
            started = time.time()
            try:
                cursor, failure = await self._cycle(cursor)
            except asyncio.CancelledError:
                raise
            except PlatformError as exc:
                await self._failed(exc)
                continue
            except Exception as exc:
                log.exception(
                    "account %s on worker %s: cycle crashed", self.account_id, self.worker_id
                )
                await self._failed(PlatformError(f"{type(exc).__name__}: {exc}"))
                continue
            self._check_overrun(due, started)
            if failure is not None:  # some lists delivered, others failed: shown
                await self._failed(failure, partial=True)
                continue
            await self._sleep(self._next_cycle())

    async def _cycle(self, cursor: str) -> tuple[str, PlatformError | None]:
        """One fetch; the new cursor, and the failure of the steps that failed
        while others delivered (their items are stored all the same)."""
        started = time.monotonic()
        result = await self.adapter.fetch_new(cursor)
        if result.items and not await self._store(result.items):
            # The cursor stays: the refused items are fetched again next
            # cycle, and those the outbox already has are skipped there.
            return cursor, None
        if result.cursor != cursor:
            await asyncio.to_thread(self.cursors.put, self.account_id, result.cursor)
        self.cycles += 1
        self.last_cycle_at = utcnow()
        # rounded up: 0 stays "not measured" (before the first cycle, older workers)
        self.last_cycle_ms = min(math.ceil((time.monotonic() - started) * 1000), 2**32 - 1)
        failure = merge_failures(result.failures) if result.failures else None
        if failure is None:
            self._backoff.reset()
            self._set_state(common_pb2.RUN_STATE_RUNNING)
        if result.cursor != cursor:
            frame = self.state_frame()  # the master keeps it for a failover
            frame.cursor = result.cursor
            self.report(frame)
        if failure is None and self.handback is not None and self.config.session:
            await self.handback.check(self.config.config_version)  # likewise the session
        return result.cursor, failure

    async def _store(self, items: list[common_pb2.Item]) -> bool:
        _stamp_detected(items)
        added = await asyncio.to_thread(self.outbox.add, items)
        if added.accepted:
            self.on_items()
        if not added.refused:
            return True
        self._set_state(
            common_pb2.RUN_STATE_OUTBOX_FULL,
            common_pb2.ERROR_KIND_OUTBOX_FULL,
            f"outbox full: {added.refused} items wait on the platform until the master acks",
        )
        log.error(
            "account %s on worker %s: outbox full, %d items not taken yet (nothing dropped)",
            self.account_id,
            self.worker_id,
            added.refused,
        )
        return False

    async def _failed(self, exc: PlatformError, *, partial: bool = False) -> None:
        """Show the failure as the account state and wait as it asks. After a
        partial failure (another list delivered) the wait for a changed
        layout or a blocked list is the normal interval: the working list
        keeps its pace while the state shows the broken one."""
        kind = exc.kind
        reason = str(exc)
        log.error(
            "account %s on worker %s: %s: %s",
            self.account_id,
            self.worker_id,
            common_pb2.ErrorKind.Name(kind),
            reason,
        )
        if kind in NEEDS_OPERATOR:
            self._set_state(NEEDS_OPERATOR[kind], kind, reason, exc.screenshot)
            await self._sleep(3600)  # until a new config (a new session) wakes us
            return
        if isinstance(exc, RateLimited):
            delay = max(exc.retry_after, self._backoff.next_delay() * 4)
            self._set_state(common_pb2.RUN_STATE_RATE_LIMITED, kind, reason, exc.screenshot)
        elif kind in TRANSIENT:
            delay = self._backoff.next_delay()
            self._set_state(common_pb2.RUN_STATE_BACKING_OFF, kind, reason, exc.screenshot)
        else:
            delay = self._interval() if partial else SLOW_RETRY_S
            self._set_state(common_pb2.RUN_STATE_ERROR, kind, reason, exc.screenshot)
        await self._sleep(delay)


def _stamp_detected(items: list[common_pb2.Item]) -> None:
    """Detection time, kept in the outbox with the item, so that the master's
    detection-to-event latency includes any wait for an ack or a reconnect."""
    now = Timestamp()
    now.GetCurrentTime()
    for item in items:
        if not item.HasField("detected_at"):
            item.detected_at.CopyFrom(now)
