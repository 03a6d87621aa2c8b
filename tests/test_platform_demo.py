"""The demo adapter against the real demo platform (its own process) and the
worker's real Chromium: the creator centre is loaded once, then every cycle
reads the JSON APIs through the open page, so its live channel stays up; the
platform's counters (/admin/users/NAME "counters") show page loads, live
channel connects and API calls. Session expiry, captcha, rate limits and a
changed layout must still be seen by the next cycle without a reload."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hiscrm.v1 import common_pb2, gateway_pb2
from tests.demo_helpers import admin, scan
from tests.harness import Cluster
from tests.platform_helpers import (
    adapter_context,
    by_id,
    monitor_config,
    next_event,
    quick,
    screenshot_taken,
)
from worker.cursors import CursorStore
from worker.monitor import AccountMonitor
from worker.outbox import Outbox
from worker.platforms.base import AdapterContext
from worker.platforms.demo import DemoAdapter
from worker.platforms.errors import (
    AuthExpired,
    LayoutChanged,
    PlatformError,
    RateLimited,
    VerificationRequired,
)

pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.timeout(240)

WORKER = "w-demo"
ACCOUNT = "demo-acct-1"
USER = "demo1"
ME = "/api/creator/me"
MESSAGES = "/api/creator/messages"
WAIT_S = 20.0


async def bounded(probe: Callable[[], Any], what: str) -> Any:
    """Poll until probe is truthy; a bounded wait, not a timing assertion."""
    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                value = await asyncio.to_thread(probe)
                if value:
                    return value
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"gave up waiting for {what}") from None


def counters(base: str) -> dict[str, int]:
    return dict(admin(base, f"/admin/users/{USER}")["counters"])


def delta(before: dict[str, int], after: dict[str, int], key: str) -> int:
    return after.get(key, 0) - before.get(key, 0)


@contextlib.asynccontextmanager
async def demo_adapter(tmp_path: Path, cluster: Cluster) -> AsyncIterator[tuple[str, DemoAdapter]]:
    """The demo platform's base URL and a logged-in DemoAdapter on a real browser."""
    base = cluster.start_demosite()
    async with adapter_context(tmp_path, WORKER) as ctx:
        adapter = await logged_in(ctx, base)
        try:
            yield base, adapter
        finally:
            await adapter.close()


async def logged_in(ctx: AdapterContext, base: str) -> DemoAdapter:
    """A DemoAdapter whose account logged in by QR (the scan made over the
    platform's admin API), holding the session the login produced."""
    spec = {"demo": common_pb2.DemoOptions(base_url=base, username=USER)}
    adapter = DemoAdapter(monitor_config(ACCOUNT, common_pb2.PLATFORM_DEMO, **spec), ctx)
    quick(adapter)
    events = adapter.login("login-1", asyncio.Queue())
    try:
        first = await next_event(events)
        assert first.WhichOneof("event") == "qr", first
        await asyncio.to_thread(scan, base, first.qr.content, USER)
        done = first
        while done.WhichOneof("event") != "success":
            done = await next_event(events)
            assert done.WhichOneof("event") in ("scanned", "success"), done
    finally:
        await events.aclose()
    config = common_pb2.AccountConfig()
    config.CopyFrom(adapter.config)
    config.session = done.success.session
    config.config_version += 1
    await adapter.apply_config(config)
    return adapter


