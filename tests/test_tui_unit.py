"""The console's parts without a master: batching, reconnect states, the
store's unread arithmetic, formatting, and the command palette."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from textual.message import Message
from textual.widgets import DataTable

from demosite.client import qr_token
from hiscrm.v1 import common_pb2, control_pb2
from tui import format as fmt
from tui.app import HiscrmApp
from tui.client import ControlClient, ControlError, EventPump
from tui.fake import NOW, FakeClient, item_event, items, ts
from tui.messages import ConnectionChanged, EventBatch, EventsArrived, Link
from tui.screens.items import matches
from tui.state import Store


def test_batch_keeps_newest_state_per_worker_and_account() -> None:
    batch = EventBatch()
    for pid in (1, 2, 3):
        batch.add(control_pb2.Event(worker=control_pb2.Worker(worker_id="w", pid=pid)))
    for n, stored in enumerate(items(4), 1):
        batch.add(item_event(stored, n))
    assert batch.count == 7 and len(batch.items) == 4
    assert list(batch.workers) == ["w"] and batch.workers["w"].pid == 3


async def test_a_burst_becomes_one_message() -> None:
    posted: list[Message] = []
    arrived = asyncio.Event()

    def post(message: Message) -> None:
        posted.append(message)
        arrived.set()

    pump = EventPump(FakeClient(), post, flush_interval=0.05)
    # Fed within one loop turn, as a stream read hands over what it has.
    for n, stored in enumerate(items(2000), 1):
        pump.feed(item_event(stored, n))
    assert not posted  # nothing before the window closes
    await asyncio.wait_for(arrived.wait(), 10)
    await asyncio.sleep(0.1)  # and nothing after it
    assert len(posted) == 1
    message = posted[0]
    assert isinstance(message, EventsArrived) and len(message.batch.items) == 2000


class Flaky(ControlClient):
    """Down for the first calls; then up, with a stream that breaks once."""

    def __init__(self) -> None:
        super().__init__("flaky:1", "")
        self.stats_calls = 0
        self.streams = 0

    async def get_stats(self, deadline: float = 0.0) -> control_pb2.Stats:
        self.stats_calls += 1
        if self.stats_calls <= 2:
            raise ControlError("GetStats", "UNAVAILABLE", "connection refused")
        return control_pb2.Stats(master_version="9.9")

    async def _events(self, subscribed: asyncio.Event | None) -> AsyncIterator[Any]:
        self.streams += 1
        if subscribed is not None:
            subscribed.set()
        if self.stats_calls == 3:  # the stream of the first success breaks
            await asyncio.sleep(0.05)
            raise ControlError("WatchEvents", "UNAVAILABLE", "master went away")
        await asyncio.Event().wait()
        yield  # pragma: no cover

    def watch_events(self, subscribed: asyncio.Event | None = None) -> AsyncIterator[Any]:
        return self._events(subscribed)


async def test_pump_reports_reconnects() -> None:
    posted: list[Message] = []
    back = asyncio.Event()

    def post(message: Message) -> None:
        posted.append(message)
        if isinstance(message, ConnectionChanged) and message.reconnected:
            back.set()

    pump = EventPump(Flaky(), post)
    task = asyncio.create_task(pump.run())
    try:
        await asyncio.wait_for(back.wait(), 20)
    finally:
        task.cancel()
    links = [(m.link, m.reconnected) for m in posted if isinstance(m, ConnectionChanged)]
    assert links[0] == (Link.CONNECTING, False)
    assert (Link.CONNECTED, False) in links  # the first success is not a reconnect
    first_up = links.index((Link.CONNECTED, False))
    assert links[:first_up].count((Link.RECONNECTING, False)) == 2
    assert links[first_up + 1 :] == [(Link.RECONNECTING, False), (Link.CONNECTED, True)]
    assert pump.reconnects == 1


def test_a_worker_event_keeps_supervisords_view() -> None:
    """Worker events carry no process state; ListWorkers does."""
    store = Store()
    running = common_pb2.PROCESS_STATE_RUNNING
    store.set_workers([control_pb2.Worker(worker_id="w", process_state=running)])
    store.upsert_worker(control_pb2.Worker(worker_id="w", state=common_pb2.WORKER_STATE_MISSING))
    assert store.workers["w"].process_state == running
    assert store.workers["w"].state == common_pb2.WORKER_STATE_MISSING
    stopped = common_pb2.PROCESS_STATE_STOPPED
    store.set_workers([control_pb2.Worker(worker_id="w", process_state=stopped)])
    assert store.workers["w"].process_state == stopped


def test_store_counts_unread() -> None:
    store = Store()
    store.set_unread(
        control_pb2.GetUnreadCountsResponse(
            counts=[control_pb2.UnreadCount(account_id="a", comments=2, direct_messages=1)]
        )
    )
    new = items(3)
    for s in new:
        s.item.account_id, s.read = "a", False
    store.count_new(new)
    assert store.unread_of("a") == 6
    store.count_read("a", common_pb2.ITEM_KIND_DIRECT_MESSAGE, 5)
    assert store.unread["a"].direct_messages == 0  # floors at 0
    assert store.unread_of("a") == 4


def test_formatting() -> None:
    assert fmt.sparkline([0, 5, 10]) == "▁▅█"
    assert fmt.sparkline([0, 0]) == "▁▁"
    assert (
        fmt.age(ts(NOW - 90), NOW) == "2m"
        and fmt.age(control_pb2.Worker().last_heartbeat_at, NOW) == "-"
    )
    assert fmt.run_state(common_pb2.RUN_STATE_NEEDS_LOGIN) == "needs login"
    assert fmt.one_line("a\n b", 80) == "a b" and fmt.one_line("x" * 10, 5) == "xxxx…"


def test_inbox_filter_and_qr_token() -> None:
    stored = items(3)[2]  # a DM of demo-1
    assert matches(stored, "demo-1", common_pb2.ITEM_KIND_DIRECT_MESSAGE, True, "ITEM 3")
    assert not matches(stored, "demo-2", None, False, "")
    assert qr_token("http://h:1/confirm?token=abc&x=1") == "abc"


async def test_palette_has_the_console_commands() -> None:
    app = HiscrmApp("fake:0", "", client=FakeClient(), clock=lambda: NOW)
    async with app.run_test() as pilot:
        await pilot.pause(0.2)
        titles = {c.title for c in app.get_system_commands(app.screen)}
    assert {"Restart worker(s)", "Scale workers", "Add account", "Go to Inbox"} <= titles


def test_one_sparkline_sample_per_heartbeat() -> None:
    store = Store()
    worker = control_pb2.Worker(worker_id="w", last_heartbeat_at=ts(NOW))
    worker.stats.cpu_percent = 10
    for _ in range(3):  # polls between heartbeats
        store.set_workers([worker])
    assert list(store.cpu["w"]) == [10]
    later = control_pb2.Worker(worker_id="w", last_heartbeat_at=ts(NOW + 2))
    later.stats.cpu_percent = 30
    store.set_workers([later])
    assert list(store.cpu["w"]) == [10, 30]
    store.set_workers([])
    assert "w" not in store.cpu and not store.workers


async def test_platform_text_is_never_markup() -> None:
    app = HiscrmApp("fake:0", "", client=FakeClient(), clock=lambda: NOW)
    async with app.run_test(size=(150, 40)) as pilot:
        for _ in range(100):
            if app.full_refreshes and app.item_log.items:
                break
            await pilot.pause(0.05)
        odd = items(1, first_id=500)[0]
        odd.item.content = "[/b] price [red]100[/red] [errno 5]"
        odd.item.author_name = "[bold]x"
        app.pump.feed(item_event(odd, 1))
        app.pump.flush()
        await pilot.pause(0.3)
        row = app.item_log.query_one("#items", DataTable).get_row("500")
        assert "[/b] price [red]100[/red] [errno 5]" in [str(c) for c in row]
        assert "[bold]x" in [str(c) for c in row]
    assert not app.task_errors


async def test_screenshot_without_a_downloads_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home-without-downloads"))
    monkeypatch.setenv("HISCRM_HOME", str(tmp_path / "var"))
    app = HiscrmApp("fake:0", "", client=FakeClient(), clock=lambda: NOW)
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
        app.action_screenshot()
        await pilot.pause(0.1)
    saved = list((tmp_path / "var" / "screenshots").glob("*.svg"))
    assert len(saved) == 1 and saved[0].stat().st_size > 0
