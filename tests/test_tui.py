"""The operator console, driven with Pilot against a real master, a real
worker (Chromium) and the demo platform.

One cluster serves the module's tests (starting Chromium and logging in is
the slow part); the master-restart test runs last because it restarts the
master under the others. The Fleet restart test needs supervisord, so it
brings up its own fleet with `hiscrm up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Label, Log, Static

from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc
from hiscrm_common.channel import open_channel
from tests.delivery_helpers import account, create
from tests.demo_helpers import admin, demo_spec, scan
from tests.harness import Cluster, free_port, wait_for
from tui.app import HiscrmApp
from tui.messages import Link
from tui.screens.accounts import page_line
from tui.state import Unread

pytestmark = pytest.mark.timeout(300)

T = TypeVar("T")
ONLINE = common_pb2.WORKER_STATE_ONLINE
RUNNING = common_pb2.RUN_STATE_RUNNING
NEEDS_LOGIN = common_pb2.RUN_STATE_NEEDS_LOGIN
BIN = Path(sys.executable).parent
KEY_OF = {" ": "space", "-": "minus", ".": "full_stop"}


@dataclass
class Live:
    cluster: Cluster
    base: str


async def _log_in(cluster: Cluster, base: str, account_id: str, username: str) -> str:
    """The 'phone' logs the account in, outside the console."""
    async with open_channel(cluster.address, cluster.token()) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        stream = stub.StartLogin(control_pb2.StartLoginRequest(account_id=account_id))
        async with asyncio.timeout(120):
            async for update in stream:
                kind = update.WhichOneof("event")
                if kind == "qr":
                    await asyncio.to_thread(scan, base, update.qr.content, username)
                elif kind in ("success", "failed", "expired", "cancelled"):
                    return kind
    return "ended"


def _unread(cluster: Cluster, account_id: str) -> int:
    resp = cluster.call("GetUnreadCounts", control_pb2.GetUnreadCountsRequest())
    for c in resp.counts:  # type: ignore[attr-defined]
        if c.account_id == account_id:
            return int(c.comments + c.direct_messages)
    return 0


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("tui") / "home"
    home.mkdir()
    cluster = Cluster(home=home)
    try:
        base = cluster.start_demosite()
        cluster.start_master()
        cluster.start_worker("tui-w")
        cluster.wait_worker_state("tui-w", ONLINE)
        create(cluster, "t1", demo_spec(base, "demo1", interval_ms=1000))
        create(cluster, "t2", demo_spec(base, "demo2", interval_ms=1000))
        for account_id in ("t1", "t2"):
            wait_for(
                lambda a=account_id: account(cluster, a).state == NEEDS_LOGIN,
                timeout=60,
                what=f"{account_id} waiting for a login",
            )
        assert asyncio.run(_log_in(cluster, base, "t1", "demo1")) == "success"
        wait_for(lambda: account(cluster, "t1").state == RUNNING, timeout=60, what="t1 running")
        # The seeded history lands in the first cycles; wait until it has, so
        # the unread counts the tests compare only move when they act: the
        # count held over several monitor cycles (each starts by asking the
        # platform who is logged in), not over a guessed time, which a loaded
        # machine's slow cycles can outlast.
        steady = {"count": -1, "since": 0}

        def settled() -> bool:
            count = _unread(cluster, "t1")
            cycles = admin(base, "/admin/users/demo1")["counters"].get("/api/creator/me", 0)
            if count != steady["count"]:
                steady.update(count=count, since=cycles)
            return count > 0 and cycles - steady["since"] >= 3

        wait_for(settled, timeout=120, interval=0.2, what="t1's history stored")
        yield Live(cluster, base)
    finally:
        cluster.stop_all()


async def until(pilot: Pilot[Any], probe: Callable[[], T], what: str, within: float = 30.0) -> T:
    """Let the app run until probe() is truthy; bounded, not a timing assertion."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.1)


@contextlib.asynccontextmanager
async def console(
    cluster: Cluster, token: str | None = None, tab: str = "items"
) -> AsyncIterator[tuple[HiscrmApp, Pilot[Any]]]:
    app = HiscrmApp(cluster.address, token or cluster.token(), initial_tab=tab)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.pump.connected and app.full_refreshes, "connected")
        yield app, pilot
        assert not app.task_errors, app.task_errors