async def test_cycles_read_through_the_open_page_and_live_channel_survives_drops(
    tmp_path: Path, cluster: Cluster
) -> None:
    async with demo_adapter(tmp_path, cluster) as (base, adapter):
        live: list[common_pb2.Item] = []
        adapter.live_sink = live.extend

        first = await adapter.fetch_new("")
        user = admin(base, f"/admin/users/{USER}")
        kinds = [i.kind for i in first.items]
        # The whole seeded history on the first (loading) cycle, paged per list.
        assert kinds.count(common_pb2.ITEM_KIND_COMMENT) == user["comment_count"]
        assert kinds.count(common_pb2.ITEM_KIND_DIRECT_MESSAGE) == user["message_count"]
        assert adapter.loads == 1
        await bounded(adapter._live_open, "the live channel to open")
        before = counters(base)

        cursor, cycles = first.cursor, 6
        for n in range(cycles):
            admin(base, "/admin/comments", {"username": USER, "text": f"cycle-comment-{n}"})
            result = await adapter.fetch_new(cursor)
            texts = {i.content for i in result.items}
            assert f"cycle-comment-{n}" in texts  # read through the open page
            assert len(result.items) < len(first.items)  # only from the cursor on
            cursor = result.cursor
        after = counters(base)
        assert delta(before, after, "creator_page") == 0, after  # never reloaded
        assert delta(before, after, "live_connect") == 0, after  # one live channel all along
        assert delta(before, after, ME) == cycles, after  # the session proven every cycle
        assert adapter.loads == 1
        # Pushed live between cycles too (the outbox dedupes the two ways in).
        await bounded(
            lambda: {f"cycle-comment-{n}" for n in range(cycles)} <= {i.content for i in live},
            "the comments over the live channel",
        )

        admin(base, "/admin/messages", {"username": USER, "text": "live-dm-1"})
        await bounded(lambda: any(i.content == "live-dm-1" for i in live), "the live DM")

        # The network drops the live channel: the page reconnects it by itself.
        assert admin(base, "/admin/live/drop", {"username": USER})["dropped"] == 1
        await bounded(lambda: delta(after, counters(base), "live_connect") == 1, "a reconnect")
        await bounded(adapter._live_open, "the live channel to say hello again")
        admin(base, "/admin/messages", {"username": USER, "text": "live-dm-2"})
        await bounded(lambda: any(i.content == "live-dm-2" for i in live), "a DM after the drop")
        result = await adapter.fetch_new(cursor)
        assert "live-dm-2" in {i.content for i in result.items}
        final = counters(base)
        assert delta(before, final, "creator_page") == 0 and adapter.loads == 1, final

        # A live channel down for longer than the page's own reconnects take is
        # reopened by a reload (the clock is moved rather than waited out).
        admin(base, "/admin/live/drop", {"username": USER})
        await bounded(lambda: not adapter._live_open(), "the drop to be seen")
        adapter._live_down_since -= adapter.LIVE_GRACE_S + 1
        if not adapter._live_open():  # the page may have reconnected already
            await adapter.fetch_new(result.cursor)
            assert adapter.loads == 2


async def test_expiry_captcha_rate_limit_and_layout_are_seen_without_a_reload(
    tmp_path: Path, cluster: Cluster
) -> None:
    async with demo_adapter(tmp_path, cluster) as (base, adapter):
        cursor = (await adapter.fetch_new("")).cursor

        async def refused(
            switch: str,
            on: dict[str, Any],
            error: type[PlatformError],
            match: str,
            only_comments: bool = False,
        ) -> None:
            """The next cycle raises `error` with no page load (or, when only
            the comments list is refused, fails that step and still delivers
            the DMs); once switched back, the cycle after reloads the page (a
            failed cycle does) and reads."""
            await adapter.fetch_new(cursor)  # a cycle without a reload first
            before, loads = counters(base), adapter.loads
            admin(base, switch, {"username": USER, **on})
            admin(base, "/admin/messages", {"username": USER, "text": f"dm-while-{switch}"})
            if only_comments:
                result = await adapter.fetch_new(cursor)
                assert f"dm-while-{switch}" in {i.content for i in result.items}
                assert [step for step, _ in result.failures] == ["comments"]
                failure = result.failures[0][1]
                assert isinstance(failure, error) and match in str(failure)
            else:
                with pytest.raises(error, match=match) as err:
                    await adapter.fetch_new(cursor)
                failure = err.value
            assert failure.kind == error.kind
            assert screenshot_taken(failure.screenshot)
            assert delta(before, counters(base), "creator_page") == 0
            assert adapter.loads == loads
            off = {"variant": "v1"} if "variant" in on else {"on": False}
            admin(base, switch, {"username": USER, **off})
            await adapter.fetch_new(cursor)
            assert adapter.loads == loads + 1

        await refused("/admin/captcha", {"on": True}, VerificationRequired, "captcha")
        await refused("/admin/rate_limit", {"on": True}, RateLimited, "rate limited")
        await refused(
            "/admin/layout", {"variant": "v2"}, LayoutChanged, "'comments'", only_comments=True
        )

        # Expiry: the platform also tells the page over the live channel, and
        # the page's script leaves for /login; the session check still asks
        # (from the login page, same origin) and needs no creator page load.
        await adapter.fetch_new(cursor)
        before = counters(base)
        admin(base, "/admin/expire_session", {"username": USER})
        page = adapter.page
        assert page is not None
        await bounded(lambda: "/login" in page.url, "the page to leave for /login")
        with pytest.raises(AuthExpired, match="not logged in"):
            await adapter.fetch_new(cursor)
        assert delta(before, counters(base), "creator_page") == 0


