"""Items: every live comment and DM as it arrived, with unread marks, filters
and search, mark read/unread, a DM conversation view and a reply box. The
raw log beside the Inbox of conversations."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import ClassVar, cast

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Checkbox, DataTable, Input, Label, Select, Static

from hiscrm.v1 import common_pb2, control_pb2
from tui import format as fmt
from tui.client import ControlError
from tui.screens.base import Pane
from tui.state import Change, Topic
from tui.theme import ME_STYLE, kind_cell, styled
from tui.widgets.tables import as_cells, keep_cursor, refill, selected_key
from tui.widgets.thread import outgoing, when

DM = common_pb2.ITEM_KIND_DIRECT_MESSAGE
# Rows kept on screen; older ones are a search away. Bounds the cost of a
# redraw after a burst, however large the burst.
VIEW_LIMIT = 300
# (key, title): "id" is the stored item's id, what grpcurl's MarkRead takes.
COLUMNS = (
    ("id", "#"),
    ("mark", ""),
    ("time", "time"),
    ("account", "account"),
    ("kind", "kind"),
    ("author", "author"),
    ("content", "content"),
    ("on", "on"),
)


def matches(
    stored: control_pb2.StoredItem,
    account_id: str | None,
    kind: int | None,
    unread_only: bool,
    query: str,
) -> bool:
    """The master's ListItems filter, applied to a live item."""
    item = stored.item
    if account_id is not None and item.account_id != account_id:
        return False
    if kind is not None and item.kind != kind:
        return False
    if unread_only and stored.read:
        return False
    q = query.casefold()
    return not q or q in item.content.casefold() or q in item.author_name.casefold()


