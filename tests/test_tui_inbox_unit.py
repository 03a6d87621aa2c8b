"""The Inbox's parts without a master: the filter line, the store's
conversation updates (per-operator unread), alerts, the reply-to marker,
the assignee picker, and the keys an agent lives by, on the fake client."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label, OptionList, Static

from hiscrm.v1 import common_pb2, control_pb2
from tui import alerts, assignees, fake, reply_target
from tui.app import HiscrmApp
from tui.fake import NOW, FakeClient, conversations, item_event, items, thread, ts
from tui.filters import DONE, OPEN, PENDING, FilterError, parse
from tui.messages import EventBatch
from tui.screens.conversations import ConversationsPane
from tui.state import Store
from tui.widgets import thread as threads
from tui.widgets.modals import PickModal


def test_filter_words() -> None:
    f = parse("from:李 post:p1 tag:价格 @me since:2h is:unread dm 便宜", NOW)
    req = f.request()
    assert (req.customer, req.post_id, req.tag, req.assigned_to_me) == ("李", "p1", "价格", True)
    assert req.unread_only and req.query == "便宜"
    assert list(req.kinds) == [control_pb2.CONVERSATION_KIND_DIRECT_MESSAGE]
    assert req.since.seconds == int(NOW) - 7200
    assert list(req.statuses) == [OPEN, PENDING]  # the default: not done
    assert list(parse("is:done @none", NOW).request().statuses) == [DONE]
    assert parse("@none", NOW).request().unassigned_only
    assert parse("@bob", NOW).request().assignee == "bob"
    assert parse("since:2026-12-01", NOW).since == 1796083200.0
    with pytest.raises(FilterError, match="since:yesterday"):
        parse("since:yesterday", NOW)
    with pytest.raises(FilterError, match="is:later"):
        parse("is:later", NOW)


def test_filter_matches_live_conversations_like_the_master() -> None:
    rows = {c.conversation_ref: c for c in conversations()}
    assert parse("@alice", NOW).matches(rows[2], "alice")
    assert not parse("@me", NOW).matches(rows[2], "bob")
    assert parse("tag:价格", NOW).matches(rows[1], "")
    assert not parse("tag:价格", NOW).matches(rows[3], "")
    assert not parse("", NOW).matches(rows[4], "")  # done is hidden by default
    assert parse("is:all", NOW).matches(rows[4], "")
    assert parse("from:李 is:unread", NOW).matches(rows[1], "")
    assert not parse("since:1m", NOW).matches(rows[1], "")  # 90 s ago


def update(
    c: control_pb2.Conversation, change: int, operator: str = "", new: int = 0
) -> control_pb2.ConversationUpdate:
    return control_pb2.ConversationUpdate(
        conversation=c,
        change=change,
        operator=operator,
        new_incoming=new,  # type: ignore[arg-type]
    )


def test_unread_is_this_operators() -> None:
    store = Store(operator="ann")
    c = conversations()[0]
    store.set_conversations([c])  # ann has 2 unread
    sent = control_pb2.Conversation()
    sent.CopyFrom(c)
    sent.unread_count = 0  # events carry 0 unless it is a READ change
    store.update_conversation(update(sent, control_pb2.CONVERSATION_CHANGE_ITEMS, new=1))
    assert store.conversations[1].unread_count == 3
    store.update_conversation(update(sent, control_pb2.CONVERSATION_CHANGE_READ, "bob"))
    assert store.conversations[1].unread_count == 3  # bob read it, not ann
    store.update_conversation(update(sent, control_pb2.CONVERSATION_CHANGE_ASSIGNED, "bob"))
    assert store.conversations[1].unread_count == 3
    store.update_conversation(update(sent, control_pb2.CONVERSATION_CHANGE_READ, "ann"))
    assert store.conversations[1].unread_count == 0


def test_alerts_for_dms_logins_workers_and_rules() -> None:
    store = Store()
    worker = control_pb2.Worker(worker_id="w1", state=common_pb2.WORKER_STATE_ONLINE)
    acct = control_pb2.Account(account_id="a1", state=common_pb2.RUN_STATE_RUNNING)
    store.set_workers([worker])
    store.set_accounts([acct])
    batch = EventBatch()
    batch.add(control_pb2.Event(worker=control_pb2.Worker(worker_id="w1", state=2)))
    gone = control_pb2.Account(account_id="a1", state=common_pb2.RUN_STATE_NEEDS_LOGIN)
    batch.add(control_pb2.Event(account=gone))
    dms = [s for s in items(12) if s.item.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE]
    for n, s in enumerate(dms):
        s.read = False
        batch.add(item_event(s, n))
    mine = items(1, first_id=99)[0]
    mine.item.kind = common_pb2.ITEM_KIND_DIRECT_MESSAGE
    mine.direction = control_pb2.DIRECTION_OUTGOING
    batch.add(item_event(mine, 50))  # my own reply: no alert
    hit = update(conversations()[0], control_pb2.CONVERSATION_CHANGE_ITEMS, new=1)
    hit.rules_hit.append("price")
    batch.add(control_pb2.Event(conversation=hit))
    found = alerts.detect(store, batch)
    texts = [a.text for a in found]
    assert texts[0] == "worker w1 is down (missed its heartbeats)"
    assert texts[1] == "account a1 needs a login"
    assert texts[2].startswith(f"{len(dms)} new DMs from ")
    assert texts[3] == "rule price matched (顾客李)"
    assert all(a.bell for a in found) and len(found) == 4
    store.apply(batch)
    again = EventBatch()  # the same states once more: already said
    again.add(control_pb2.Event(worker=control_pb2.Worker(worker_id="w1", state=2)))
    again.add(control_pb2.Event(account=gone))
    assert alerts.detect(store, again) == []


def fake_app(tab: str = "inbox") -> HiscrmApp:
    return HiscrmApp("fake:0", "", client=FakeClient(), clock=lambda: NOW, initial_tab=tab)


async def loaded(pilot: Pilot[Any]) -> HiscrmApp:
    app = pilot.app
    assert isinstance(app, HiscrmApp)
    for _ in range(400):
        if app.inbox.loaded and app.inbox.thread is not None:
            return app
        await pilot.pause(0.05)
    raise AssertionError("the Inbox never loaded")


async def test_next_unread_reply_and_next_and_mark_unread() -> None:
    app = fake_app()
    async with app.run_test(size=(150, 40)) as pilot:
        await loaded(pilot)
        client = app.client
        assert isinstance(client, FakeClient)
        table = app.inbox.query_one("#conversations", DataTable)
        assert [str(k.value) for k in table.rows] == ["1", "2", "3"]  # newest first, done hidden
        assert str(table.get_row("1")[0]) == "●"
        await pilot.press("n")  # from 1 (the cursor) to the next unread: 3
        for _ in range(100):
            if app.inbox.thread and app.inbox.thread.conversation.conversation_ref == 3:
                break
            await pilot.pause(0.05)
        assert ("MarkConversationRead", 3) in [
            (m, r.conversation_ref) for m, r in client.calls if m == "MarkConversationRead"
        ]
        assert "「新品上市」" in str(app.inbox.query_one("#thread-title").content)
        assert "  ↳ " in str(app.inbox.query_one("#thread-text", Static).content)
        await pilot.press("r")
        box = app.inbox.query_one("#thread-reply", Input)
        assert app.focused is box
        await pilot.press("o", "k", "ctrl+n")  # send and go to the next unread: 1
        for _ in range(100):
            if app.inbox.thread and app.inbox.thread.conversation.conversation_ref == 1:
                break
            await pilot.pause(0.05)
        sent = [r for m, r in client.calls if m == "SendReply"]
        assert [(r.item_id, r.text) for r in sent] == [(32, "ok")]  # the newest incoming item
        assert app.focused is table
        await pilot.press("u")  # mark unread again
        for _ in range(100):
            if app.store.conversations[1].unread_count:
                break
            await pilot.pause(0.05)
        assert str(table.get_row("1")[0]) == "●"
        await pilot.press("slash")
        assert app.focused is app.inbox.query_one("#c-filter", Input)
        await pilot.press("escape")  # Esc leaves the field
        assert app.focused is table
    assert not app.task_errors


async def test_a_new_dm_rings_the_bell() -> None:
    app = fake_app()
    rung: list[str] = []
    app.bell = lambda: rung.append("bell")  # type: ignore[method-assign]
    async with app.run_test(size=(150, 40)) as pilot:
        await loaded(pilot)
        dm = items(3, first_id=700)[2]
        dm.read = False
        dm.received_at.CopyFrom(ts(NOW))
        app.pump.feed(item_event(dm, 1))
        app.pump.flush()
        for _ in range(100):
            if rung:
                break
            await pilot.pause(0.05)
        assert rung == ["bell"]
        assert any("new DM from 顾客702" in n.message for n in app._notifications)
    assert not app.task_errors


async def test_items_mark_unread_again() -> None:
    app = fake_app("items")
    async with app.run_test(size=(150, 40)) as pilot:
        for _ in range(400):
            if app.item_log.items:
                break
            await pilot.pause(0.05)
        table = app.item_log.query_one("#items", DataTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("9"), animate=False)
        await pilot.pause()
        assert str(table.get_row("9")[1]) == ""  # read
        await pilot.press("U")
        for _ in range(100):
            if str(table.get_row("9")[1]) == "●":
                break
            await pilot.pause(0.05)
        assert str(table.get_row("9")[1]) == "●"
        client = app.client
        assert isinstance(client, FakeClient)
        marks = [r for m, r in client.calls if m == "MarkRead"]
        assert [(list(r.item_ids), r.unread) for r in marks] == [([9], True)]
    assert not app.task_errors


def comment_thread() -> control_pb2.ConversationThread:
    """The fake comment thread: 30 a customer, 31 my reply under it, 32 a customer."""
    return thread(conversations()[2])


def test_the_reply_target_starts_newest_moves_and_stays() -> None:
    t = comment_thread()
    assert [s.id for s in reply_target.candidates(t)] == [30, 32]  # not my own reply
    assert reply_target.newest(t) == 32
    assert reply_target.settle(t, 0) == reply_target.Target(32)
    assert reply_target.move(t, 32, -1) == 30
    assert reply_target.move(t, 30, -1) == 30  # stops at the top
    assert reply_target.move(t, 30, 1) == 32
    assert reply_target.move(t, 0, -1) == 30  # from the default (the newest)
    # a new comment arrives: the marker stays where the agent put it
    later = t.items.add(id=33, conversation_ref=3)
    later.item.author_name, later.item.content = "新客", "还有吗"
    later.item.created_at.CopyFrom(ts(NOW))
    t.conversation.last_incoming_item_id = 33
    assert reply_target.settle(t, 30) == reply_target.Target(30)
    assert reply_target.settle(t, 32) == reply_target.Target(32)
    line = reply_target.describe(t, 30)
    assert line == "replying to 张三: 在吗？ · 2 later below" + reply_target.HINT
    narrow = reply_target.describe(t, 32, 40)  # the hint goes first, then the text shrinks
    assert narrow == "replying to 张三: 什么时… · 1 later below"
    # the marked comment is gone: the newest, and a note saying so
    del t.items[0]
    assert reply_target.settle(t, 30) == reply_target.Target(33, reply_target.GONE)
    assert reply_target.describe(control_pb2.ConversationThread(), 0).startswith("nothing")


def test_the_marked_message_is_drawn_marked() -> None:
    t = comment_thread()
    drawn = threads.render(t, NOW, target=30)
    lines = drawn.plain.splitlines()
    assert [n for n, line in enumerate(lines) if threads.MARKER in line] == [0]
    assert "▶ 张三: 在吗？" in lines[0]
    start = drawn.plain.index("张三")
    assert any(
        "reverse" in str(span.style) and span.start <= start < span.end for span in drawn.spans
    )
    assert threads.MARKER not in threads.render(t, NOW).plain


def test_assignee_choices() -> None:
    people = [
        control_pb2.Assignee(name="ann", role=control_pb2.ROLE_AGENT),
        control_pb2.Assignee(name="bob", role=control_pb2.ROLE_ADMIN),
    ]
    labels = assignees.choices(people, "bob", "ann")
    assert labels == [
        (assignees.NOBODY, ""),
        ("ann · agent (you)", "ann"),
        ("bob · admin · assigned now", "bob"),
    ]
    gone = assignees.choices(people, "old", "ann")  # revoked since: still shown as held
    assert gone[-1] == ("old · no live token · assigned now", "old")


async def comment_thread_open(pilot: Pilot[Any]) -> ConversationsPane:
    """The Inbox loaded and n pressed: the fake's comment thread (3) open."""
    inbox = (await loaded(pilot)).inbox
    await pilot.press("n")
    for _ in range(100):
        if inbox.thread and inbox.thread.conversation.conversation_ref == 3:
            return inbox
        await pilot.pause(0.05)
    raise AssertionError("the comment thread never opened")


