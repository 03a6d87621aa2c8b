"""Accounts: who is watched, by which worker, in what state; add, edit,
delete, enable/disable and log in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label

from hiscrm.v1 import common_pb2, control_pb2
from tui import format as fmt
from tui.client import ControlError
from tui.screens.base import Pane
from tui.state import Topic
from tui.theme import run_state_cell, styled
from tui.widgets.account_form import AccountForm
from tui.widgets.modals import ConfirmModal
from tui.widgets.tables import selected_key, sync

COLUMNS = (
    "account",
    "platform",
    "name",
    "state",
    "worker",
    "last cycle",
    "unread",
    "config",
    "proxy",
    "reason",
)


def config_cell(a: control_pb2.Account) -> str:
    """acked/version; a mark while the worker still runs an older config."""
    if not a.worker_id:
        return f"v{a.config_version}"
    mark = "" if a.acked_config_version == a.config_version else " pending"
    return f"{a.acked_config_version}/{a.config_version}{mark}"


def proxy_cell(a: control_pb2.Account) -> str:
    if not a.spec.proxy:
        return "direct"
    if not a.HasField("proxy_health"):
        return "unchecked"
    h = a.proxy_health
    return f"ok {h.latency_ms}ms" if h.ok else f"FAIL {fmt.one_line(h.detail, 30)}"


def page_line(a: control_pb2.Account) -> str:
    """The account's monitor page as its worker last measured it; "" when
    nothing was (no online worker runs it, or its adapter has no page)."""
    p = a.monitor_page
    if not (p.age_s or p.js_heap_used_bytes or p.renewals):
        return ""
    parts = [f"open {fmt.duration(p.age_s)}" if p.age_s else "none open"]
    if p.js_heap_used_bytes:
        parts.append(f"JS heap {p.js_heap_used_bytes / 1048576:.1f} MiB, {p.dom_nodes} nodes")
    parts.append(f"renewed {p.renewals}×")
    return "page: " + ", ".join(parts)


class AccountsPane(Pane):
    TAB = "accounts"
    TITLE = "Accounts"
    FOCUS = "#account-table"
    WATCHES = frozenset({Topic.ACCOUNTS, Topic.UNREAD})
    TICKS = True
    DEFAULT_CSS = """
    AccountsPane #account-table { height: 1fr; }
    AccountsPane #account-detail { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *Pane.BINDINGS,
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("d", "delete", "Delete"),
        Binding("t", "toggle_enabled", "Enable/disable"),
        Binding("l", "login", "Log in"),
    ]

    def compose(self) -> ComposeResult:
        table: DataTable[object] = DataTable(
            id="account-table", cursor_type="row", zebra_stripes=True, classes="framed"
        )
        table.border_title = "Accounts"
        table.add_columns(*COLUMNS)
        yield table
        yield Label("", id="account-detail", markup=False)

    def show(self) -> None:
        store, now = self.store, self.now()
        rows = []
        for account_id in sorted(store.accounts):
            a = store.accounts[account_id]
            state = run_state_cell(a.state, a.spec.enabled)
            unread = store.unread_of(account_id)
            rows.append(
                (
                    account_id,
                    (
                        account_id,
                        fmt.platform(a.spec.platform),
                        fmt.one_line(a.spec.display_name or a.user.nickname, 24),
                        state,
                        a.worker_id or "-",
                        fmt.age(a.last_cycle_at, now),
                        styled(str(unread), "bold" if unread else ""),
                        config_cell(a),
                        proxy_cell(a),
                        fmt.one_line(
                            " ".join(
                                p for p in (fmt.error_kind(a.error_kind), a.state_reason) if p
                            ),
                            40,
                        ),
                    ),
                )
            )
        sync(self.query_one("#account-table", DataTable), rows)
        self._show_detail()

    def _show_detail(self) -> None:
        a = self.selected()
        label = self.query_one("#account-detail", Label)
        if a is None:
            label.update("no accounts yet: press a to add one")
            return
        if a.has_session:
            who = a.user.nickname or a.user.platform_user_id or "?"
            handle = f" ({a.user.platform_user_id})" if a.user.platform_user_id else ""
            user = f"logged in as {who}{handle}"
        else:
            user = "no session: press l to log in"
        where = (
            f"{a.spec.demo.base_url} as {a.spec.demo.username}" if a.spec.HasField("demo") else ""
        )
        page = page_line(a)
        label.update(
            f"{a.account_id}: {user}; every {a.spec.monitor_interval_ms} ms"
            + (f"; {where}" if where else "")
            + (f"\n{page}" if page else "")
            + (f"\n{a.state_reason}" if a.state_reason else "")
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def selected(self) -> control_pb2.Account | None:
        key = selected_key(self.query_one("#account-table", DataTable))
        return self.store.accounts.get(key) if key else None

    # ------------------------------------------------------------ actions

    async def _save(
        self, account_id: str, spec: common_pb2.AccountSpec, paths: list[str]
    ) -> control_pb2.Account:
        client = self.client
        if paths:
            return await client.update_account(account_id, spec, paths)
        return await client.create_account(account_id, spec)

    def _saved(self, account: control_pb2.Account | None) -> None:
        if account is None:
            return
        self.store.upsert_account(account)
        self.notify(
            f"account {account.account_id} saved (config v{account.config_version})", markup=False
        )
        self.show()

    def action_add(self) -> None:
        self.app.push_screen(AccountForm(self._save), self._saved)

    def action_edit(self) -> None:
        account = self.selected()
        if account is not None:
            self.app.push_screen(AccountForm(self._save, account), self._saved)

    def action_delete(self) -> None:
        account = self.selected()
        if account is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.delete(account.account_id)

        self.app.push_screen(
            ConfirmModal(
                f"Delete account {account.account_id} and its stored items?", yes="Delete"
            ),
            confirmed,
        )

    @work(group="accounts", exit_on_error=False)
    async def delete(self, account_id: str) -> None:
        try:
            resp = await self.client.delete_account(account_id)
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        self.store.remove_account(account_id)
        self.notify(
            f"account {account_id} deleted ({resp.items_deleted} items removed)", markup=False
        )
        self.show()

    def action_toggle_enabled(self) -> None:
        account = self.selected()
        if account is not None:
            self.set_enabled(account.account_id, not account.spec.enabled)

    # Not action_toggle: that is DOMNode's own "toggle(attribute)" action.
    @work(group="accounts", exit_on_error=False)
    async def set_enabled(self, account_id: str, enabled: bool) -> None:
        spec = common_pb2.AccountSpec(enabled=enabled)
        try:
            updated = await self.client.update_account(account_id, spec, ["enabled"])
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        self.store.upsert_account(updated)
        self.notify(
            f"{updated.account_id} {'enabled' if updated.spec.enabled else 'disabled'}",
            markup=False,
        )
        self.show()

    def action_login(self) -> None:
        account = self.selected()
        if account is not None:
            self.want_open("login", account.account_id)

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Add account", "register an account", self.action_add)
        yield SystemCommand(
            "Log in account", "QR login for the selected account", self.action_login
        )