class ItemsPane(Pane):
    TAB = "items"
    TITLE = "Items"
    FOCUS = "#items"
    DEFAULT_CSS = """
    ItemsPane #inbox-filters { height: auto; }
    ItemsPane #inbox-filters Select { width: 30; }
    ItemsPane #inbox-filters Checkbox { width: auto; }
    ItemsPane #f-search { width: 1fr; }
    ItemsPane #unread-summary { padding: 0 1; color: $text-muted; }
    ItemsPane #inbox-body { height: 1fr; }
    ItemsPane #items { width: 3fr; }
    ItemsPane #item-side { width: 2fr; padding: 0 1; }
    ItemsPane #item-title { text-style: bold; }
    ItemsPane #conversation { height: 1fr; }
    ItemsPane #reply-result { height: auto; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *Pane.BINDINGS,
        Binding("m", "mark_read", "Mark read"),
        Binding("U", "mark_unread", "Mark unread", show=False),
        Binding("M", "mark_account_read", "Mark account read"),
        Binding("u", "toggle_unread", "Unread only"),
        Binding("slash", "search", "Search"),
        Binding("r", "reply", "Reply"),
    ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # Pane's
        self.items: dict[int, control_pb2.StoredItem] = {}
        self.account_filter: str | None = None
        self.kind_filter: common_pb2.ItemKind | None = None
        self.unread_only = False
        self.query_text = ""
        self._account_options: list[tuple[str, str]] = []
        self._shown_id: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="inbox-filters"):
            yield Select([], prompt="all accounts", id="f-account")
            yield Select(
                [("comments", common_pb2.ITEM_KIND_COMMENT), ("DMs", DM)],
                prompt="comments and DMs",
                id="f-kind",
            )
            yield Checkbox("unread only", id="f-unread")
            yield Input(placeholder="search content or author (Enter)", id="f-search")
        yield Label("", id="unread-summary", markup=False)
        with Horizontal(id="inbox-body"):
            table: DataTable[object] = DataTable(id="items", cursor_type="row", classes="framed")
            table.border_title = "Items as they arrived"
            for key, title in COLUMNS:
                table.add_column(title, key=key)
            yield table
            with Vertical(id="item-side", classes="framed") as side:
                side.border_title = "Detail"
                yield Label("", id="item-title", markup=False)
                with VerticalScroll(id="conversation"):
                    yield Static("", id="conversation-text", markup=False)
                yield Input(placeholder="reply (Enter sends)", id="reply")
                yield Label("", id="reply-result", markup=False)

    # ------------------------------------------------------------ loading

    def current_request(self) -> control_pb2.ListItemsRequest:
        return control_pb2.ListItemsRequest(
            account_ids=[self.account_filter] if self.account_filter else [],
            kinds=[self.kind_filter] if self.kind_filter else [],
            unread_only=self.unread_only,
            query=self.query_text,
            page_size=VIEW_LIMIT,
        )

    @work(exclusive=True, group="inbox-load", exit_on_error=False)
    async def reload(self) -> None:
        try:
            resp = await self.client.list_items(self.current_request())
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        self.items = {s.id: s for s in resp.items}
        self._shown_id = -1  # a fresh list may say more of the shown item (who replied)
        self.render_items()

    def add_live(self, items: list[control_pb2.StoredItem]) -> None:
        """Live items from one event batch: one table update, however many."""
        wanted = [
            s
            for s in items
            if s.id not in self.items
            and matches(s, self.account_filter, self.kind_filter, self.unread_only, self.query_text)
        ][-VIEW_LIMIT:]
        if not wanted:
            return
        shown = self.items.get(self._shown_id or 0)
        if shown is not None and shown.item.kind == DM:
            conversation = (shown.item.account_id, shown.item.conversation_id)
            if any((s.item.account_id, s.item.conversation_id) == conversation for s in wanted):
                self._shown_id = -1  # the open conversation grew: load it again
        for s in wanted:
            self.items[s.id] = s
        dropped = sorted(self.items)[: max(0, len(self.items) - VIEW_LIMIT)]
        for item_id in dropped:
            del self.items[item_id]
        table = self.query_one("#items", DataTable)
        if len(wanted) > VIEW_LIMIT // 4 or not table.row_count:
            self.render_items()  # most rows change anyway: one refill
            return
        # A few new rows: add them and drop the oldest, so only they are
        # measured, then sort (newest first) and keep the cursor's item.
        key, row_index = selected_key(table), table.cursor_row
        now = self.now()
        for s in wanted:
            if s.id in self.items:
                table.add_row(*as_cells(self._cells(s, now)), key=str(s.id))
        for item_id in dropped:
            if str(item_id) in table.rows:
                table.remove_row(str(item_id))
        table.sort("id", reverse=True)
        keep_cursor(table, key, row_index)
        self.query_one("#unread-summary", Label).update(self.unread_summary())
        self._follow_cursor()

    def forget_account(self, account_id: str) -> None:
        """The account was deleted with its items: they leave the view."""
        gone = [i for i, s in self.items.items() if s.item.account_id == account_id]
        for item_id in gone:
            del self.items[item_id]
        if gone:
            self.render_items()

    # ------------------------------------------------------------ view

    def changed(self, change: Change) -> None:
        if change.reloaded:
            self.reload()
        if change.items:
            self.add_live(change.items)
        for account_id in change.deleted_with_items:
            self.forget_account(account_id)
        if change.touches(Topic.ACCOUNTS, Topic.UNREAD, Topic.ITEMS):
            self.show()

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Mark account read",
            "mark every item of the account read",
            self.action_mark_account_read,
        )
        yield SystemCommand(
            "Unread only", "toggle the item log's unread filter", self.action_toggle_unread
        )

    def show(self) -> None:
        """Account picker and unread summary from the store."""
        store = self.store
        options = [(a, a) for a in sorted(store.accounts)]
        if options != self._account_options:
            self._account_options = options
            select = cast(Select[str], self.query_one("#f-account", Select))
            select.set_options(options)
            if self.account_filter in store.accounts:
                select.value = self.account_filter
        self.query_one("#unread-summary", Label).update(self.unread_summary())

    def unread_summary(self) -> str:
        store = self.store
        scope = [self.account_filter] if self.account_filter else None
        counts = store.unread_total(scope)
        where = self.account_filter or "all accounts"
        return (
            f"unread {counts.total} in {where} "
            f"(comments {counts.comments}, DMs {counts.direct_messages})"
            f" · showing {len(self.items)}"
        )

    @staticmethod
    def _cells(s: control_pb2.StoredItem, now: float) -> tuple[object, ...]:
        item = s.item
        bold = "" if s.read else "bold"
        mine = outgoing(s)
        return (
            s.id,
            "" if s.read else "●",
            fmt.clock(when(s), now),
            item.account_id,
            kind_cell(item.kind == DM),
            styled(
                "me" if mine else fmt.one_line(item.author_name, 16), ME_STYLE if mine else bold
            ),
            styled(fmt.one_line(item.content, 60), bold),
            # a DM's conversation id is the platform's, meaningless to a person
            fmt.fit(item.post_title or ("DM" if item.kind == DM else item.post_id), 20),
        )

    def render_items(self) -> None:
        now = self.now()
        rows = [
            (str(item_id), self._cells(self.items[item_id], now))
            for item_id in sorted(self.items, reverse=True)
        ]
        refill(self.query_one("#items", DataTable), rows)
        self.query_one("#unread-summary", Label).update(self.unread_summary())
        self._follow_cursor()

    def selected(self) -> control_pb2.StoredItem | None:
        key = selected_key(self.query_one("#items", DataTable))
        return self.items.get(int(key)) if key else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "items":
            self._follow_cursor()

    def _follow_cursor(self) -> None:
        # A live redraw re-highlights the same row; only a new row needs a load.
        stored = self.selected()
        wanted = stored.id if stored else None
        if wanted != self._shown_id:
            self._shown_id = wanted
            self.show_item()

    @work(exclusive=True, group="conversation", exit_on_error=False)
    async def show_item(self) -> None:
        # Cursor keys fire this per row; wait so a quick scroll costs one load.
        await asyncio.sleep(0.15)
        stored = self.selected()
        title = self.query_one("#item-title", Label)
        text = self.query_one("#conversation-text", Static)
        if stored is None:
            title.update("")
            text.update("")
            return
        item = stored.item
        if item.kind != DM:
            title.update(f"comment on {item.post_title or item.post_id} ({item.account_id})")
            replied = f"\n\n(replied by {stored.replied_by})" if stored.replied_by else ""
            text.update(f"{item.author_name}: {item.content}{replied}")
            return
        title.update(f"DMs with {item.author_name or '?'} ({item.account_id})")
        req = control_pb2.ListItemsRequest(
            account_ids=[item.account_id],
            conversation_id=item.conversation_id,
            page_size=200,
            sort=control_pb2.ITEM_SORT_CREATED,  # the platform's order, not arrival
        )
        try:
            resp = await self.client.list_items(req)
        except ControlError as exc:
            text.update(f"{item.author_name}: {item.content}\n\n(could not load the rest: {exc})")
            return
        lines = [f"{_speaker(s)}: {s.item.content}" for s in reversed(resp.items)]
        text.update("\n".join(lines) or f"{item.author_name}: {item.content}")
        self.query_one("#conversation", VerticalScroll).scroll_end(animate=False)

    # ------------------------------------------------------------ filters

    def on_select_changed(self, event: Select.Changed) -> None:
        value = event.value
        if event.select.id == "f-account":
            self.account_filter = value if isinstance(value, str) else None
        elif event.select.id == "f-kind":
            # the Select holds ItemKind values (typed int by the generated stubs)
            self.kind_filter = cast(common_pb2.ItemKind, value) if isinstance(value, int) else None
        else:
            return
        self.reload()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "f-unread":
            self.unread_only = event.value
            self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "f-search":
            self.query_text = event.value.strip()
            self.reload()
        elif event.input.id == "reply":
            self.send_reply(event.value)

    def action_toggle_unread(self) -> None:
        box = self.query_one("#f-unread", Checkbox)
        box.value = not box.value

    def action_search(self) -> None:
        self.query_one("#f-search", Input).focus()

    def action_reply(self) -> None:
        self.query_one("#reply", Input).focus()

    # ------------------------------------------------------------ mark / reply

    @work(group="inbox-mark", exit_on_error=False)
    async def action_mark_read(self) -> None:
        stored = self.selected()
        if stored is None or stored.read:
            return
        try:
            await self.client.mark_read(item_ids=[stored.id])
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        self._mark_local([stored.id])
        self.store.count_read(stored.item.account_id, stored.item.kind)
        self.query_one("#unread-summary", Label).update(self.unread_summary())
        self.want_refresh("unread")

    @work(group="inbox-mark", exit_on_error=False)
    async def action_mark_account_read(self) -> None:
        stored = self.selected()
        account_id = self.account_filter or (stored.item.account_id if stored else None)
        if account_id is None:
            return
        try:
            n = await self.client.mark_read(account_id=account_id)
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        self._mark_local([i for i, s in self.items.items() if s.item.account_id == account_id])
        self.store.unread.pop(account_id, None)
        self.notify(f"{account_id}: {n} items marked read", markup=False)
        self.query_one("#unread-summary", Label).update(self.unread_summary())
        self.want_refresh("unread")

    @work(group="inbox-mark", exit_on_error=False)
    async def action_mark_unread(self) -> None:
        stored = self.selected()
        if stored is None or not stored.read:
            return
        if await self.call(self.client.mark_read(item_ids=[stored.id], unread=True)) is None:
            return
        self._mark_local([stored.id], read=False)
        self.want_refresh("unread")

    def _mark_local(self, ids: list[int], read: bool = True) -> None:
        table = self.query_one("#items", DataTable)
        for item_id in ids:
            stored = self.items.get(item_id)
            if stored is not None and stored.read != read:
                copy = control_pb2.StoredItem()
                copy.CopyFrom(stored)
                copy.read = read
                self.items[item_id] = copy
                if str(item_id) in table.rows:  # the mark goes, and the bold with it
                    cells = as_cells(self._cells(copy, self.now()))
                    for (column, _), cell in zip(COLUMNS, cells, strict=True):
                        table.update_cell(str(item_id), column, cell)

    @work(group="inbox-reply", exit_on_error=False)
    async def send_reply(self, text: str) -> None:
        stored = self.selected()
        result = self.query_one("#reply-result", Label)
        text = text.strip()
        if stored is None or not text:
            result.update("select an item and type a reply")
            return
        box = self.query_one("#reply", Input)
        box.disabled = True
        result.update(f"sending reply to {stored.item.author_name}…")
        try:
            resp = await self.client.send_reply(stored.id, text)
        except ControlError as exc:
            result.update(f"not sent: {exc.code}: {exc.details}")
            return
        finally:
            box.disabled = False
        if resp.ok:
            box.value = ""
            by = f" by {resp.operator}" if resp.operator else ""
            result.update(f"sent ✓{by} (platform id {resp.platform_item_id or '-'})")
            stored.replied_by = resp.operator
            self.show_item()
        else:
            result.update(f"not sent: {fmt.error_kind(resp.error_kind)}: {resp.error}")


def _speaker(s: control_pb2.StoredItem) -> str:
    if outgoing(s):
        return f"→ me ({s.replied_by})" if s.replied_by else "→ me"
    return s.item.author_name