async def test_a_failed_list_keeps_the_other_lists_items_and_its_own_state(
    tmp_path: Path, cluster: Cluster
) -> None:
    """Comments and DMs are separate steps of the monitor cycle: with the
    comments shape changed, the account's DMs still reach the outbox, the
    comments failure is the account state (naming the step), and the DMs'
    part of the cursor moves on while the comments' stays."""
    async with demo_adapter(tmp_path, cluster) as (base, adapter):
        cursor = (await adapter.fetch_new("")).cursor
        admin(base, "/admin/layout", {"username": USER, "variant": "v2"})
        admin(base, "/admin/messages", {"username": USER, "text": "dm-despite-comments"})
        outbox = Outbox(tmp_path / "outbox.db")
        cursors = CursorStore(tmp_path / "cursors.db")
        cursors.put(ACCOUNT, cursor)
        states: list[gateway_pb2.AccountState] = []
        monitor = AccountMonitor(WORKER, adapter, outbox, cursors, states.append, lambda: None)
        monitor.start()
        try:
            failed = await bounded(
                lambda: [s for s in states if s.state == common_pb2.RUN_STATE_ERROR],
                "the comments failure as the account state",
            )
            assert failed[0].error_kind == common_pb2.ERROR_KIND_LAYOUT_CHANGED
            assert failed[0].reason.startswith("comments: "), failed[0].reason
            assert "direct messages" not in failed[0].reason
            assert screenshot_taken(failed[0].screenshot_path)
            batches = outbox.next_batches(
                max_batch_bytes=1 << 20, max_batch_items=1000, limit_batches=10
            )
            texts = {i.content for b in batches for i in b.items}
            assert "dm-despite-comments" in texts
            kinds = {i.kind for b in batches for i in b.items}
            assert kinds == {common_pb2.ITEM_KIND_DIRECT_MESSAGE}
            moved = json.loads(cursors.get(ACCOUNT))
            assert moved["c"] == json.loads(cursor)["c"] and moved["m"] >= json.loads(cursor)["m"]
            # The working list keeps its pace: no 5-minute wait for the broken one.
            admin(base, "/admin/messages", {"username": USER, "text": "dm-while-broken"})

            def later() -> set[str]:
                more = outbox.next_batches(
                    max_batch_bytes=1 << 20, max_batch_items=1000, limit_batches=10
                )
                texts.update(i.content for b in more for i in b.items)
                return texts

            await bounded(lambda: "dm-while-broken" in later(), "the next DM during the failure")
            assert monitor.state == common_pb2.RUN_STATE_ERROR
        finally:
            monitor._task.cancel()  # type: ignore[union-attr]  (the adapter closes with demo_adapter)
            with contextlib.suppress(asyncio.CancelledError):
                await monitor._task  # type: ignore[misc]
            outbox.close()
            cursors.close()


