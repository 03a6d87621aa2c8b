"""Add or edit an account: a form checked here for shape and by the master
for meaning; the master's INVALID_ARGUMENT text is shown inside the form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.validation import Integer
from textual.widgets import Button, Checkbox, Input, Label, Select

from hiscrm.v1 import common_pb2, control_pb2
from tui.client import ControlError
from tui.widgets.modals import Dialog

Save = Callable[[str, common_pb2.AccountSpec, list[str]], Awaitable[control_pb2.Account]]

PLATFORMS = [
    ("demo platform", common_pb2.PLATFORM_DEMO),
    ("Douyin", common_pb2.PLATFORM_DOUYIN),
    ("Xiaohongshu", common_pb2.PLATFORM_XIAOHONGSHU),
    ("synthetic (load tests)", common_pb2.PLATFORM_SYNTHETIC),
]
# What the master accepts in an update mask (master/accounts.py UPDATABLE).
SIMPLE_FIELDS = (
    "display_name",
    "enabled",
    "monitor_interval_ms",
    "proxy",
    "monitor_comments",
    "monitor_direct_messages",
)
# Which input a master error message is about, by the words it starts with.
ERROR_FIELDS = {
    "account_id": "#account_id",
    "spec.platform": "#platform",
    "spec.display_name": "#display_name",
    "spec.monitor_interval_ms": "#interval",
    "proxy": "#proxy",
    "spec.demo.base_url": "#demo_url",
}


class AccountForm(Dialog[control_pb2.Account | None]):
    DEFAULT_CSS = """
    AccountForm .dialog { width: 84; max-height: 95%; }
    AccountForm Label.field { color: $text-muted; }
    AccountForm Input.-server-invalid { border: tall $error; }
    AccountForm #checks { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, save: Save, account: control_pb2.Account | None = None) -> None:
        super().__init__()
        self._save = save
        self.original = account

    @property
    def editing(self) -> bool:
        return self.original is not None

    def compose(self) -> ComposeResult:
        a = self.original
        spec = a.spec if a is not None else None
        title = f"Edit account {a.account_id}" if a is not None else "Add an account"
        with VerticalScroll(classes="dialog"):
            yield Label(f"[b]{title}[/b]")
            yield Label("", classes="error", id="error", markup=False)
            yield Label("Account id (empty: generated)", classes="field")
            yield Input(a.account_id if a else "", id="account_id", disabled=self.editing)
            yield Label("Platform", classes="field")
            yield Select(
                PLATFORMS,
                value=spec.platform if spec else common_pb2.PLATFORM_DEMO,
                allow_blank=False,
                id="platform",
                disabled=self.editing,
            )
            yield Label("Display name", classes="field")
            yield Input(spec.display_name if spec else "", id="display_name")
            yield Label("Monitor interval (ms)", classes="field")
            yield Input(
                str(spec.monitor_interval_ms if spec else 30000),
                id="interval",
                validators=[Integer(minimum=1)],
            )
            yield Label("Proxy (scheme://[user:pass@]host:port, or empty)", classes="field")
            yield Input(spec.proxy if spec else "", id="proxy")
            with Horizontal(id="checks"):
                yield Checkbox("Enabled", spec.enabled if spec else True, id="enabled")
                yield Checkbox("Comments", spec.monitor_comments if spec else True, id="comments")
                yield Checkbox(
                    "Direct messages", spec.monitor_direct_messages if spec else True, id="dms"
                )
            yield Label("Demo platform URL", classes="field demo")
            yield Input(spec.demo.base_url if spec else "", id="demo_url", classes="demo")
            yield Label("Demo platform username", classes="field demo")
            yield Input(spec.demo.username if spec else "", id="demo_user", classes="demo")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._show_demo_fields()
        first = "#display_name" if self.editing else "#account_id"
        self.query_one(first, Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        self._show_demo_fields()

    def _show_demo_fields(self) -> None:
        is_demo = self.query_one("#platform", Select).value == common_pb2.PLATFORM_DEMO
        for widget in self.query(".demo"):
            widget.display = is_demo

    def build(self) -> tuple[str, common_pb2.AccountSpec, list[str]] | str:
        """(account id, spec, update paths), or an error message."""
        interval = self.query_one("#interval", Input).value.strip()
        if not interval.isdigit():
            return "monitor interval must be a whole number of milliseconds"
        platform = self.query_one("#platform", Select).value
        spec = common_pb2.AccountSpec(
            # the Select holds Platform values (typed int by the generated stubs)
            platform=cast(common_pb2.Platform, platform if isinstance(platform, int) else 0),
            display_name=self.query_one("#display_name", Input).value.strip(),
            enabled=self.query_one("#enabled", Checkbox).value,
            monitor_interval_ms=int(interval),
            proxy=self.query_one("#proxy", Input).value.strip(),
            monitor_comments=self.query_one("#comments", Checkbox).value,
            monitor_direct_messages=self.query_one("#dms", Checkbox).value,
        )
        if spec.platform == common_pb2.PLATFORM_DEMO:
            url = self.query_one("#demo_url", Input).value.strip()
            user = self.query_one("#demo_user", Input).value.strip()
            if not url or not user:
                return "a demo account needs the demo platform URL and a username"
            spec.demo.base_url, spec.demo.username = url, user
        elif self.original is not None and self.original.spec.HasField("synthetic"):
            spec.synthetic.CopyFrom(self.original.spec.synthetic)
        account_id = self.query_one("#account_id", Input).value.strip()
        if self.original is None:
            return account_id, spec, []
        before = self.original.spec
        paths = [f for f in SIMPLE_FIELDS if getattr(spec, f) != getattr(before, f)]
        if spec.HasField("demo") and spec.demo != before.demo:
            paths.append("demo")
        return self.original.account_id, spec, paths

    def show_error(self, message: str) -> None:
        self.query_one("#error", Label).update(message)
        for prefix, selector in ERROR_FIELDS.items():
            widget = self.query_one(selector)
            bad = message.startswith(prefix)
            widget.set_class(bad, "-server-invalid")
            if bad:
                widget.focus()  # straight to the field to fix

    @work(exclusive=True, group="account-form", exit_on_error=False)
    async def action_save(self) -> None:
        built = self.build()
        if isinstance(built, str):
            self.show_error(built)
            return
        account_id, spec, paths = built
        if self.editing and not paths:
            self.dismiss(None)
            return
        try:
            account = await self._save(account_id, spec, paths)
        except ControlError as exc:
            # Shown in the form so the operator can fix the field and retry.
            self.show_error(exc.details if exc.invalid_argument else str(exc))
            return
        self.dismiss(account)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
