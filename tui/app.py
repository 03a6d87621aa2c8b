"""hiscrm-tui: the operator console, a pure gRPC client of Control.

The app owns the client, the store and the event pump; the panes read the
store and call the client from Textual workers, so no gRPC call ever runs on
the UI's critical path.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from hiscrm.v1 import common_pb2, control_pb2
from hiscrm_common import settings
from hiscrm_common.channel import master_address
from hiscrm_common.worker_counts import count_workers
from tui.client import ControlClient, ControlError, EventPump
from tui.messages import ConnectionChanged, EventsArrived, Link
from tui.screens.accounts import AccountsPane
from tui.screens.fleet import FleetPane
from tui.screens.inbox import InboxPane
from tui.screens.login import LoginPane
from tui.state import Store
from tui.widgets.status import StatusBar

log = logging.getLogger(__name__)

WORKER_POLL_S = 2.0  # heartbeat figures are not pushed as events; poll them
ACCOUNT_POLL_S = 15.0  # a safety net: creates, changes and deletes all come as events
STATS_POLL_S = 5.0  # the master's problems are not pushed as events; poll them
TABS = ("fleet", "accounts", "inbox", "login")


def screenshot_directory() -> Path:
    """~/Downloads where it exists (Textual's habit), else $HISCRM_HOME/screenshots."""
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else settings.home() / "screenshots"


class HiscrmApp(App[None]):
    TITLE = "hiscrm"
    CSS = """
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "tab('fleet')", "Fleet"),
        Binding("2", "tab('accounts')", "Accounts"),
        Binding("3", "tab('inbox')", "Inbox"),
        Binding("4", "tab('login')", "Login"),
        Binding("ctrl+r", "refresh_all", "Refresh"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        address: str,
        token: str,
        *,
        client: ControlClient | None = None,
        clock: Callable[[], float] = time.time,
        initial_tab: str = "inbox",
    ) -> None:
        super().__init__()
        self.address = address
        self.client = client or ControlClient(address, token)
        self.store = Store()
        self.now = clock
        self.initial_tab = initial_tab
        self.pump = EventPump(self.client, self.post_message)
        self.task_errors: list[BaseException | None] = []  # seen by the tests
        self.full_refreshes = 0  # completed re-reads of everything
        self.sub_title = address

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with TabbedContent(initial=self.initial_tab, id="tabs"):
            with TabPane("Fleet", id="fleet"):
                yield FleetPane(id="fleet-pane")
            with TabPane("Accounts", id="accounts"):
                yield AccountsPane(id="accounts-pane")
            with TabPane("Inbox", id="inbox"):
                yield InboxPane(id="inbox-pane")
            with TabPane("Login", id="login"):
                yield LoginPane(id="login-pane")
        yield StatusBar(self.address, id="status")
        yield Footer()

    async def on_mount(self) -> None:
        await self.client.open()
        self.run_worker(self.pump.run(), name="event-pump", group="events", exit_on_error=False)
        self.set_interval(1.0, self._tick)
        self.set_interval(WORKER_POLL_S, self._poll_workers)
        self.set_interval(ACCOUNT_POLL_S, self._poll_accounts)
        self.set_interval(STATS_POLL_S, self._poll_stats)
        self.action_tab(self.initial_tab)

    async def on_unmount(self) -> None:
        # Stop the pump first, so closing the channel is not reported as a lost master.
        self.workers.cancel_group(self, "events")
        await self.client.close()

    # ------------------------------------------------------------ panes

    @property
    def fleet(self) -> FleetPane:
        return self.query_one(FleetPane)

    @property
    def accounts(self) -> AccountsPane:
        return self.query_one(AccountsPane)

    @property
    def inbox(self) -> InboxPane:
        return self.query_one(InboxPane)

    @property
    def login(self) -> LoginPane:
        return self.query_one(LoginPane)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen; Textual's default wants ~/Downloads to exist."""
        directory = Path(path) if path else screenshot_directory()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            saved = self.save_screenshot(filename, str(directory))
        except OSError as exc:
            self.notify(f"screenshot not saved: {exc}", severity="error")
            return
        self.notify(f"screenshot saved: {saved}")

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        focus = {
            "fleet": "#workers",
            "accounts": "#account-table",
            "inbox": "#items",
            "login": "#login-start",
        }[tab]
        # Focus inside the pane so its key bindings work and show in the footer.
        self.query_one(focus).focus()

    def open_login(self, account_id: str) -> None:
        self.action_tab("login")
        self.login.begin(account_id)

    def _show_summary(self) -> None:
        store = self.store
        needs_login = sum(
            1 for a in store.accounts.values() if a.state == common_pb2.RUN_STATE_NEEDS_LOGIN
        )
        unread = store.unread_total()
        self.status.summary = (
            f"{count_workers(store.workers.values()).text()} · accounts {len(store.accounts)}"
            + (f" ({needs_login} need login)" if needs_login else "")
            + f" · unread {unread.total}"
        )

    def _show_all(self) -> None:
        self.fleet.show()
        self.accounts.show()
        self.inbox.show()
        self.login.show()
        self._show_summary()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # Panes off screen are redrawn lazily; catch up when one is shown.
        pane: dict[str, FleetPane | AccountsPane | InboxPane] = {
            "fleet": self.fleet,
            "accounts": self.accounts,
            "inbox": self.inbox,
        }
        shown = pane.get(event.pane.id or "")
        if shown is not None and self.full_refreshes:
            shown.show()

    def _tick(self) -> None:
        # Ages ("beat 3s") move with the clock; redraw only what is visible.
        if not self.is_running:
            return
        active = self.query_one(TabbedContent).active
        if active == "fleet":
            self.fleet.show()
        elif active == "accounts":
            self.accounts.show()

    # ------------------------------------------------------------ live

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        if not self.is_running:
            return  # shutting down: the stream's end is no news, widgets are gone
        self.status.show(message)
        if message.link is Link.CONNECTED:
            # Events may have been missed while away: re-read everything.
            self.action_refresh_all()
            if message.reconnected:
                self.notify(
                    f"reconnected to the master after {message.offline_s:.1f}s", markup=False
                )
        elif message.link is Link.RECONNECTING and message.attempt == 1:
            self.notify(f"lost the master: {message.detail}", severity="warning", markup=False)

    def on_events_arrived(self, message: EventsArrived) -> None:
        if not self.is_running:
            return
        batch = message.batch
        store = self.store
        for worker in batch.workers.values():
            store.upsert_worker(worker)
        for account in batch.accounts.values():
            store.upsert_account(account)
        store.apply_live_counts(batch.items, batch.unread, batch.unread_after)
        for account_id in batch.deleted:
            store.remove_account(account_id)
        for ack in batch.config_acks:
            store.note_ack(ack)
            if not ack.ok:
                self.notify(
                    f"{ack.account_id}: config v{ack.config_version} failed: {ack.error}",
                    severity="error",
                    markup=False,
                )
        for notice in batch.notices:
            severity = {
                control_pb2.Notice.LEVEL_WARNING: "warning",
                control_pb2.Notice.LEVEL_ERROR: "error",
            }.get(notice.level, "information")
            # severity is one of the literals notify() takes; the dict types it as str.
            self.notify(notice.message, severity=severity, markup=False)  # type: ignore[arg-type]
        if batch.items:
            self.inbox.add_live(batch.items)
        for gone in batch.deleted.values():
            if gone.items_deleted:
                self.inbox.forget_account(gone.account_id)
        for update in batch.logins:
            self.login.observe(update)
        if batch.workers:
            self.fleet.show()
        # Items and counts alone only move the unread column; the 1 s tick
        # redraws that, so a burst never redraws a table of thousands of
        # accounts per batch. Counts arrive as unread events (after new items
        # and read marks by any client), so no recount is needed here.
        if batch.accounts or batch.config_acks or batch.deleted:
            self.accounts.show()
        if batch.accounts or batch.deleted:
            self.login.show()
        self.inbox.show()
        self._show_summary()

    # ------------------------------------------------------------ refreshes

    def action_refresh_all(self) -> None:
        self.refresh_all()

    @work(exclusive=True, group="refresh-all", exit_on_error=False)
    async def refresh_all(self) -> None:
        try:
            workers, accounts, unread = await asyncio.gather(
                self.client.list_workers(), self.client.list_accounts(), self.client.unread_counts()
            )
        except ControlError as exc:
            log.warning("refresh failed: %s", exc)
            return
        if not self.is_running:
            return
        self.store.set_workers(workers)
        self.store.set_accounts(accounts)
        self.store.set_unread(unread)
        self._show_all()
        self.inbox.reload()
        self.refresh_stats()
        self.full_refreshes += 1

    def _poll_workers(self) -> None:
        if self.pump.connected and self.is_running:
            self.refresh_workers()

    def _poll_accounts(self) -> None:
        if self.pump.connected and self.is_running:
            self.refresh_accounts()

    def _poll_stats(self) -> None:
        if self.pump.connected and self.is_running:
            self.refresh_stats()

    @work(exclusive=True, group="refresh-stats", exit_on_error=False)
    async def refresh_stats(self) -> None:
        try:
            stats = await self.client.get_stats()
        except ControlError as exc:
            log.info("stats poll failed: %s", exc)
            return
        if not self.is_running:
            return
        self.store.set_stats(stats)
        self.status.show_problems(self.store.problems, self.store.task_failures)
        self.fleet.show()

    @work(exclusive=True, group="refresh-workers", exit_on_error=False)
    async def refresh_workers(self) -> None:
        try:
            workers = await self.client.list_workers()
        except ControlError as exc:
            log.info("worker poll failed: %s", exc)
            return
        if not self.is_running:
            return
        self.store.set_workers(workers)
        self.fleet.show()
        self._show_summary()

    @work(exclusive=True, group="refresh-accounts", exit_on_error=False)
    async def refresh_accounts(self) -> None:
        try:
            accounts = await self.client.list_accounts()
        except ControlError as exc:
            log.info("account poll failed: %s", exc)
            return
        if not self.is_running:
            return
        self.store.set_accounts(accounts)
        self.accounts.show()
        self.login.show()
        self.inbox.show()
        self._show_summary()

    @work(exclusive=True, group="refresh-unread", exit_on_error=False)
    async def refresh_unread(self) -> None:
        # Debounced: a run of marks or account events costs one call.
        await asyncio.sleep(0.3)
        try:
            counts = await self.client.unread_counts()
        except ControlError as exc:
            log.info("unread count refresh failed: %s", exc)
            return
        if not self.is_running:
            return
        self.store.set_unread(counts)
        self.accounts.show()
        self.inbox.show()
        self._show_summary()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A bug in a background task must be seen, not take the console down.
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.task_errors.append(error)
            log.error("task %s failed: %r", event.worker.name, error, exc_info=error)
            self.notify(
                f"{event.worker.name} failed: {error}", severity="error", timeout=10, markup=False
            )

    # ------------------------------------------------------------ palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for tab in TABS:
            yield SystemCommand(
                f"Go to {tab.capitalize()}", f"show the {tab} tab", lambda t=tab: self.action_tab(t)
            )
        yield SystemCommand(
            "Refresh everything", "re-read workers, accounts, inbox", self.action_refresh_all
        )
        yield SystemCommand(
            "Restart worker(s)",
            "restart the marked or selected workers",
            lambda: self.fleet.action_act("restart"),
        )
        yield SystemCommand(
            "Stop worker(s)",
            "stop the marked or selected workers",
            lambda: self.fleet.action_act("stop"),
        )
        yield SystemCommand(
            "Start worker(s)",
            "start the marked or selected workers",
            lambda: self.fleet.action_act("start"),
        )
        yield SystemCommand("Scale workers", "run N workers", self.fleet.action_scale)
        yield SystemCommand(
            "Tail worker log", "follow the selected worker's log", self.fleet.action_toggle_log
        )
        yield SystemCommand("Add account", "register an account", self.accounts.action_add)
        yield SystemCommand(
            "Log in account", "QR login for the selected account", self.accounts.action_login
        )
        yield SystemCommand(
            "Mark account read",
            "mark every item of the account read",
            self.inbox.action_mark_account_read,
        )
        yield SystemCommand(
            "Unread only", "toggle the inbox's unread filter", self.inbox.action_toggle_unread
        )


def _log_to_file() -> None:
    """The terminal belongs to the UI; logs go to $HISCRM_HOME/logs/tui.log."""
    path = settings.home() / "logs" / "tui.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s tui %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hiscrm-tui", description="the hiscrm operator console")
    parser.add_argument(
        "--master",
        default=master_address(),
        help="master address host:port (default $HISCRM_MASTER or 127.0.0.1:50051)",
    )
    args = parser.parse_args(argv)
    token = settings.load_token()
    _log_to_file()
    HiscrmApp(args.master, token).run()


if __name__ == "__main__":
    main()