async def test_a_marked_message_gone_falls_back_to_the_newest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = fake_app()
    async with app.run_test(size=(150, 40)) as pilot:
        inbox = await comment_thread_open(pilot)
        await pilot.press("left_square_bracket")
        assert inbox.reply_to == 30

        def without_first(c: control_pb2.Conversation) -> control_pb2.ConversationThread:
            t = thread(c)
            del t.items[0]
            return t

        monkeypatch.setattr(fake, "thread", without_first)
        inbox.load_thread(3)
        for _ in range(100):
            if inbox.reply_to != 30:
                break
            await pilot.pause(0.05)
        assert inbox.reply_to == 32
        assert str(inbox.query_one("#reply-to", Label).content).startswith(
            "⚠ marked message gone · replying to 张三"
        )
        assert any(reply_target.GONE in n.message for n in app._notifications)
        await pilot.press("left_square_bracket")  # moving it again clears the flag
        assert str(inbox.query_one("#reply-to", Label).content).startswith("replying to")
    assert not app.task_errors


async def test_reply_to_an_earlier_comment_and_assign_from_the_picker() -> None:
    app = fake_app()
    async with app.run_test(size=(150, 40)) as pilot:
        inbox = await comment_thread_open(pilot)
        client = app.client
        assert isinstance(client, FakeClient)
        assert inbox.reply_to == 32  # the newest customer comment
        label = inbox.query_one("#reply-to", Label)
        assert str(label.content).startswith("replying to 张三: 什么时候发货？")
        await pilot.press("left_square_bracket")
        assert inbox.reply_to == 30
        assert str(label.content).startswith("replying to 张三: 在吗？ · 1 later below")
        text = str(inbox.query_one("#thread-text", Static).content)
        assert "▶ 张三: 在吗？" in text
        inbox.load_thread(3)  # a reload keeps the marker
        for _ in range(100):
            if [m for m, _ in client.calls].count("GetConversation") >= 3:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        assert inbox.reply_to == 30
        await pilot.press("r", "o", "k", "enter")
        for _ in range(100):
            if any(m == "SendReply" for m, _ in client.calls):
                break
            await pilot.pause(0.05)
        sent = [r for m, r in client.calls if m == "SendReply"]
        assert [(r.item_id, r.text) for r in sent] == [(30, "ok")]
        await pilot.press("escape", "a")  # assign: a picker of the team
        for _ in range(100):
            if isinstance(app.screen, PickModal):
                break
            await pilot.pause(0.05)
        picker = app.screen
        assert isinstance(picker, PickModal)
        options = picker.query_one(OptionList)
        highlighted = options.get_option_at_index(options.highlighted or 0)
        assert "ops · no live token · assigned now" in str(highlighted.prompt)
        await pilot.press("b", "o", "b", "enter")
        for _ in range(100):
            if app.store.conversations[3].assignee == "bob":
                break
            await pilot.pause(0.05)
        assigned = [r.assignee for m, r in client.calls if m == "AssignConversation"]
        assert assigned == ["bob"]
        table = inbox.query_one("#conversations", DataTable)
        assert "bob" in str(table.get_row("3")[9])
        table.move_cursor(row=table.get_row_index("1"), animate=False)  # another conversation
        for _ in range(100):
            if inbox.thread and inbox.thread.conversation.conversation_ref == 1:
                break
            await pilot.pause(0.05)
        assert inbox.reply_to == 12  # back on the newest
    assert not app.task_errors