async def test_rotating_error_codes_fail_their_own_step_and_nothing_else(
    tmp_path: Path, cluster: Cluster
) -> None:
    """The platform refuses the messages API with a different code each call
    (500, then 429): each cycle still delivers the comments, and the DM step's
    failure is its own, typed by its code; once the codes run out the DMs come.
    A refusal that concerns the whole session (captcha) on the comments list
    ends the cycle before the DMs are asked for."""
    async with demo_adapter(tmp_path, cluster) as (base, adapter):
        cursor = (await adapter.fetch_new("")).cursor
        codes = ["server_error", "rate_limited"]
        admin(base, "/admin/error_codes", {"username": USER, "path": MESSAGES, "codes": codes})
        admin(base, "/admin/messages", {"username": USER, "text": "dm-after-codes"})
        seen: list[int] = []
        for n in range(len(codes) + 2):  # the page load may ask twice: bounded
            admin(base, "/admin/comments", {"username": USER, "text": f"comment-{n}"})
            result = await adapter.fetch_new(cursor)
            assert f"comment-{n}" in {i.content for i in result.items}
            if not result.failures:
                break
            [(step, failure)] = result.failures
            assert step == "direct messages" and screenshot_taken(failure.screenshot)
            seen.append(failure.kind)
        assert not result.failures and "dm-after-codes" in {i.content for i in result.items}
        assert seen == [common_pb2.ERROR_KIND_INTERNAL, common_pb2.ERROR_KIND_RATE_LIMITED]

        comments = "/api/creator/comments"
        admin(
            base,
            "/admin/error_codes",
            {"username": USER, "path": comments, "codes": ["captcha_required"]},
        )
        before = counters(base).get(MESSAGES, 0)
        with pytest.raises(VerificationRequired):
            await adapter.fetch_new(cursor)
        assert counters(base).get(MESSAGES, 0) == before  # not asked after the captcha


async def test_binary_im_answers_give_the_same_dms_as_json(
    tmp_path: Path, cluster: Cluster
) -> None:
    """With the platform's messages API answering protobuf (Douyin's IM field
    numbers), the adapter decodes the bytes (from its own fetches through the
    page and from the page's own load) into the very DMs the JSON gave."""
    async with demo_adapter(tmp_path, cluster) as (base, adapter):

        def dms(result: Any) -> dict[str, common_pb2.Item]:
            out = {}
            for item in result.items:
                if item.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE:
                    copy = common_pb2.Item()
                    copy.CopyFrom(item)
                    copy.raw_json = ""
                    out[item.platform_item_id] = copy
            return out

        first = await adapter.fetch_new("")
        from_json = dms(first)
        assert from_json and any(i.outgoing for i in from_json.values())
        admin(base, "/admin/im_binary", {"username": USER, "on": True})
        second = await adapter.fetch_new("")  # no reload: fetched through the open page
        assert adapter.loads == 1
        assert dms(second) == from_json
        sources = {
            json.loads(i.raw_json).get("source")
            for i in second.items
            if i.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE
        }
        assert sources == {"wire"}

        sent = admin(base, "/admin/messages", {"username": USER, "text": "binary-dm"})["message"]
        adapter._reload = True  # the page's own load reads the binary answers too
        third = await adapter.fetch_new(first.cursor)
        assert adapter.loads == 2
        [item] = [i for i in third.items if i.content == "binary-dm"]
        assert (item.platform_item_id, item.conversation_id, item.author_id, item.author_name) == (
            sent["message_id"],
            sent["conversation_id"],
            sent["sender_id"],
            sent["sender_name"],
        )
        assert item.created_at.seconds == sent["create_time"] and not item.outgoing
        page = adapter.page
        assert page is not None and await page.get_by_text("binary-dm").count() == 1


