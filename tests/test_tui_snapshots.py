"""Snapshots of each screen (pytest-textual-snapshot), fed by the fake
client with a fixed clock so every run draws the same thing.

After an intended UI change: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from tui.app import HiscrmApp
from tui.fake import NOW, FakeClient

pytest.importorskip("pytest_textual_snapshot")

SIZE = (150, 40)
Snap = Callable[..., bool]


def fake_app(tab: str) -> HiscrmApp:
    return HiscrmApp("fake:50051", "", client=FakeClient(), clock=lambda: NOW, initial_tab=tab)


async def until(pilot: Pilot[Any], probe: Callable[[], object], what: str) -> None:
    for _ in range(400):  # 20 s, for a loaded machine
        if probe():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def loaded(then: Callable[[Pilot[Any]], Awaitable[None]] | None = None) -> Callable[..., Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HiscrmApp)
        side = app.item_log.query_one("#conversation-text", Static)
        thread = app.inbox.query_one("#thread-text", Static)
        await until(
            pilot,
            lambda: (
                app.full_refreshes
                and app.item_log.items
                and str(side.content)
                and app.inbox.thread is not None
                and str(thread.content)
                and app.fleet.hosts_loaded
            ),
            "the first load, the side panels and the fleet's hosts included",
        )
        for field in app.query(Input):
            field.cursor_blink = False  # a blinking cursor would make the picture random
        if then is not None:
            await then(pilot)
        await pilot.pause()

    return run_before


def test_fleet(snap_compare: Snap) -> None:
    assert snap_compare(fake_app("fleet"), terminal_size=SIZE, run_before=loaded())


def test_fleet_restart_confirmation(snap_compare: Snap) -> None:
    async def restart(pilot: Pilot[Any]) -> None:
        # the first row is host ops-1's header; its workers follow
        await pilot.press("down", "space", "down", "space", "r")
        # the modal is pushed by the key's action: drawn once it is the screen
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmModal", "the modal")

    assert snap_compare(fake_app("fleet"), terminal_size=SIZE, run_before=loaded(restart))


def test_accounts(snap_compare: Snap) -> None:
    assert snap_compare(fake_app("accounts"), terminal_size=SIZE, run_before=loaded())


def test_account_form_shows_server_validation(snap_compare: Snap) -> None:
    async def bad_interval(pilot: Pilot[Any]) -> None:
        await pilot.press("e")
        form = pilot.app.screen
        form.query_one("#interval", Input).value = "50"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "out of range" in str(form.query_one("#error").content), "error")
        assert form.focused is form.query_one("#interval")  # the field to fix
        for field in form.query(Input):
            field.cursor_blink = False  # a blinking cursor would make the picture random

    assert snap_compare(
        fake_app("accounts"), terminal_size=(150, 48), run_before=loaded(bad_interval)
    )


def test_items(snap_compare: Snap) -> None:
    assert snap_compare(fake_app("items"), terminal_size=SIZE, run_before=loaded())


def test_inbox(snap_compare: Snap) -> None:
    """Conversations: colours, waiting timers, unread bold, the DM thread open."""
    assert snap_compare(fake_app("inbox"), terminal_size=SIZE, run_before=loaded())


def test_inbox_comment_thread(snap_compare: Snap) -> None:
    """A comment thread: the post's title, the reply under its parent."""

    async def open_thread(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HiscrmApp)
        await pilot.press("n")  # the next unread: the comment thread
        await until(
            pilot,
            lambda: (
                app.inbox.thread is not None and app.inbox.thread.conversation.conversation_ref == 3
            ),
            "the comment thread",
        )

    assert snap_compare(fake_app("inbox"), terminal_size=SIZE, run_before=loaded(open_thread))


def test_saved_reply_picker(snap_compare: Snap) -> None:
    async def pick(pilot: Pilot[Any]) -> None:
        await pilot.press("s")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "PickModal", "picker")
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False

    assert snap_compare(fake_app("inbox"), terminal_size=SIZE, run_before=loaded(pick))


def test_login(snap_compare: Snap) -> None:
    async def log_in(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, HiscrmApp)
        table = app.accounts.query_one("#account-table", DataTable)
        table.move_cursor(row=table.get_row_index("demo-3"))
        await pilot.press("l")
        await until(pilot, lambda: app.login.qr_text, "the QR")

    assert snap_compare(fake_app("accounts"), terminal_size=(150, 48), run_before=loaded(log_in))
