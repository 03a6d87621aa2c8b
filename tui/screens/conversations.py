"""Inbox: conversations as the unit of work (a DM per customer per account, a
comment thread per post), opening into the thread with the reply box.

Keys an agent lives by: n next unread, Enter open (marks read), r reply,
ctrl+n in the reply box sends and opens the next unread, [ and ] move the
"reply to" marker to an older or newer customer message of the open thread
(the reply answers the marked one; it starts on the newest), c claim, a
assign (a picker of the team), d done, p pending, o reopen, u mark unread,
s insert a saved reply, / filter. Keys act when no input is focused: Esc
leaves the reply box and the filter.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, Static

from hiscrm.v1 import control_pb2
from tui import assignees, reply_target, saved_replies
from tui import format as fmt
from tui.client import ControlError
from tui.filters import ConversationFilter, FilterError, parse
from tui.screens.base import Pane
from tui.state import Change, Topic
from tui.theme import ATTENTION, BAD, COMMENT_STYLE, DM_STYLE, GOOD, ME_STYLE, QUIET, styled
from tui.widgets import thread as threads
from tui.widgets.modals import ConfirmModal, TextModal
from tui.widgets.tables import selected_key, sync

DM = control_pb2.CONVERSATION_KIND_DIRECT_MESSAGE
OPEN = control_pb2.CONVERSATION_STATUS_OPEN
PENDING = control_pb2.CONVERSATION_STATUS_PENDING
DONE = control_pb2.CONVERSATION_STATUS_DONE
STATUS = {OPEN: ("open", GOOD), PENDING: ("pending", ATTENTION), DONE: ("done", QUIET)}
REPLY_TO = Binding.Group("Reply to", compact=True)  # [ and ] in the footer
LONG_WAIT_S = 3600.0  # a customer waiting longer than this is shown in red
COLUMNS = (
    ("mark", ""),
    ("kind", "kind"),
    ("customer", "customer"),
    ("account", "account"),
    ("last", "last message"),
    ("age", "age"),
    ("waiting", "waiting"),
    ("unread", "unread"),
    ("status", "status"),
    ("assignee", "assignee"),
    ("tags", "tags"),
)


def waiting_cell(c: control_pb2.Conversation, now: float) -> Text:
    at = fmt.seconds(c.waiting_since)
    if at is None:
        return Text("")
    style = BAD if now - at > LONG_WAIT_S else ATTENTION
    return styled(fmt.age(c.waiting_since, now), style)


def row_cells(c: control_pb2.Conversation, now: float, me: str) -> tuple[Text, ...]:
    unread = c.unread_count > 0
    bold = "bold" if unread else ""
    status, status_style = STATUS.get(c.status, ("?", QUIET))
    who = c.customer_name or c.customer_id or "?"
    if c.kind != DM:
        who = f"「{fmt.fit(c.post_title or c.post_id, 8)}」{who}"
    last = ("me: " if c.last_direction == control_pb2.DIRECTION_OUTGOING else "") + (
        c.last_message_text
    )
    assignee = c.assignee or "-"
    return (
        styled("●" if unread else "", ATTENTION),
        styled("DM" if c.kind == DM else "post", DM_STYLE if c.kind == DM else COMMENT_STYLE),
        styled(fmt.fit(who, 16), bold),
        styled(c.account_id, QUIET),
        styled(fmt.fit(last, 28), bold),
        styled(fmt.age(c.last_message_at, now), QUIET),
        waiting_cell(c, now),
        styled(str(c.unread_count) if unread else "", "bold" if unread else ""),
        styled(status, status_style),
        styled(assignee, ME_STYLE if c.assignee and c.assignee == me else ""),
        styled(" ".join(f"#{t}" for t in c.tags), ATTENTION if c.priority >= 3 else QUIET),
    )


class ConversationsPane(Pane):
    TAB = "inbox"
    TITLE = "Inbox"
    FOCUS = "#conversations"
    TICKS = True  # ages and waiting timers move with the clock

    DEFAULT_CSS = """
    ConversationsPane #c-filter { width: 1fr; }
    ConversationsPane #c-summary { padding: 0 1; color: $text-muted; height: 1; }
    ConversationsPane #inbox-body { height: 1fr; }
    ConversationsPane #conversations { width: 5fr; }
    ConversationsPane #thread-side { width: 3fr; }
    ConversationsPane #thread-title { text-style: bold; padding: 0 1; }
    ConversationsPane #thread { height: 1fr; padding: 0 1; }
    ConversationsPane #reply-to { height: 1; width: 1fr; color: $text-muted; padding: 0 1; }
    ConversationsPane #thread-result { height: auto; color: $text-muted; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *Pane.BINDINGS,
        Binding("n", "next_unread", "Next unread"),
        Binding("r", "reply", "Reply"),
        # one footer entry "[] Reply to"; the descriptions show in the keys panel
        Binding("left_square_bracket", "reply_target(-1)", "Reply to older", group=REPLY_TO),
        Binding("right_square_bracket", "reply_target(1)", "Reply to newer", group=REPLY_TO),
        Binding("c", "claim", "Claim"),
        Binding("a", "assign", "Assign"),
        Binding("d", "status('done')", "Done"),
        Binding("p", "status('pending')", "Pending", show=False),
        Binding("o", "status('open')", "Reopen", show=False),
        Binding("m", "mark_read", "Read", show=False),
        Binding("u", "mark_unread", "Unread"),
        Binding("s", "saved_reply", "Saved reply"),
        Binding("S", "save_reply", "Save as saved reply", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("ctrl+n", "reply_and_next", "Send & next", show=False),
    ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # Pane's
        self.filter = ConversationFilter()
        self.shown_ref = 0  # the conversation in the thread view
        self.thread: control_pb2.ConversationThread | None = None
        self.reply_to = 0  # the stored item the reply box answers (tui/reply_target.py)
        self.reply_note = ""  # why it moved on its own, until the agent moves it
        self.loaded = 0  # completed list loads, for tests

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: from:NAME post:ID tag:TAG @me @none since:2h is:unread"
            " is:done dm comments words… (Enter; Esc leaves)",
            id="c-filter",
        )
        yield Label("", id="c-summary", markup=False)
        with Horizontal(id="inbox-body"):
            table: DataTable[object] = DataTable(
                id="conversations", cursor_type="row", classes="framed"
            )
            table.border_title = "Conversations"
            for key, label in COLUMNS:
                table.add_column(label, key=key)
            yield table
            with Vertical(id="thread-side", classes="framed") as side:
                side.border_title = "Thread"
                yield Label("", id="thread-title", markup=False)
                with VerticalScroll(id="thread"):
                    yield Static("", id="thread-text", markup=False)
                yield Input(
                    placeholder="reply: Enter sends, ctrl+n sends and opens the next unread",
                    id="thread-reply",
                )
                yield Label("", id="reply-to", markup=False)
                yield Label("", id="thread-result", markup=False)

    # ------------------------------------------------------------ store

    def changed(self, change: Change) -> None:
        if change.reloaded:
            self.reload()
            return
        if change.touches(Topic.CONVERSATIONS):
            self.show()
            if any(
                u.conversation.conversation_ref == self.shown_ref
                and u.change == control_pb2.CONVERSATION_CHANGE_ITEMS
                for u in change.conversations
            ):
                self.load_thread(self.shown_ref)

    def open(self, key: str) -> None:
        if key.isdigit():
            self._select(int(key))
            self.load_thread(int(key))

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Next unread conversation", "jump to it", self.action_next_unread)
        yield SystemCommand("Claim conversation", "assign it to me", self.action_claim)
        yield SystemCommand(
            "Reply to an older message",
            "move the reply-to marker up the open thread ([)",
            lambda: self.action_reply_target(-1),
        )
        yield SystemCommand(
            "Reply to a newer message",
            "move the reply-to marker down the open thread (])",
            lambda: self.action_reply_target(1),
        )
        yield SystemCommand(
            "Reply to the newest message",
            "put the reply-to marker back on the newest customer message",
            self.action_reply_newest,
        )
        yield SystemCommand(
            "Insert saved reply", "pick one for the reply box", self.action_saved_reply
        )
        yield SystemCommand(
            "Save reply box as a saved reply",
            "for the team; {customer} {account} {operator} {post} are filled in",
            self.action_save_reply,
        )
        yield SystemCommand("Delete a saved reply", "pick one to delete", self.delete_saved_reply)

    # ------------------------------------------------------------ list

    @work(exclusive=True, group="conversations-load", exit_on_error=False)
    async def reload(self) -> None:
        try:
            resp = await self.client.list_conversations(self.filter.request())
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        self.store.set_conversations(resp.conversations)
        self.loaded += 1
        self.show()

    def listed(self) -> list[control_pb2.Conversation]:
        me = self.store.operator
        rows = [c for c in self.store.conversations.values() if self.filter.matches(c, me)]
        rows.sort(key=lambda c: (fmt.seconds(c.last_message_at) or 0.0, c.conversation_ref))
        return rows[::-1]

    def show(self) -> None:
        now, me = self.now(), self.store.operator
        rows = self.listed()
        table = self.query_one("#conversations", DataTable)
        sync(table, [(str(c.conversation_ref), row_cells(c, now, me)) for c in rows])
        unread = sum(1 for c in rows if c.unread_count)
        mine = sum(1 for c in rows if me and c.assignee == me)
        line = f"{len(rows)} conversations · {unread} unread · {mine} mine"
        if me:
            line += f" · you are {me}"
        self.query_one("#c-summary", Label).update(line)
        self._follow_cursor()

    def selected(self) -> control_pb2.Conversation | None:
        key = selected_key(self.query_one("#conversations", DataTable))
        return self.store.conversations.get(int(key)) if key else None

    def _select(self, ref: int) -> None:
        table = self.query_one("#conversations", DataTable)
        if str(ref) in table.rows:
            table.move_cursor(row=table.get_row_index(str(ref)), animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "conversations":
            self._follow_cursor()

    def _follow_cursor(self) -> None:
        c = self.selected()
        ref = c.conversation_ref if c else 0
        if ref != self.shown_ref:
            self.shown_ref = ref
            self.load_thread(ref, debounce=True)

    # ------------------------------------------------------------ thread

    @work(exclusive=True, group="thread", exit_on_error=False)
    async def load_thread(self, ref: int, debounce: bool = False, mark_read: bool = False) -> None:
        if debounce:
            await asyncio.sleep(0.15)  # a quick scroll costs one load
        title = self.query_one("#thread-title", Label)
        text = self.query_one("#thread-text", Static)
        if not ref:
            self.thread, self.reply_to, self.reply_note = None, 0, ""
            title.update("")
            text.update("no conversation selected")
            self._show_reply_to()
            return
        try:
            if mark_read:
                state = await self.client.mark_conversation_read(ref)
                self._set_unread(ref, state.unread_count)
            thread = await self.client.get_conversation(ref)
        except ControlError as exc:
            text.update(f"could not load the thread: {exc.code}: {exc.details}")
            return
        if ref != self.shown_ref:
            return  # the cursor moved on meanwhile
        # The marker stays on its message while this conversation is reloaded;
        # another conversation starts on its newest message.
        same = self.thread is not None and self.thread.conversation.conversation_ref == ref
        target = reply_target.settle(thread, self.reply_to if same else 0)
        if target.note:
            self.notify(target.note, severity="warning", markup=False)
        self.thread, self.reply_to, self.reply_note = thread, target.item_id, target.note
        # GetConversation answers with the caller's own unread count.
        self.store.upsert_conversation(thread.conversation)
        c = thread.conversation
        who = f" · {c.assignee}" if c.assignee else " · unassigned"
        tags = " " + " ".join(f"#{t}" for t in c.tags) if c.tags else ""
        title.update(threads.title(c) + who + tags)
        self._draw_thread()

    def on_resize(self) -> None:
        self._show_reply_to()  # its width is known only after a layout

    def _show_reply_to(self) -> None:
        """The line under the reply box: whom the reply goes to."""
        label = self.query_one("#reply-to", Label)
        if self.thread is None:
            label.update("")
            return
        width = label.content_region.width or 40  # 0 before the first layout
        # the note itself was a toast; here a sign that the target moved
        flag = "⚠ marked message gone · " if self.reply_note else ""
        line = reply_target.describe(self.thread, self.reply_to, width - cell_len(flag))
        label.update(flag + line)

    def _draw_thread(self) -> None:
        """The open thread with the reply-to marker, scrolled to show it,
        and the line saying whom the reply goes to."""
        thread = self.thread
        if thread is None:
            return
        drawn = threads.render(thread, self.now(), self.reply_to)
        self.query_one("#thread-text", Static).update(drawn)
        self._show_reply_to()
        scroll = self.query_one("#thread", VerticalScroll)
        newest = self.reply_to == reply_target.newest(thread)
        mark = drawn.plain.find(threads.MARKER)
        if newest or mark < 0:
            scroll.scroll_end(animate=False)
            return
        # the marked line, a few lines from the top (long messages wrap)
        cols = max(scroll.scrollable_content_region.width, 10)
        above = len(drawn[:mark].wrap(self.app.console, cols))
        self.call_after_refresh(scroll.scroll_to, y=max(0, above - 3), animate=False)

    def action_reply_target(self, step: int) -> None:
        """Moves the reply-to marker over the open thread's customer messages."""
        if self.thread is None:
            self.notify("open a conversation first", severity="warning", markup=False)
            return
        self.reply_to, self.reply_note = reply_target.move(self.thread, self.reply_to, step), ""
        self._draw_thread()

    def action_reply_newest(self) -> None:
        if self.thread is not None:
            self.reply_to, self.reply_note = reply_target.newest(self.thread), ""
            self._draw_thread()

    def _author(self, item_id: int) -> str:
        found = [s for s in self.thread.items if s.id == item_id] if self.thread else []
        return found[0].item.author_name if found else ""

    def _set_unread(self, ref: int, unread: int) -> None:
        c = self.store.conversations.get(ref)
        if c is not None:
            c.unread_count = unread
        self.show()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a conversation opens it: read, and the reply box focused."""
        c = self.selected()
        if event.data_table.id == "conversations" and c is not None:
            self.shown_ref = c.conversation_ref
            self.load_thread(c.conversation_ref, mark_read=True)
            self.action_reply()

    # ------------------------------------------------------------ keys

    def action_next_unread(self) -> None:
        """The next conversation with unread messages below the cursor (wrapping),
        opened and marked read."""
        rows = self.listed()
        if not rows:
            return
        current = self.selected()
        start = next(
            (
                i
                for i, c in enumerate(rows)
                if current and c.conversation_ref == current.conversation_ref
            ),
            -1,
        )
        for step in range(1, len(rows) + 1):
            c = rows[(start + step) % len(rows)]
            if c.unread_count and (
                current is None or c.conversation_ref != current.conversation_ref
            ):
                self._select(c.conversation_ref)
                self.shown_ref = c.conversation_ref
                self.load_thread(c.conversation_ref, mark_read=True)
                return
        self.notify("no unread conversation", markup=False)

    def action_reply(self) -> None:
        self.query_one("#thread-reply", Input).focus()

    def action_filter(self) -> None:
        self.query_one("#c-filter", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "c-filter":
            try:
                self.filter = parse(event.value, self.now())
            except FilterError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            self.reload()
            self.focus_home()
        elif event.input.id == "thread-reply":
            self.send_reply(event.value, and_next=False)

    def action_reply_and_next(self) -> None:
        box = self.query_one("#thread-reply", Input)
        self.send_reply(box.value, and_next=True)

    def _target(self) -> control_pb2.Conversation | None:
        c = self.store.conversations.get(self.shown_ref) or self.selected()
        if c is None:
            self.notify("no conversation selected", severity="warning", markup=False)
        return c

    @work(group="conversation-actions", exit_on_error=False)
    async def action_claim(self) -> None:
        c = self._target()
        if c is None:
            return
        try:
            updated = await self.client.claim_conversation(c.conversation_ref)
        except ControlError as exc:
            if exc.code != "ABORTED":
                self.notify(str(exc), severity="error", timeout=10, markup=False)
                return
            # Another operator holds it: taking it over is a decision, so ask.
            question = f"{exc.details}. Take {threads.title(c)} over?"
            if not await self.app.push_screen_wait(ConfirmModal(question, yes="Take over")):
                return
            taken = await self.call(self.client.claim_conversation(c.conversation_ref, True))
            if taken is None:
                return
            updated = taken
        self._apply(updated, f"claimed: {threads.title(updated)}")

    @work(group="conversation-actions", exit_on_error=False)
    async def action_assign(self) -> None:
        c = self._target()
        if c is None:
            return
        question = f"Assign {threads.title(c)} to:"
        name = await self.call(
            assignees.pick(self.app, self.client, question, c.assignee, self.store.operator)
        )
        if name is None:
            return  # Esc, or a failed listing (shown)
        if name == c.assignee:
            self.notify(f"already assigned to {name or 'nobody'}", markup=False)
            return
        updated = await self.call(self.client.assign_conversation(c.conversation_ref, name))
        if updated is not None:
            self._apply(updated, f"assigned to {updated.assignee or 'nobody'}")

    @work(group="conversation-actions", exit_on_error=False)
    async def action_status(self, status: str) -> None:
        c = self._target()
        if c is None:
            return
        value = {"open": OPEN, "pending": PENDING, "done": DONE}[status]
        updated = await self.call(self.client.set_conversation_status(c.conversation_ref, value))
        if updated is not None:
            self._apply(updated, f"{threads.title(updated)}: {status}")

    @work(group="conversation-actions", exit_on_error=False)
    async def action_mark_read(self) -> None:
        c = self._target()
        if c is not None:
            self._read_state(
                await self.call(self.client.mark_conversation_read(c.conversation_ref))
            )

    @work(group="conversation-actions", exit_on_error=False)
    async def action_mark_unread(self) -> None:
        c = self._target()
        if c is not None:
            ref = c.conversation_ref
            self._read_state(await self.call(self.client.mark_conversation_unread(ref)))

    def _read_state(self, state: control_pb2.ConversationReadState | None) -> None:
        if state is not None:
            self._set_unread(state.conversation_ref, state.unread_count)
            self.want_refresh("unread")

    def _apply(self, updated: control_pb2.Conversation, done: str) -> None:
        before = self.store.conversations.get(updated.conversation_ref)
        if before is not None and not updated.unread_count:
            updated.unread_count = before.unread_count
        self.store.upsert_conversation(updated)
        self.show()
        if updated.conversation_ref == self.shown_ref:
            self.load_thread(updated.conversation_ref)
        self.notify(done, markup=False)

    # ------------------------------------------------------------ saved replies

    @work(group="conversation-actions", exit_on_error=False)
    async def action_saved_reply(self) -> None:
        c = self._target()
        if c is None:
            return
        picked = await self.call(saved_replies.pick(self.app, self.client, "Insert a saved reply"))
        if not picked:
            return
        text = await self.call(self.client.render_saved_reply(picked.id, c.conversation_ref))
        if text is None:
            return
        box = self.query_one("#thread-reply", Input)
        box.value = f"{box.value} {text}".strip()
        box.focus()
        box.cursor_position = len(box.value)

    def action_save_reply(self) -> None:
        text = self.query_one("#thread-reply", Input).value.strip()
        if not text:
            self.notify(saved_replies.HOW_TO_SAVE, severity="warning", markup=False)
            return

        def named(name: str | None) -> None:
            if name:
                self.create_saved_reply(name, text)

        self.app.push_screen(TextModal("Save the reply box's text as a saved reply named:"), named)

    @work(group="conversation-actions", exit_on_error=False)
    async def create_saved_reply(self, name: str, text: str) -> None:
        saved = await self.call(self.client.create_saved_reply(name, text))
        if saved is not None:
            self.notify(f"saved reply {saved.name!r} created", markup=False)

    @work(group="conversation-actions", exit_on_error=False)
    async def delete_saved_reply(self) -> None:
        gone = await self.call(saved_replies.pick_and_delete(self.app, self.client))
        if gone:
            self.notify(f"saved reply {gone.name!r} deleted", markup=False)

    # ------------------------------------------------------------ reply

    @work(group="conversation-reply", exit_on_error=False)
    async def send_reply(self, text: str, *, and_next: bool) -> None:
        result = self.query_one("#thread-result", Label)
        c = self.store.conversations.get(self.shown_ref)
        text = text.strip()
        if c is None or not text:
            result.update("open a conversation and type a reply")
            return
        marked = (
            self.thread is not None
            and self.thread.conversation.conversation_ref == c.conversation_ref
        )
        target = (self.reply_to if marked else 0) or c.last_incoming_item_id or c.last_item_id
        if not target:
            result.update("nothing to reply to in this conversation")
            return
        box = self.query_one("#thread-reply", Input)
        box.disabled = True
        result.update(f"sending to {self._author(target) or c.customer_name or c.account_id}…")
        try:
            # The master marks the conversation read for me (a READ update follows).
            resp = await self.client.send_reply(target, text, uuid.uuid4().hex)
        except ControlError as exc:
            result.update(f"not sent: {exc.code}: {exc.details}")
            return
        finally:
            box.disabled = False
        if not resp.ok:
            result.update(f"not sent: {fmt.error_kind(resp.error_kind)}: {resp.error}")
            return
        box.value = ""
        by = f" by {resp.operator}" if resp.operator else ""
        result.update(f"sent ✓{by}")
        self.want_refresh("unread")
        self.load_thread(c.conversation_ref)
        if and_next:
            self.focus_home()
            self.action_next_unread()
        else:
            box.focus()