def inbox_row(app: HiscrmApp, text: str) -> tuple[str, list[object]] | None:
    """The Inbox table's row whose content shows text, as (key, cells)."""
    table = app.item_log.query_one("#items", DataTable)
    for row_key in table.rows:
        cells = table.get_row(row_key)
        if any(text in str(cell) for cell in cells):
            return str(row_key.value), cells
    return None


async def select_row(pilot: Pilot[Any], table: DataTable[Any], key: str) -> None:
    table.focus()
    table.move_cursor(row=table.get_row_index(key), animate=False)
    await pilot.pause()


async def inject_comment(live: Live, text: str) -> None:
    body = {"username": "demo1", "text": text}
    await asyncio.to_thread(admin, live.base, "/admin/comments", body)


def _hiscrm(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = cluster.env(HISCRM_DEMOSITE_PORT=str(free_port()))
    return subprocess.run(
        [str(BIN / "hiscrm"), *args], env=env, capture_output=True, text=True, timeout=180
    )


async def test_restart_worker_from_fleet(cluster: Cluster) -> None:
    try:  # `down` even when `up` fails or times out: nothing outlives the test
        up = await asyncio.to_thread(
            _hiscrm, cluster, "up", "--no-follow", "--no-demo", "--workers", "1"
        )
        assert up.returncode == 0, up.stderr + up.stdout
        await asyncio.to_thread(cluster.wait_worker_state, "worker-0", ONLINE, 60)
        async with console(cluster) as (app, pilot):
            await pilot.press("1")  # Fleet
            workers = app.fleet.query_one("#workers", DataTable)
            await until(pilot, lambda: "worker-0" in workers.rows, "worker-0 listed")
            old_pid = app.store.workers["worker-0"].pid
            await until(  # supervisord's view (STARTING for its startsecs)
                pilot, lambda: str(workers.get_row("worker-0")[3]) == "running", "running"
            )

            await select_row(pilot, workers, "worker-0")
            await pilot.press("l")  # follow its log
            log_view = app.fleet.query_one("#worker-log", Log)
            await until(pilot, lambda: "connected to" in "\n".join(log_view.lines), "log tail")

            await pilot.press("r")
            await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmModal", "confirm")
            await pilot.press("y")
            await until(
                pilot,
                lambda: (
                    (w := app.store.workers.get("worker-0")) is not None
                    and w.pid != old_pid
                    and w.state == ONLINE
                ),
                "worker-0 restarted with a new pid",
                90,
            )
            assert str(workers.get_row("worker-0")[2]) == "online"
    finally:
        down = await asyncio.to_thread(_hiscrm, cluster, "down")
    assert down.returncode == 0, down.stderr


async def test_injected_comment_appears_in_inbox(live: Live) -> None:
    async with console(live.cluster) as (app, pilot):
        text = f"tui-new-{uuid.uuid4().hex[:8]}"
        await inject_comment(live, text)
        _, cells = await until(pilot, lambda: inbox_row(app, text), "the comment in Inbox")
        marker, _time, account_id, kind = (str(c) for c in cells[1:5])
        assert (marker, account_id, kind) == ("●", "t1", "comment")


async def test_mark_read_lowers_unread_count(live: Live) -> None:
    cluster = live.cluster
    async with console(cluster) as (app, pilot):
        text = f"tui-mark-{uuid.uuid4().hex[:8]}"
        await inject_comment(live, text)
        key, _ = await until(pilot, lambda: inbox_row(app, text), "the comment in Inbox")
        await until(
            pilot,
            lambda: app.store.unread_of("t1") == _unread(cluster, "t1"),
            "the console's count to match the master's",
        )
        before = app.store.unread_of("t1")

        await select_row(pilot, app.item_log.query_one("#items", DataTable), key)
        await pilot.press("m")
        await until(pilot, lambda: str(inbox_row(app, text)[1][1]) == "", "the unread mark gone")  # type: ignore[index]
        await until(pilot, lambda: app.store.unread_of("t1") == before - 1, "count lowered")
        assert _unread(cluster, "t1") == before - 1
        summary = app.item_log.query_one("#unread-summary", Label)
        await until(
            pilot,
            lambda: f"unread {app.store.unread_total().total} " in str(summary.content),
            "the summary line to show the new count",
        )

        await pilot.press("M")  # the whole account
        await until(pilot, lambda: app.store.unread_of("t1") == 0, "account read")
        await until(pilot, lambda: _unread(cluster, "t1") == 0, "master agrees")
        # the Accounts table's unread column: redrawn after the console's
        # count (a debounced refresh or the 1 s tick), so waited for too
        accounts = app.accounts.query_one("#account-table", DataTable)
        await until(pilot, lambda: str(accounts.get_row("t1")[6]) == "0", "Accounts shows 0")


async def test_reply_box_sends_to_the_platform(live: Live) -> None:
    async with console(live.cluster) as (app, pilot):
        question = f"tui-ask-{uuid.uuid4().hex[:8]}"
        await inject_comment(live, question)
        key, _ = await until(pilot, lambda: inbox_row(app, question), "the comment in Inbox")
        await select_row(pilot, app.item_log.query_one("#items", DataTable), key)

        answer = f"thanks-{uuid.uuid4().hex[:8]}"
        await pilot.press("r")  # focus the reply box
        await pilot.press(*(KEY_OF.get(ch, ch) for ch in answer), "enter")
        result = app.item_log.query_one("#reply-result", Static)
        await until(pilot, lambda: "sent" in str(result.content), "the reply result", 100)

        replies = await asyncio.to_thread(admin, live.base, "/admin/replies?username=demo1")
        assert answer in [r["text"] for r in replies["replies"]]


async def test_console_works_with_an_agent_token(live: Live) -> None:
    """An agent reads, replies and marks read; the console names who replied."""
    cluster = live.cluster
    made = cluster.call(
        "CreateToken",
        control_pb2.CreateTokenRequest(name="tui-agent", role=control_pb2.ROLE_AGENT),
    )
    async with console(cluster, made.secret) as (app, pilot):  # type: ignore[attr-defined]
        question = f"tui-agent-{uuid.uuid4().hex[:8]}"
        await inject_comment(live, question)
        key, _ = await until(pilot, lambda: inbox_row(app, question), "the comment in Inbox")
        items = app.item_log.query_one("#items", DataTable)
        await select_row(pilot, items, key)
        answer = f"agent-{uuid.uuid4().hex[:8]}"
        await pilot.press("r")
        await pilot.press(*(KEY_OF.get(ch, ch) for ch in answer), "enter")
        result = app.item_log.query_one("#reply-result", Static)
        await until(pilot, lambda: "sent ✓ by tui-agent" in str(result.content), "sent", 100)
        # the master says who replied (a fresh list), and the detail shows it
        app.item_log.items[int(key)].replied_by = ""  # what the console set itself
        app.item_log.reload()
        await until(
            pilot,
            lambda: app.item_log.items[int(key)].replied_by == "tui-agent",
            "replied_by from the master",
        )
        detail = app.item_log.query_one("#conversation-text", Static)
        await until(
            pilot, lambda: "replied by tui-agent" in str(detail.content), "who replied, shown"
        )
        await pilot.press("m")
        await until(pilot, lambda: str(inbox_row(app, question)[1][1]) == "", "marked read")  # type: ignore[index]
    replies = await asyncio.to_thread(admin, live.base, "/admin/replies?username=demo1")
    assert answer in [r["text"] for r in replies["replies"]]


async def test_login_screen_shows_qr_and_completes_after_scan(live: Live) -> None:
    async with console(live.cluster) as (app, pilot):
        await pilot.press("2")  # Accounts
        await select_row(pilot, app.accounts.query_one("#account-table", DataTable), "t2")
        await pilot.press("l")  # log in: opens the Login tab
        login = app.login
        await until(pilot, lambda: "waiting for a scan" in login.state, "the QR", 60)
        drawn = str(login.query_one("#qr", Static).content)
        assert any(ch in drawn for ch in "▀▄█") and len(drawn.splitlines()) > 10

        await pilot.press("s")  # scan on the demo platform
        await until(pilot, lambda: "success" in login.state, "login success", 90)
        assert "logged in as" in login.state
        await until(
            pilot,
            lambda: (a := app.store.accounts.get("t2")) is not None and a.state == RUNNING,
            "t2 running in the console",
            60,
        )


async def test_account_detail_shows_the_monitor_page(live: Live) -> None:
    """The figures t1's worker measured of its monitor page, through the
    master's ListAccounts, in the account's detail line."""
    async with console(live.cluster) as (app, pilot):
        await pilot.press("2")  # Accounts
        await until(pilot, lambda: "t1" in app.store.accounts, "t1 listed")
        await select_row(pilot, app.accounts.query_one("#account-table", DataTable), "t1")
        detail = app.accounts.query_one("#account-detail", Label)

        def shown() -> str | None:
            """The page line, once it shows what the store holds, measured."""
            a = app.store.accounts["t1"]
            lines = str(detail.content).splitlines()
            wanted = page_line(a)
            measured = a.monitor_page.js_heap_used_bytes > 0
            return wanted if measured and wanted in lines else None

        line = await until(pilot, shown, "t1's monitor page in its detail", 60)
        page = app.store.accounts["t1"].monitor_page
        assert page.dom_nodes > 10 and page.age_s > 0, page
        assert line.startswith("page: open ") and f"{page.dom_nodes} nodes" in line, line
        assert f"JS heap {page.js_heap_used_bytes / 1048576:.1f} MiB" in line, line


async def test_unread_counts_come_from_the_master(live: Live) -> None:
    cluster = live.cluster
    async with console(cluster) as (app, pilot):
        await until(
            pilot, lambda: app.store.unread_of("t1") == _unread(cluster, "t1"), "counts in step"
        )
        # The console's own arithmetic drifted (say, a count read while items
        # were arriving); the master's count after the next item puts it right.
        app.store.unread["t1"] = Unread(comments=999)
        await inject_comment(live, f"tui-count-{uuid.uuid4().hex[:8]}")
        await until(
            pilot,
            lambda: app.store.unread_of("t1") == _unread(cluster, "t1") < 999,
            "the master's count",
        )


async def test_an_account_deleted_elsewhere_leaves_the_console(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tui.app.ACCOUNT_POLL_S", 3600.0)  # only the event can tell it
    cluster = live.cluster
    async with console(cluster) as (app, pilot):
        await pilot.press("2")  # Accounts
        table = app.accounts.query_one("#account-table", DataTable)
        spec = demo_spec(live.base, "demo2")
        spec.enabled = False
        await asyncio.to_thread(create, cluster, "t-gone", spec)
        await until(pilot, lambda: "t-gone" in table.rows, "the new account listed")
        request = control_pb2.DeleteAccountRequest(account_id="t-gone")
        await asyncio.to_thread(cluster.call, "DeleteAccount", request)
        await until(
            pilot,
            lambda: "t-gone" not in table.rows and "t-gone" not in app.store.accounts,
            "the account gone from the console",
            10,
        )


async def test_a_login_started_elsewhere_shows_in_the_console(live: Live) -> None:
    cluster = live.cluster
    async with console(cluster) as (app, pilot):
        login = app.login
        async with open_channel(cluster.address, cluster.token()) as channel:
            stub = control_pb2_grpc.ControlStub(channel)
            stream = stub.StartLogin(control_pb2.StartLoginRequest(account_id="t2"))
            update = await asyncio.wait_for(stream.read(), 90)
            assert update.WhichOneof("event") == "qr"
            await until(pilot, lambda: "waiting for a scan" in login.state, "the QR", 30)
            assert login.watching and "started by another client" in login.state
            assert login.account_id == "t2" and login.session_id == update.session_id
            drawn = str(login.query_one("#qr", Static).content)
            assert any(ch in drawn for ch in "▀▄█")
            await asyncio.to_thread(scan, live.base, update.qr.content, "demo2")
            async with asyncio.timeout(90):
                while update.WhichOneof("event") not in ("success", "failed", "expired"):
                    update = await stream.read()
            assert update.WhichOneof("event") == "success"
        await until(pilot, lambda: "success" in login.state, "the success shown", 30)
        assert not login.watching


async def test_reconnects_after_master_restart(live: Live) -> None:
    cluster = live.cluster
    async with console(cluster) as (app, pilot):
        status = app.status
        assert cluster.master is not None
        await asyncio.to_thread(cluster.master.stop)
        await until(pilot, lambda: status.link is Link.RECONNECTING, "the console to notice")
        assert "unreachable" in status.render()
        await asyncio.to_thread(cluster.start_master)
        await until(pilot, lambda: "reconnected" in status.render(), "reconnected", 60)
        assert status.link is Link.CONNECTED
        # and it is live again: a new comment arrives through the new stream
        text = f"tui-after-{uuid.uuid4().hex[:8]}"
        await inject_comment(live, text)
        await until(pilot, lambda: inbox_row(app, text), "a comment after the restart", 60)