async def test_comments_shown_only_after_a_pick_are_read_and_replied_to(
    tmp_path: Path, cluster: Cluster
) -> None:
    """The page loads no comments until a post is picked: the adapter asks
    the comments API itself, and a reply picks the post first. The reply
    comes back as the account's own comment (作者), under its parent."""
    async with demo_adapter(tmp_path, cluster) as (base, adapter):
        admin(base, "/admin/comments_on_pick", {"username": USER, "on": True})
        first = await adapter.fetch_new("")
        comments = [i for i in first.items if i.kind == common_pb2.ITEM_KIND_COMMENT]
        assert len(comments) == admin(base, f"/admin/users/{USER}")["comment_count"]
        page = adapter.page
        assert page is not None
        assert await page.locator("[data-testid=comment-item]").count() == 0
        target = next(i for i in comments if not i.outgoing)
        reply = gateway_pb2.ReplyTarget(
            kind=common_pb2.ITEM_KIND_COMMENT,
            platform_item_id=target.platform_item_id,
            post_id=target.post_id,
        )
        # the monitor page paints small (HISCRM_RENDER_SCALE); the reply's
        # clicks still land, and the page is small again after
        assert adapter.actx is not None and adapter.actx.scale_of(page) == 0.25
        assert await adapter.send_reply(reply, "picked-reply")
        assert adapter.actx.scale_of(page) == 0.25
        later = await adapter.fetch_new(first.cursor)
        [mine] = [i for i in later.items if i.content == "picked-reply"]
        assert mine.outgoing and mine.parent_id == target.platform_item_id
        assert json.loads(mine.raw_json)["label_text"] == "作者"


async def test_the_cursor_is_kept_and_boundary_items_come_back_identical(
    tmp_path: Path, cluster: Cluster
) -> None:
    """The first cycle reads the page's own loads, the later ones the page's
    fetches of other URLs; the same item must map to the same bytes."""
    async with demo_adapter(tmp_path, cluster) as (_, adapter):
        first = await adapter.fetch_new("")
        second = await adapter.fetch_new(first.cursor)
        assert second.cursor == first.cursor
        marks = json.loads(first.cursor)
        got, again = by_id(first.items), by_id(second.items)
        assert again and set(again) <= set(got)
        for key, item in again.items():
            comment = item.kind == common_pb2.ITEM_KIND_COMMENT
            assert item.created_at.seconds >= marks["c" if comment else "m"]
            assert item.SerializeToString() == got[key].SerializeToString()


async def test_reply_to_an_item_the_open_page_has_not_rendered(
    tmp_path: Path, cluster: Cluster
) -> None:
    """Without per-cycle reloads the page's DOM only grows by live pushes; a
    reply to an item the live channel missed makes the page load its data."""
    async with demo_adapter(tmp_path, cluster) as (base, adapter):
        first = await adapter.fetch_new("")
        await bounded(adapter._live_open, "the live channel to open")
        admin(base, "/admin/live/drop", {"username": USER})  # the page reconnects after 1 s
        admin(base, "/admin/comments", {"username": USER, "text": "missed-live-1"})
        found = by_id((await adapter.fetch_new(first.cursor)).items)
        missed = next(i for i in found.values() if i.content == "missed-live-1")
        page = adapter.page
        assert page is not None
        rendered = page.locator(f'[data-comment-id="{missed.platform_item_id}"]')
        assert await rendered.count() == 0  # not pushed, and the page was not reloaded
        target = gateway_pb2.ReplyTarget(
            kind=common_pb2.ITEM_KIND_COMMENT,
            platform_item_id=missed.platform_item_id,
            post_id=missed.post_id,
        )
        assert await adapter.send_reply(target, "谢谢 reply-missed")
        replies = admin(base, f"/admin/replies?username={USER}")["replies"]
        assert [(r["target_id"], r["text"]) for r in replies] == [
            (missed.platform_item_id, "谢谢 reply-missed")
        ]
        assert adapter.loads == 1
