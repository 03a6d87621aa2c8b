"""The Inbox of conversations, driven with Pilot against a real master, a
real worker (Chromium) and the demo platform: a DM thread with the reply in
order and read, a claim seen by a second console (and each console's own
read state), a saved reply inserted and sent, a reply to an older comment
marked in a comment thread, an assignment picked from the team."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, Static

from hiscrm.v1 import common_pb2, control_pb2
from tests.delivery_helpers import account, create
from tests.demo_helpers import admin, demo_spec
from tests.harness import Cluster, wait_for
from tests.test_tui import _log_in
from tui.app import HiscrmApp
from tui.widgets.modals import PickModal

pytestmark = pytest.mark.timeout(300)

T = TypeVar("T")
ONLINE = common_pb2.WORKER_STATE_ONLINE
RUNNING = common_pb2.RUN_STATE_RUNNING
NEEDS_LOGIN = common_pb2.RUN_STATE_NEEDS_LOGIN
KEY_OF = {" ": "space", "-": "minus", ".": "full_stop", "{": "left_curly_bracket"}


def agent_token(cluster: Cluster, name: str) -> str:
    made = cluster.call(
        "CreateToken", control_pb2.CreateTokenRequest(name=name, role=control_pb2.ROLE_AGENT)
    )
    return str(made.secret)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    home = tmp_path_factory.mktemp("tui-inbox") / "home"
    home.mkdir()
    cluster = Cluster(home=home)
    try:
        base = cluster.start_demosite()
        cluster.start_master()
        cluster.start_worker("inbox-w")
        cluster.wait_worker_state("inbox-w", ONLINE)
        create(cluster, "ib1", demo_spec(base, "demo1", interval_ms=1000))
        wait_for(lambda: account(cluster, "ib1").state == NEEDS_LOGIN, timeout=60, what="ib1 login")
        assert asyncio.run(_log_in(cluster, base, "ib1", "demo1")) == "success"
        wait_for(lambda: account(cluster, "ib1").state == RUNNING, timeout=60, what="ib1 running")
        yield cluster, base
    finally:
        cluster.stop_all()


async def until(pilot: Pilot[Any], probe: Callable[[], T], what: str, within: float = 60.0) -> T:
    """Let the app run until probe() is truthy; bounded, not a timing assertion."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.1)


@contextlib.asynccontextmanager
async def console(cluster: Cluster, token: str) -> AsyncIterator[tuple[HiscrmApp, Pilot[Any]]]:
    app = HiscrmApp(cluster.address, token, initial_tab="inbox")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.pump.connected and app.inbox.loaded, "connected")
        yield app, pilot
        assert not app.task_errors, app.task_errors


def conversation_with(app: HiscrmApp, text: str) -> control_pb2.Conversation | None:
    for c in app.inbox.listed():
        if text in c.last_message_text:
            return c
    return None


async def open_row(pilot: Pilot[Any], app: HiscrmApp, ref: int) -> None:
    table = app.inbox.query_one("#conversations", DataTable)
    await until(pilot, lambda: str(ref) in table.rows, "the conversation's row")
    table.focus()
    table.move_cursor(row=table.get_row_index(str(ref)), animate=False)
    await pilot.press("enter")  # open: read, and the reply box focused
    await until(
        pilot,
        lambda: (
            app.inbox.thread is not None and app.inbox.thread.conversation.conversation_ref == ref
        ),
        "the thread loaded",
    )


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*(KEY_OF.get(ch, ch) for ch in text))


def send_dm(base: str, who: str, text: str) -> None:
    admin(base, "/admin/messages", {"username": "demo1", "from_name": who, "text": text})


def thread_text(app: HiscrmApp) -> str:
    return str(app.inbox.query_one("#thread-text", Static).content)


async def test_dm_thread_shows_the_reply_in_order_and_read(live: tuple[Cluster, str]) -> None:
    cluster, base = live
    async with console(cluster, agent_token(cluster, "ann")) as (app, pilot):
        tag = uuid.uuid4().hex[:6]
        first, second = f"在吗-{tag}", f"多少钱-{tag}"
        await asyncio.to_thread(send_dm, base, f"顾客{tag}", first)
        await until(pilot, lambda: conversation_with(app, first), "the DM's conversation")
        await asyncio.to_thread(send_dm, base, f"顾客{tag}", second)
        c = await until(pilot, lambda: conversation_with(app, second), "the second DM")
        await until(
            pilot, lambda: app.store.conversations[c.conversation_ref].unread_count >= 2, "unread 2"
        )
        await open_row(pilot, app, c.conversation_ref)
        answer = f"yes-{tag}"
        await type_text(pilot, answer)
        await pilot.press("enter")
        result = app.inbox.query_one("#thread-result", Static)
        await until(pilot, lambda: "sent ✓ by ann" in str(result.content), "sent", 100)

        def in_order() -> bool:
            text = thread_text(app)
            return -1 < text.find(first) < text.find(second) < text.find(f"me (ann): {answer}")

        await until(pilot, in_order, "the customer's two messages, then my reply", 60)
        ref = c.conversation_ref
        await until(pilot, lambda: app.store.conversations[ref].unread_count == 0, "read")
        table = app.inbox.query_one("#conversations", DataTable)
        assert str(table.get_row(str(ref))[0]) == ""  # no unread mark
        # The master stores the reply as outgoing, never unread.
        resp = await asyncio.to_thread(
            cluster.call,
            "GetConversation",
            control_pb2.GetConversationRequest(conversation_ref=ref),
        )
        mine = [s for s in resp.items if s.item.content == answer]  # type: ignore[attr-defined]
        assert mine and all(s.direction == control_pb2.DIRECTION_OUTGOING for s in mine)
        assert all(s.read for s in mine)


