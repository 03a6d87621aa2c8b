"""The Inbox's parts without a master: the filter line, the store's
conversation updates (per-operator unread), alerts, and the keys an agent
lives by, on the fake client."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from hiscrm.v1 import common_pb2, control_pb2
from tui import alerts
from tui.app import HiscrmApp
from tui.fake import NOW, FakeClient, conversations, item_event, items, ts
from tui.filters import DONE, OPEN, PENDING, FilterError, parse
from tui.messages import EventBatch
from tui.state import Store


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
        assert [(r.item_id, r.text) for r in sent] == [(31, "ok")]  # the last incoming item
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
