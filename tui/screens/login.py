"""Login: the platform's QR drawn in the terminal for a phone to scan, the
login's state as it moves, the SMS code box, and cancel. For demo-platform
accounts a 'scan' button plays the phone, so a login needs no phone at all."""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar, cast

import aiohttp
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from demosite.client import DemoAdmin
from hiscrm.v1 import control_pb2
from hiscrm_common import qrterm
from tui import format as fmt
from tui.client import ControlError
from tui.screens.base import Pane
from tui.state import Change, Topic

log = logging.getLogger(__name__)

FINAL = frozenset({"success", "failed", "expired", "cancelled"})
ELSEWHERE = " (started by another client)"


async def demo_scan(base_url: str, username: str, qr_content: str) -> None:
    """What the phone does on the demo platform: confirm the QR as the user."""
    await DemoAdmin(base_url, timeout_s=10).scan(username, qr_content)


class LoginPane(Pane):
    TAB = "login"
    TITLE = "Login"
    FOCUS = "#login-start"
    DEFAULT_CSS = """
    LoginPane #login-bar { height: auto; }
    LoginPane #login-bar Select { width: 40; }
    LoginPane #login-bar Button { margin-left: 1; }
    LoginPane #login-state { height: auto; padding: 0 1; text-style: bold; }
    LoginPane #qr-box { height: 1fr; }
    LoginPane #qr { width: auto; padding: 0 2; }
    LoginPane #verify { height: auto; display: none; padding: 0 1; }
    LoginPane.-verify #verify { display: block; }
    LoginPane #verify Input { width: 24; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *Pane.BINDINGS,
        Binding("s", "scan", "Scan on demo"),
        Binding("c", "cancel", "Cancel login"),
    ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # Pane's
        self.session_id = ""
        self.account_id = ""
        self.qr_content = ""
        self.qr_text = ""
        self.state = "idle"
        self.running = False
        # Following another client's login (seen on the event stream).
        self.watching = False
        self._own: set[str] = set()  # session ids of this pane's own logins

    def compose(self) -> ComposeResult:
        with Horizontal(id="login-bar"):
            yield Select([], prompt="account to log in", id="login-account")
            yield Button("Start login", variant="primary", id="login-start")
            yield Button("Scan on the demo platform", id="login-scan", disabled=True)
            yield Button("Cancel", variant="error", id="login-cancel", disabled=True)
        yield Label("pick an account and press Start login", id="login-state", markup=False)
        with Vertical(id="verify"):
            yield Label("", id="verify-hint", markup=False)
            with Horizontal():
                yield Input(placeholder="SMS code", id="code", max_length=12)
                yield Button("Submit code", id="code-submit")
        with VerticalScroll(id="qr-box"):
            yield Static("", id="qr", markup=False)

    def changed(self, change: Change) -> None:
        if change.touches(Topic.ACCOUNTS):
            self.show()
        for update in change.logins:
            self.observe(update)

    def open(self, key: str) -> None:
        self.begin(key)

    def show(self) -> None:
        """Keep the account picker in step with the store."""
        select = cast(Select[str], self.query_one("#login-account", Select))
        options = [
            (
                f"{a.account_id}  ({fmt.platform(a.spec.platform)}, {fmt.run_state(a.state)})",
                a.account_id,
            )
            for a in sorted(self.store.accounts.values(), key=lambda a: a.account_id)
        ]
        current = select.value
        if getattr(self, "_options", None) != options:
            self._options = options
            select.set_options(options)
            if isinstance(current, str) and current in self.store.accounts:
                select.value = current

    # ------------------------------------------------------------ the flow

    def begin(self, account_id: str) -> None:
        select = self.query_one("#login-account", Select)
        self.show()
        if account_id in self.store.accounts:
            select.value = account_id
        self.account_id = account_id
        self.session_id = ""
        self.qr_content = ""
        self.watching = False
        self._set_qr("")
        self.set_class(False, "-verify")
        self._set_state(f"{account_id}: starting login…")
        self.run_login(account_id)

    @work(exclusive=True, group="login", exit_on_error=False)
    async def run_login(self, account_id: str) -> None:
        self.running = True
        self._buttons()
        try:
            async for update in self.client.start_login(account_id):
                self._own.add(update.session_id)
                self.apply(update)
        except ControlError as exc:
            self._set_state(f"{account_id}: failed: {exc.code}: {exc.details}")
        except asyncio.CancelledError:
            # A newer login replaced this one, or the app is closing: the
            # widgets may be gone, so leave them alone.
            self.running = False
            raise
        self.running = False
        self._buttons()

    def observe(self, update: control_pb2.LoginUpdate) -> None:
        """A login seen on the event stream. This pane's own logins show
        through their own stream; another client's is followed while this
        pane runs none, so its QR and progress show on every console."""
        if update.session_id in self._own or self.running:
            return
        kind = update.WhichOneof("event")
        if not self.watching or update.session_id != self.session_id:
            if kind in FINAL:
                return  # ended before this console saw it start: nothing to follow
            self.watching = True
            self.session_id = update.session_id
            self.account_id = update.account_id
            self.qr_content = ""
            self._set_qr("")
            self.set_class(False, "-verify")
            select = self.query_one("#login-account", Select)
            if update.account_id in self.store.accounts:
                select.value = update.account_id
            self.notify(f"{update.account_id}: login started by another client", markup=False)
        self.apply(update)
        if kind in FINAL:
            self.watching = False
            self._buttons()

    def apply(self, update: control_pb2.LoginUpdate) -> None:
        self.session_id = update.session_id or self.session_id
        kind = update.WhichOneof("event")
        who = update.account_id or self.account_id
        if kind == "started":
            self._set_state(f"{who}: login started on {update.worker_id or 'its worker'}")
        elif kind == "qr":
            self.qr_content = update.qr.content
            try:
                self._set_qr(qrterm.render(update.qr.png))
            except qrterm.QrImageError as exc:
                self._set_qr(f"(cannot draw the QR: {exc})\n{update.qr.content}")
            again = f", refreshed {update.qr.refresh_count}x" if update.qr.refresh_count else ""
            self._set_state(f"{who}: waiting for a scan{again}")
        elif kind == "scanned":
            self._set_state(f"{who}: scanned, confirm on the phone")
        elif kind == "verification_required":
            hint = update.verification_required.hint or "the account's phone"
            self.query_one("#verify-hint", Label).update(f"Enter the code sent to {hint}:")
            self.add_class("-verify")
            self.query_one("#code", Input).focus()
            self._set_state(f"{who}: verification required")
        elif kind == "success":
            user = update.success
            self.set_class(False, "-verify")
            self._set_qr("")
            self._set_state(
                f"{who}: success, logged in as {user.nickname or user.platform_user_id}"
            )
        elif kind == "failed":
            kind_text = fmt.error_kind(update.failed.kind)
            self._set_state(f"{who}: failed: {kind_text} {update.failed.reason}".rstrip())
        elif kind == "expired":
            self._set_state(f"{who}: expired: {update.expired.reason}")
        elif kind == "cancelled":
            self._set_state(f"{who}: cancelled: {update.cancelled.reason}")
        self._buttons()

    def _set_state(self, text: str) -> None:
        if self.watching:
            text += ELSEWHERE
        self.state = text
        self.query_one("#login-state", Label).update(text)

    def _set_qr(self, text: str) -> None:
        self.qr_text = text
        self.query_one("#qr", Static).update(text)

    def _buttons(self) -> None:
        account = self.store.accounts.get(self.account_id)
        demo = account is not None and account.spec.HasField("demo")
        active = self.running or self.watching
        self.query_one("#login-scan", Button).disabled = not (active and demo and self.qr_content)
        self.query_one("#login-cancel", Button).disabled = not active

    # ------------------------------------------------------------ actions

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id
        if button == "login-start":
            value = self.query_one("#login-account", Select).value
            if isinstance(value, str):
                self.begin(value)
            else:
                self.notify("pick an account first", severity="warning", markup=False)
        elif button == "login-scan":
            self.action_scan()
        elif button == "login-cancel":
            self.action_cancel()
        elif button == "code-submit":
            self.submit_code()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "code":
            self.submit_code()

    @work(group="login-actions", exit_on_error=False)
    async def submit_code(self) -> None:
        code = self.query_one("#code", Input).value.strip()
        if not code or not self.session_id:
            return
        try:
            await self.client.submit_verification(self.session_id, code)
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        self.query_one("#code", Input).value = ""
        self.set_class(False, "-verify")
        self._set_state(f"{self.account_id}: code sent, checking…")

    @work(group="login-actions", exit_on_error=False)
    async def action_cancel(self) -> None:
        if not (self.running or self.watching) or not self.session_id:
            return
        try:
            await self.client.cancel_login(self.session_id)
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)

    @work(group="login-actions", exit_on_error=False)
    async def action_scan(self) -> None:
        account = self.store.accounts.get(self.account_id)
        if account is None or not account.spec.HasField("demo") or not self.qr_content:
            self.notify("no demo-platform QR to scan", severity="warning", markup=False)
            return
        demo = account.spec.demo
        try:
            await demo_scan(demo.base_url, demo.username, self.qr_content)
        except (aiohttp.ClientError, OSError, RuntimeError, TimeoutError) as exc:
            log.warning("demo scan for %s failed: %s", self.account_id, exc)
            self.notify(f"demo scan failed: {exc}", severity="error", timeout=10, markup=False)
            return
        self.notify(f"scanned on the demo platform as {demo.username}", markup=False)