async def test_a_claim_shows_on_a_second_console(live: tuple[Cluster, str]) -> None:
    cluster, base = live
    tag = uuid.uuid4().hex[:6]
    text = f"claim-me-{tag}"
    await asyncio.to_thread(send_dm, base, f"客{tag}", text)
    async with console(cluster, agent_token(cluster, "bea")) as (other, other_pilot):
        async with console(cluster, agent_token(cluster, "cal")) as (app, pilot):
            c = await until(pilot, lambda: conversation_with(app, text), "the conversation")
            await until(other_pilot, lambda: conversation_with(other, text), "on the other")
            table = app.inbox.query_one("#conversations", DataTable)
            await until(pilot, lambda: str(c.conversation_ref) in table.rows, "its row")
            table.focus()
            table.move_cursor(row=table.get_row_index(str(c.conversation_ref)), animate=False)
            await pilot.pause()
            await pilot.press("c")
            ref = c.conversation_ref
            await until(pilot, lambda: app.store.conversations[ref].assignee == "cal", "claimed")
            mine = other.inbox.query_one("#conversations", DataTable)
            await until(
                other_pilot,
                lambda: (
                    other.store.conversations[ref].assignee == "cal"
                    and "cal" in str(mine.get_row(str(ref))[9])
                ),
                "the claim on the other console",
            )
            # Read state is each operator's: cal opens it (read), bea has not.
            await pilot.press("enter")
            await until(pilot, lambda: app.store.conversations[ref].unread_count == 0, "read")
            await asyncio.to_thread(send_dm, base, f"客{tag}", f"{text}-again")
            await until(pilot, lambda: app.store.conversations[ref].unread_count == 1, "1 new")
            await until(
                other_pilot,
                lambda: other.store.conversations[ref].unread_count == 2,
                "both unread on the other console",
            )


async def test_a_saved_reply_is_inserted_and_sent(live: tuple[Cluster, str]) -> None:
    cluster, base = live
    tag = uuid.uuid4().hex[:6]
    await asyncio.to_thread(
        cluster.call,
        "CreateSavedReply",
        control_pb2.CreateSavedReplyRequest(name=f"hello-{tag}", text="{customer}您好，有货"),
    )
    customer = f"买家{tag}"
    question = f"有货吗-{tag}"
    await asyncio.to_thread(send_dm, base, customer, question)
    async with console(cluster, agent_token(cluster, "dee")) as (app, pilot):
        c = await until(pilot, lambda: conversation_with(app, question), "the conversation")
        await open_row(pilot, app, c.conversation_ref)
        await pilot.press("escape")  # leave the reply box: keys act on the Inbox again
        await pilot.press("s")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PickModal", "the picker")
        await type_text(pilot, tag)
        await pilot.press("enter")
        box = app.inbox.query_one("#thread-reply", Input)
        await until(pilot, lambda: box.value == f"{customer}您好，有货", "the rendered text")
        await pilot.press("enter")
        result = app.inbox.query_one("#thread-result", Static)
        await until(pilot, lambda: "sent ✓" in str(result.content), "sent", 100)
    replies = await asyncio.to_thread(admin, base, "/admin/replies?username=demo1")
    assert f"{customer}您好，有货" in [r["text"] for r in replies["replies"]]


def comment_on(base: str, post_id: str, who: str, text: str) -> dict[str, Any]:
    body = {"username": "demo1", "author_name": who, "text": text}
    if post_id:
        body["post_id"] = post_id
    made: dict[str, Any] = admin(base, "/admin/comments", body)["comment"]
    return made


