"""Stopping an account's monitor ends its cycle even when a cancel is
swallowed on the way (asyncio.wait_for in Python 3.11 does that when the
awaited future completes as the cancel lands), and always closes its pages:
the worker's frames wait on the stop, so a stop that hangs stops the acks
of every account behind it (seen in the two-hour soak)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from hiscrm.v1 import common_pb2
from worker import monitor as monitor_module
from worker.monitor import AccountMonitor


class Cursors:
    def get(self, account_id: str) -> str:
        return ""

    def put(self, account_id: str, cursor: str) -> None:
        pass


class StubbornAdapter:
    """A fetch that swallows the first cancel it gets, then waits again."""

    account_id = "acct-stop"

    def __init__(self) -> None:
        self.config = common_pb2.AccountConfig(
            account_id=self.account_id,
            spec=common_pb2.AccountSpec(enabled=True, monitor_interval_ms=60_000),
        )
        self.live_sink: Any = None
        self.proxy_sink: Any = None
        self.logging_in = False
        self.fetching = asyncio.Event()
        self.swallowed = 0
        self.closed = False

    def newer_cursor(self, local: str, remote: str) -> str:
        return local or remote

    def needs_login(self) -> bool:
        return False

    async def fetch_new(self, cursor: str) -> Any:
        self.fetching.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.swallowed += 1
        await asyncio.sleep(3600)

    async def close(self) -> None:
        self.closed = True


async def test_a_swallowed_cancel_does_not_hang_the_stop(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(monitor_module, "STOP_RECANCEL_S", 0.05)
    adapter = StubbornAdapter()
    mon = AccountMonitor("w-stop", adapter, None, Cursors(), lambda f: None, lambda: None)  # type: ignore[arg-type]  # stubs of the outbox, cursors and adapter
    mon.start()
    await asyncio.wait_for(adapter.fetching.wait(), 10)
    with caplog.at_level(logging.WARNING, logger="worker.monitor"):
        await asyncio.wait_for(mon.stop(), 30)  # bounded: a hang fails here
    assert adapter.swallowed == 1
    assert adapter.closed
    assert "cycle not ended" in caplog.text and "w-stop" in caplog.text


async def test_a_plain_stop_closes_at_once(caplog: pytest.LogCaptureFixture) -> None:
    adapter = StubbornAdapter()
    mon = AccountMonitor("w-plain", adapter, None, Cursors(), lambda f: None, lambda: None)  # type: ignore[arg-type]  # stubs of the outbox, cursors and adapter
    await mon.stop()  # never started
    assert adapter.closed and "cycle not ended" not in caplog.text
