"""hiscrm-tui: the operator console, a pure gRPC client of Control.

The app owns the client, the store and the event pump, and lists its panes
once (PANES). Panes read the store, call the client from Textual workers (so
no gRPC call runs on the UI's critical path), hear the store's announcements
and post messages (RefreshWanted, OpenWanted, Alerted) for anything beyond
themselves. The app knows a pane only as a Pane (show, open, focus_home,
commands); no pane imports the app.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar, Literal

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
from tui import alerts
from tui.client import ControlClient, ControlError, EventPump
from tui.messages import (
    Alerted,
    ConnectionChanged,
    EventsArrived,
    Link,
    OpenWanted,
    RefreshWanted,
)
from tui.screens.accounts import AccountsPane
from tui.screens.base import Pane, PaneContext
from tui.screens.conversations import ConversationsPane
from tui.screens.fleet import FleetPane
from tui.screens.items import ItemsPane
from tui.screens.login import LoginPane
from tui.state import Change, Store, Topic
from tui.theme import CSS, THEME
from tui.widgets.status import StatusBar

log = logging.getLogger(__name__)

WORKER_POLL_S = 2.0  # heartbeat figures are not pushed as events; poll them
ACCOUNT_POLL_S = 15.0  # a safety net: creates, changes and deletes all come as events
STATS_POLL_S = 5.0  # the master's problems are not pushed as events; poll them
# The tabs, in key order (1, 2, ...): adding a pane is one line here.
PANES: tuple[type[Pane], ...] = (FleetPane, AccountsPane, ConversationsPane, LoginPane, ItemsPane)
TABS = tuple(p.TAB for p in PANES)
SEVERITIES: dict[str, Literal["information", "warning", "error"]] = {
    "information": "information",
    "warning": "warning",
    "error": "error",
}


def screenshot_directory() -> Path:
    """~/Downloads where it exists (Textual's habit), else $HISCRM_HOME/screenshots."""
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else settings.home() / "screenshots"


class HiscrmApp(App[None]):
    TITLE = "hiscrm"
    CSS = CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"tab('{p.TAB}')", p.TITLE) for n, p in enumerate(PANES, 1)),
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
        self.pane_context = PaneContext(self.client, self.store, clock)
        self.pump = EventPump(self.client, self.post_message)
        self.task_errors: list[BaseException | None] = []  # seen by the tests
        self.full_refreshes = 0  # completed re-reads of everything
        self.sub_title = address
        self.register_theme(THEME)
        self.theme = THEME.name

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with TabbedContent(initial=self.initial_tab, id="tabs"):
            for pane in PANES:
                with TabPane(pane.TITLE, id=pane.TAB):
                    yield pane(self.pane_context, id=f"{pane.TAB}-pane")
        yield StatusBar(self.address, id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.store.subscribe(self._show_summary)
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
    # Typed look-ups for tests and benchmarks; the app itself goes by PANES.

    def pane(self, tab: str) -> Pane:
        return self.query_one(f"#{tab}-pane", Pane)

    @property
    def fleet(self) -> FleetPane:
        return self.query_one(FleetPane)

    @property
    def accounts(self) -> AccountsPane:
        return self.query_one(AccountsPane)

    @property
    def inbox(self) -> ConversationsPane:
        return self.query_one(ConversationsPane)

    @property
    def item_log(self) -> ItemsPane:
        return self.query_one(ItemsPane)

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
        # Focus inside the pane so its key bindings work and show in the footer.
        self.pane(tab).focus_home()

    def on_open_wanted(self, message: OpenWanted) -> None:
        self.action_tab(message.tab)
        self.pane(message.tab).open(message.key)

    def on_refresh_wanted(self, message: RefreshWanted) -> None:
        {
            "all": self.refresh_all,
            "workers": self.refresh_workers,
            "accounts": self.refresh_accounts,
            "unread": self.refresh_unread,
            "stats": self.refresh_stats,
        }[message.what]()

    def on_alerted(self, message: Alerted) -> None:
        severity = SEVERITIES.get(message.severity, "information")
        self._alert(alerts.Alert(message.text, severity, message.bell))

    def _alert(self, alert: alerts.Alert) -> None:
        self.notify(alert.text, severity=alert.severity, markup=False)
        if alert.bell:
            self.bell()

    def _show_summary(self, change: Change) -> None:
        if not change.touches(Topic.WORKERS, Topic.ACCOUNTS, Topic.UNREAD, Topic.ITEMS):
            return
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

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # Panes off screen are redrawn lazily; catch up when one is shown.
        if event.pane.id in TABS and self.full_refreshes:
            self.pane(event.pane.id).show()

    def _tick(self) -> None:
        # Ages ("beat 3s") move with the clock; redraw only what is visible.
        if not self.is_running:
            return
        shown = self.pane(self.query_one(TabbedContent).active)
        if shown.TICKS:
            shown.show()

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
            self._alert(alerts.Alert(f"lost the master: {message.detail}", "warning"))

    def on_events_arrived(self, message: EventsArrived) -> None:
        if not self.is_running:
            return
        batch = message.batch
        found = alerts.detect(self.store, batch) if self.full_refreshes else []
        change = self.store.apply(batch)
        for ack in batch.config_acks:
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
        self.store.announce(change)
        for alert in found:
            self._alert(alert)

    # ------------------------------------------------------------ refreshes

    def action_refresh_all(self) -> None:
        self.refresh_all()

    @work(exclusive=True, group="refresh-all", exit_on_error=False)
    async def refresh_all(self) -> None:
        try:
            me, workers, accounts, unread = await asyncio.gather(
                self.client.who_am_i(),
                self.client.list_workers(),
                self.client.list_accounts(),
                self.client.unread_counts(),
            )
        except ControlError as exc:
            log.warning("refresh failed: %s", exc)
            return
        if not self.is_running:
            return
        self.store.operator = me.name
        self.store.set_workers(workers)
        self.store.set_accounts(accounts)
        self.store.set_unread(unread)
        self.store.announce(Change(reloaded=True))
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
        self.store.announce(Change({Topic.STATS}))

    @work(exclusive=True, group="refresh-workers", exit_on_error=False)
    async def refresh_workers(self) -> None:
        try:
            workers = await self.client.list_workers()
        except ControlError as exc:
            log.info("worker poll failed: %s", exc)
            return
        if not self.is_running:
            return
        # A worker that went missing between events shows up here first.
        for alert in alerts.worker_alerts(self.store, workers) if self.full_refreshes else []:
            self._alert(alert)
        self.store.set_workers(workers)
        self.store.announce(Change({Topic.WORKERS}))

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
        self.store.announce(Change({Topic.ACCOUNTS}))

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
        self.store.announce(Change({Topic.UNREAD}))

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
        for pane in PANES:
            yield SystemCommand(
                f"Go to {pane.TITLE}",
                f"show the {pane.TITLE} tab",
                lambda t=pane.TAB: self.action_tab(t),
            )
        yield SystemCommand(
            "Refresh everything", "re-read workers, accounts, inbox", self.action_refresh_all
        )
        for shown in self.query(Pane):
            yield from shown.commands()


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