async def test_a_reply_goes_to_the_marked_older_comment(live: tuple[Cluster, str]) -> None:
    """Two customers comment on one post; the agent marks the older comment
    with [, a third comment arrives, the agent replies: the platform and the
    master both have the reply under the older comment, not under a newer."""
    cluster, base = live
    tag = uuid.uuid4().hex[:6]
    older_text, newer_text = f"有红色吗-{tag}", f"包邮吗-{tag}"
    older = await asyncio.to_thread(comment_on, base, "", f"甲{tag}", older_text)
    newer = await asyncio.to_thread(comment_on, base, older["post_id"], f"乙{tag}", newer_text)
    async with console(cluster, agent_token(cluster, "eve")) as (app, pilot):
        c = await until(pilot, lambda: conversation_with(app, newer_text), "the post's thread")
        ref = c.conversation_ref
        await open_row(pilot, app, ref)

        def stored(text: str) -> int:
            thread = app.inbox.thread
            items = thread.items if thread and thread.conversation.conversation_ref == ref else []
            return next((s.id for s in items if s.item.content == text), 0)

        await until(pilot, lambda: stored(older_text) and stored(newer_text), "both comments")
        newer_id, older_id = stored(newer_text), stored(older_text)
        label = app.inbox.query_one("#reply-to", Static)
        await until(pilot, lambda: app.inbox.reply_to == newer_id, "the newest by default")
        assert f"replying to 乙{tag}: {newer_text}" in str(label.content)
        await pilot.press("escape")  # leave the reply box: [ moves the marker
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: app.inbox.reply_to == older_id, "the marker on the older")
        await until(
            pilot,
            lambda: f"replying to 甲{tag}: {older_text} · 1 later below" in str(label.content),
            "the line under the reply box",
        )
        marked = [line for line in thread_text(app).splitlines() if "▶" in line]
        assert len(marked) == 1 and older_text in marked[0]
        # a third customer comments meanwhile: the marker stays on the older one
        later_text = f"几号发货-{tag}"
        await asyncio.to_thread(comment_on, base, older["post_id"], f"丙{tag}", later_text)
        await until(pilot, lambda: stored(later_text), "the new comment in the thread", 100)
        assert app.inbox.reply_to == older_id
        await until(pilot, lambda: "2 later below" in str(label.content), "2 later below")
        await pilot.press("r")
        answer = f"有的-{tag}"
        await type_text(pilot, answer)
        await pilot.press("enter")
        result = app.inbox.query_one("#thread-result", Static)
        await until(pilot, lambda: "sent ✓ by eve" in str(result.content), "sent", 100)
        assert app.inbox.reply_to == older_id  # still marked after the reload

    replies = await asyncio.to_thread(admin, base, "/admin/replies?username=demo1")
    mine = [r for r in replies["replies"] if r["text"] == answer]
    assert [r["target_id"] for r in mine] == [older["comment_id"]]
    assert newer["comment_id"] != older["comment_id"]

    def parent_in_master() -> list[int]:
        resp = cluster.call(
            "GetConversation", control_pb2.GetConversationRequest(conversation_ref=ref)
        )
        return [
            s.parent_item_id
            for s in resp.items  # type: ignore[attr-defined]
            if s.item.content == answer and s.direction == control_pb2.DIRECTION_OUTGOING
        ]

    parents = await asyncio.to_thread(
        wait_for, parent_in_master, timeout=60, what="the reply in the master"
    )
    assert parents == [older_id]


async def test_assign_from_the_picker(live: tuple[Cluster, str]) -> None:
    """a opens a picker of the team's agents and admins with the current
    assignee highlighted; typing narrows it; "nobody" unassigns."""
    cluster, base = live
    tag = uuid.uuid4().hex[:6]
    colleague = f"gus{tag}"
    agent_token(cluster, colleague)
    text = f"assign-me-{tag}"
    await asyncio.to_thread(send_dm, base, f"客{tag}", text)
    async with console(cluster, agent_token(cluster, "fay")) as (app, pilot):
        c = await until(pilot, lambda: conversation_with(app, text), "the conversation")
        ref = c.conversation_ref
        table = app.inbox.query_one("#conversations", DataTable)
        await until(pilot, lambda: str(ref) in table.rows, "its row")
        table.focus()
        table.move_cursor(row=table.get_row_index(str(ref)), animate=False)

        async def picker() -> PickModal[str]:
            await pilot.press("a")
            modal = await until(
                pilot, lambda: app.screen if isinstance(app.screen, PickModal) else None, "picker"
            )
            return modal  # type: ignore[return-value]

        modal = await picker()
        labels = [label for label, _ in modal.choices]
        assert labels[0] == "nobody (unassign)" and "fay · agent (you)" in labels
        assert f"{colleague} · agent" in labels
        await type_text(pilot, colleague)
        await until(pilot, lambda: [n for _, n in modal.shown] == [colleague], "narrowed")
        await pilot.press("enter")
        await until(
            pilot,
            lambda: colleague in str(table.get_row(str(ref))[9]),
            "the colleague in the assignee column",
        )
        # again: the current assignee is highlighted; nobody unassigns
        modal = await picker()
        options = modal.query_one(OptionList)
        await until(pilot, lambda: options.highlighted is not None, "a highlight")
        shown = options.get_option_at_index(options.highlighted or 0)
        assert f"{colleague} · agent · assigned now" in str(shown.prompt)
        await type_text(pilot, "nobody")
        await pilot.press("enter")
        await until(pilot, lambda: str(table.get_row(str(ref))[9]) == "-", "unassigned")
    resp = await asyncio.to_thread(
        cluster.call, "GetConversation", control_pb2.GetConversationRequest(conversation_ref=ref)
    )
    assert resp.conversation.assignee == ""  # type: ignore[attr-defined]
