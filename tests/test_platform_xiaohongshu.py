"""The Xiaohongshu adapter against real Chromium, offline.

Every request the browser makes to Xiaohongshu's real hosts
(www.xiaohongshu.com, edith.xiaohongshu.com) is answered by Playwright request
routing from the recorded-shape page and JSON under tests/fixtures/xiaohongshu;
anything else is aborted, so nothing leaves the machine. The test drives the
QR login's state and what the JSON endpoints answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import segno
from playwright.async_api import Route

from hiscrm.v1 import common_pb2, gateway_pb2
from tests.platform_helpers import (
    FixtureSite,
    adapter_context,
    by_id,
    cors_for,
    cycle_failure,
    fixture_loader,
    monitor_config,
    next_event,
    quick,
    screenshot_taken,
)
from worker.cursors import CursorStore
from worker.monitor import AccountMonitor
from worker.outbox import Outbox
from worker.platforms import xiaohongshu_api, xiaohongshu_im
from worker.platforms.base import AdapterContext
from worker.platforms.errors import (
    AuthExpired,
    Blocked,
    LayoutChanged,
    PlatformError,
    RateLimited,
    VerificationRequired,
)
from worker.platforms.xiaohongshu import XiaohongshuAdapter

pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.timeout(90)

FIXTURES = Path(__file__).parent / "fixtures" / "xiaohongshu"
WORKER = "w-xhs"
ACCOUNT = "xhs-acct-1"
ME = "5f1e2d3c000000000101abcd"
LOGGED = "040069b5a274fb57675ab453ab354bc8b20e29"
GUEST = "030037a4f0f1e0fixtureguestsession000000"
WWW = "https://www.xiaohongshu.com"
# the pages on www read edith, signing their requests (x-s, x-t) as the real page does
CORS = cors_for(WWW) | {"access-control-allow-headers": "content-type, x-s, x-t"}
load = fixture_loader(FIXTURES)


class XhsSite(FixtureSite):
    """www.xiaohongshu.com and its API host, from the fixtures."""

    cors = CORS

    def __init__(self) -> None:
        super().__init__()
        self.me = load("user_me.json")
        self.mentions: list[dict[str, Any]] = load("mentions.json")["data"]["message_list"]
        self.chats = load("chats.json")
        self.chats_path = xiaohongshu_im.CHATS_PATH
        self.history: dict[str, list[dict[str, Any]]] = load("history.json")
        self.page_size = 2
        self.history_limit = 20  # what the chat page asks per history page
        self.opaque_ids: dict[str, str] = {}  # peer -> a data-conv-id that is not its id
        self.first_mentions_calls = 0  # the page's first ask on each load is answered empty
        self.login_state = "waiting"  # waiting / scanned / captcha / confirmed / expired / odd
        self.qr_serial = 0
        self.sessions: set[str] = set()
        self.rename_mentions = False
        self.replies: list[dict[str, Any]] = []
        self.unsigned: list[str] = []  # API paths asked without the page's x-s signature

    async def answer(
        self, route: Route, host: str, path: str, query: dict[str, str], cookies: dict[str, str]
    ) -> None:
        logged_in = cookies.get("web_session") in self.sessions
        if host == "www.xiaohongshu.com":
            await self._www(route, path, query, cookies)
        elif host == "edith.xiaohongshu.com":
            if route.request.method == "OPTIONS":
                await route.fulfill(status=204, headers=CORS)
                return
            if "x-s" not in await route.request.all_headers():
                self.unsigned.append(path)
            await self._edith(route, path, query, logged_in)
        else:
            await route.abort()  # nothing leaves the machine

    async def _json(self, route: Route, body: Any, **headers: str) -> None:
        await self.json_answer(route, body, **(CORS | headers))

    @staticmethod
    def ok(data: Any) -> dict[str, Any]:
        return {"code": 0, "success": True, "msg": "成功", "data": data}

    def page_html(self) -> str:
        html = (FIXTURES / "xhs.html").read_text(encoding="utf-8")
        html = html.replace("__CHATS_PATH__", self.chats_path)
        html = html.replace("__OPAQUE_IDS__", json.dumps(self.opaque_ids))
        return html.replace("__HISTORY_LIMIT__", str(self.history_limit))

    async def _www(
        self, route: Route, path: str, query: dict[str, str], cookies: dict[str, str]
    ) -> None:
        if path in ("/explore", "/notification", "/chat"):
            headers = {}
            if "a1" not in cookies:  # the site hands out its device cookies first
                attrs = "Domain=.xiaohongshu.com; Path=/"
                headers["set-cookie"] = "\n".join(
                    [
                        f"a1=19a92737f1ceciaeebuhrkxyur39fixture; {attrs}",
                        f"webId=8eb92737ce4a022d797f34748852a1f5; {attrs}",
                        f"web_session={GUEST}; {attrs}; HttpOnly; Secure",
                    ]
                )
            await route.fulfill(
                body=self.page_html(), content_type="text/html; charset=utf-8", headers=headers
            )
        elif path == "/__fixture__/qr.png":
            out = io.BytesIO()
            content = load("qrcode_create.json")["data"]["url"] + f"&n={self.qr_serial}"
            segno.make(content).save(out, kind="png", scale=4)
            await route.fulfill(body=out.getvalue(), content_type="image/png")
        elif path == "/__fixture__/xhs/send":
            posted = json.loads(route.request.post_data or "{}")
            rows = self.history.setdefault(posted["peer"], [])
            store = max((r["store_id"] for r in rows), default=1000) + 1
            rows.insert(0, message(posted["peer"], store, ME, posted["text"]))
            await self._json(route, {"ok": True})
        else:
            await route.fulfill(status=404, body="not found")

    async def _qr(self, route: Route, path: str) -> None:
        if path == xiaohongshu_api.QR_CREATE_PATH:
            if self.login_state == "expired":
                self.login_state = "waiting"
            self.qr_serial += 1
            body = load("qrcode_create.json")
            body["data"]["qr_id"] += f"{self.qr_serial:02d}"
            body["data"]["url"] += f"&n={self.qr_serial}"
            await self._json(route, body)
        elif path == xiaohongshu_api.QR_USERINFO_PATH:  # what the page polls
            status = {"waiting": 0, "captcha": 0, "scanned": 1, "confirmed": 2, "expired": 3}
            data: dict[str, Any] = {"codeStatus": status.get(self.login_state, 7)}
            if self.login_state == "captcha":
                data["fixture_captcha"] = True
            await self._json(route, self.ok(data))
        else:  # qrcode/status, asked once the QR was confirmed: the session
            self.sessions.add(LOGGED)
            cookie = f"web_session={LOGGED}; Domain=.xiaohongshu.com; Path=/; HttpOnly; Secure"
            data = {"code_status": 2, "login_info": {"session": LOGGED, "user_id": ME}}
            await self._json(route, self.ok(data), **{"set-cookie": cookie})

    def _mentions(self, query: dict[str, str]) -> dict[str, Any]:
        if not query.get("cursor"):
            self.first_mentions_calls += 1
            if self.first_mentions_calls % 2:  # the page asks twice; the first comes back empty
                return {"message_list": [], "has_more": False, "strCursor": "", "cursor": 0}
        start = int(query.get("cursor") or 0)
        page = self.mentions[start : start + self.page_size]
        more = start + len(page) < len(self.mentions)
        data: dict[str, Any] = {
            "message_list": page,
            "has_more": more,
            "strCursor": str(start + len(page)) if more else "",
            "cursor": start + len(page),
        }
        if self.rename_mentions:
            data["messages"] = data.pop("message_list")
        return data

    async def _edith(self, route: Route, path: str, query: dict[str, str], logged_in: bool) -> None:
        if path == xiaohongshu_api.ME_PATH:
            if logged_in:
                await self._json(route, self.me)
            else:
                await self._json(route, self.ok({"guest": True, "user_id": "", "nickname": ""}))
        elif "qrcode" in path:
            await self._qr(route, path)
        elif not logged_in:
            await self._json(route, {"code": -100, "success": False, "msg": "登录已过期"})
        elif path == xiaohongshu_api.MENTIONS_PATH:
            await self._json(route, self.ok(self._mentions(query)))
        elif path == xiaohongshu_api.COMMENT_POST_PATH:
            posted = json.loads(route.request.post_data or "{}")
            self.replies.append(posted)
            comment = {"id": f"reply-{len(self.replies)}", "content": posted.get("content")}
            await self._json(route, self.ok({"comment": comment}))
        elif path == self.chats_path:
            await self._json(route, self.chats)
        elif path == xiaohongshu_im.HISTORY_PATH:
            rows = self.history.get(query.get("chat_user_id", ""), [])
            last_id = int(query.get("last_id") or 0)
            if last_id:
                rows = [r for r in rows if r["store_id"] < last_id]
            rows = rows[: int(query.get("limit") or 20)]
            await self._json(route, self.ok({"out_message_list": rows}))
        else:
            await route.fulfill(status=404, body="not found", headers=CORS)

    def new_message(self, peer: str, text: str) -> str:
        """A message from `peer` arrives: its history and the chat list move."""
        rows = self.history[peer]
        store = rows[0]["store_id"] + 1
        rows.insert(0, message(peer, store, peer, text))
        chat = next(c for c in self.chats["data"]["chats"] if c["chat_user_id"] == peer)
        chat["max_store_id"], chat["last_msg_time"] = store, rows[0]["created_at"]
        return str(rows[0]["id"])

    def session_state(self) -> dict[str, Any]:
        self.sessions.add(LOGGED)
        base = {"domain": ".xiaohongshu.com", "path": "/", "expires": -1, "sameSite": "Lax"}
        return {
            "cookies": [
                {"name": "web_session", "value": LOGGED, "httpOnly": True, "secure": True, **base},
                {"name": "a1", "value": "19a92737f1ce", "httpOnly": False, "secure": False, **base},
                {"name": "webId", "value": "8eb927", "httpOnly": False, "secure": False, **base},
            ],
            "origins": [],
        }


def message(peer: str, store: int, sender: str, text: str) -> dict[str, Any]:
    """A text message row in the recorded shape (see history.json)."""
    content = {"content": text, "content_type": 1, "front_chain": text}
    return {
        "id": f"{sender}.{peer if sender == ME else ME}.{store:08d}",
        "uuid": f"1761700000000-{store}",
        "store_id": store,
        "sender_id": sender,
        "receiver_id": peer if sender == ME else ME,
        "created_at": 1761700000000 + store * 1000,
        "revoked": False,
        "group_chat": False,
        "content": json.dumps(content, ensure_ascii=False),
    }


def harness(
    tmp_path: Path, site: XhsSite
) -> contextlib.AbstractAsyncContextManager[AdapterContext]:
    return adapter_context(tmp_path, WORKER, site.handle)


def adapter_for(
    ctx: AdapterContext, site: XhsSite, *, logged_in: bool = True
) -> XiaohongshuAdapter:
    session = b""
    if logged_in:
        assert ctx.sessions is not None
        session = ctx.sessions.cipher.encrypt_state(ACCOUNT, site.session_state())
    config = monitor_config(ACCOUNT, common_pb2.PLATFORM_XIAOHONGSHU, session)
    adapter = XiaohongshuAdapter(config, ctx)
    quick(adapter)
    return adapter


# ------------------------------------------------------------------ login


async def test_login_follows_qrcode_userinfo(tmp_path: Path) -> None:
    """codeStatus from /api/qrcode/userinfo: 0 waiting, 3 expired (a new QR),
    a captcha, 1 scanned, 2 confirmed (the page then asks qrcode/status)."""
    site = XhsSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site, logged_in=False)
        events = adapter.login("login-1", asyncio.Queue())
        try:
            first = await next_event(events)
            assert first.WhichOneof("event") == "qr" and first.qr.refresh_count == 0
            assert first.qr.png.startswith(b"\x89PNG")
            assert first.qr.content.startswith("https://www.xiaohongshu.com/mobile/login?qrId=")
            assert first.qr.content.endswith("&n=1")

            site.login_state = "expired"  # codeStatus 3: a new QR
            second = await next_event(events)
            assert second.WhichOneof("event") == "qr" and second.qr.refresh_count == 1
            assert second.qr.content.endswith("&n=2")

            site.login_state = "captcha"  # '请通过验证': reported, then waited out
            ask = await next_event(events)
            assert ask.WhichOneof("event") == "verification_required"
            assert ask.verification_required.method == gateway_pb2.VERIFICATION_METHOD_SLIDER

            site.login_state = "scanned"  # codeStatus 1
            assert (await next_event(events)).WhichOneof("event") == "scanned"
            site.login_state = "confirmed"  # codeStatus 2
            done = await next_event(events)
        finally:
            await events.aclose()
        assert done.WhichOneof("event") == "success", done
        user = done.success.user
        assert (user.platform_user_id, user.nickname) == (ME, "小红薯店长")
        assert user.unique_id == "95270001"
        assert user.avatar_url.startswith("https://sns-avatar-qc.xhscdn.com/")
        assert ctx.sessions is not None
        state = ctx.sessions.cipher.decrypt_state(ACCOUNT, done.success.session)
        cookies = {c["name"]: c["value"] for c in state["cookies"]}
        assert cookies["web_session"] == LOGGED and {"a1", "webId"} <= set(cookies)
        polls = [p for m, _, p, _ in site.requests if p == xiaohongshu_api.QR_USERINFO_PATH]
        assert len(polls) >= 5  # the states above came from userinfo polls
        status = [p for _, _, p, _ in site.requests if p == xiaohongshu_api.QR_STATUS_PATH]
        assert len(status) == 1  # asked once, after the confirmation
        await adapter.close()


async def test_login_unknown_code_status_is_loud(tmp_path: Path) -> None:
    site = XhsSite()
    site.login_state = "odd"  # codeStatus 7: none of 0-3
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site, logged_in=False)
        events = adapter.login("login-2", asyncio.Queue())
        try:
            with pytest.raises(LayoutChanged, match="codeStatus 7") as err:
                while True:
                    await next_event(events)
        finally:
            await events.aclose()
        assert screenshot_taken(err.value.screenshot)
        await adapter.close()


# ------------------------------------------------------------------ comments

DELETED = "6712a0c1000000001d02aa03"  # comment_info.illegal_info.illegal_status DELETE


async def test_comments_page_by_scrolling_and_skip_deleted(tmp_path: Path) -> None:
    site = XhsSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        adapter.config.spec.monitor_direct_messages = False
        first = await adapter.fetch_new("")
        got = by_id(first.items)
        assert set(got) == {
            "6712a0c1000000001d02aa05",
            "6712a0c1000000001d02aa04",
            "6712a0c1000000001d02aa02",  # page 3 (cursor 4), loaded by scrolling the page
            "6712a0c1000000001d02aa01",
        }  # not the "mention/item" entry, not the deleted comment
        assert DELETED not in got
        reply = got["6712a0c1000000001d02aa04"]
        assert (reply.author_id, reply.author_name, reply.content) == (
            "61b6c78e000000001000ba5d",
            "阿橙",
            "谢谢回复！",
        )
        assert (reply.post_id, reply.post_title, reply.parent_id) == (
            "6653f0820000000005005f9b",
            "周末探店｜城西新开的面包店",
            "6712a0c1000000001d02aa00",
        )
        assert reply.created_at.seconds == 1761500400
        assert json.loads(first.cursor)["c"] == 1761500500
        # The first page asked twice (the empty answer skipped), the rest by scrolling;
        # every ask was the page's own, signed one.
        cursors = [q.get("cursor", "") for _, _, p, q in site.requests if p.endswith("mentions")]
        assert cursors == ["", "", "2", "4"]
        assert not site.unsigned

        seen = len(site.requests)
        second = await adapter.fetch_new(first.cursor)
        assert set(by_id(second.items)) == {"6712a0c1000000001d02aa05"}  # the boundary again
        later = [q for _, _, p, q in site.requests[seen:] if p.endswith("mentions")]
        assert not [q for q in later if q.get("cursor")]  # the cursor stopped the scrolling
        await adapter.close()


async def test_replies_go_through_the_page_ui(tmp_path: Path) -> None:
    site = XhsSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        await adapter.fetch_new("")
        target = gateway_pb2.ReplyTarget(
            kind=common_pb2.ITEM_KIND_COMMENT,
            platform_item_id="6712a0c1000000001d02aa04",
            post_id="6653f0820000000005005f9b",
        )
        assert await adapter.send_reply(target, "周末也开门哦") == "reply-1"
        assert site.replies == [
            {
                "note_id": "6653f0820000000005005f9b",
                "content": "周末也开门哦",
                "target_comment_id": "6712a0c1000000001d02aa04",
            }
        ]
        on_page_3 = gateway_pb2.ReplyTarget(  # found by scrolling the page to it
            kind=common_pb2.ITEM_KIND_COMMENT,
            platform_item_id="6712a0c1000000001d02aa01",
            post_id="6640000000000000040000bb",
        )
        assert await adapter.send_reply(on_page_3, "地址在主页") == "reply-2"
        assert site.replies[-1]["target_comment_id"] == "6712a0c1000000001d02aa01"
        dm = gateway_pb2.ReplyTarget(
            kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE,
            platform_item_id=A_LAST,
            conversation_id=A,
        )
        sent_id = await adapter.send_reply(dm, "可以的，请留下电话")
        assert sent_id == f"{ME}.{A}.00001208"
        assert site.history[A][0]["sender_id"] == ME
        await adapter.close()


# ------------------------------------------------------------------ direct messages

A = "61b6c78e000000001000ba5d"  # 阿橙: text, a note card, a picture, a revoked one, a notice
B = "65ee00000000000001000004"  # 面包爱好者
A_LAST = f"{A}.{ME}.00001207"
SKIPPED = {  # never opened
    "5a0000000000000000000001",  # info.is_official
    "5b0000000000000000000002",  # info.is_ai_assistant
    "5c0000000000000000000003",  # group_chat
}


def opened(site: XhsSite, since: int = 0) -> list[tuple[str, str]]:
    """(chat_user_id, last_id) of every history page the chat page asked."""
    return [
        (q["chat_user_id"], q["last_id"])
        for _, _, p, q in site.requests[since:]
        if p == xiaohongshu_im.HISTORY_PATH
    ]


async def test_dms_open_only_chats_that_moved(tmp_path: Path) -> None:
    site = XhsSite()
    site.chats_path = "/api/im/web/v4/chats"  # another version segment: matched by pattern
    site.history_limit = 3  # the history pages: 1207-1205, 1204-1202, 1201
    site.opaque_ids = {B: "conv-opaque-2"}  # found by its (unique) name instead
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        adapter.config.spec.monitor_comments = False
        first = await adapter.fetch_new("")
        got = by_id(first.items)
        assert opened(site) == [(A, "0"), (A, "1205"), (A, "1202"), (B, "0")]
        assert not site.unsigned  # opened by clicking: the page's own requests
        text = {k[-4:]: v.content for k, v in got.items()}
        assert text == {
            "1207": "请问可以预订吗",
            "1206": "您好～",
            "1205": "在吗",
            "1204": "[视频笔记] 城西面包店探店视频 · 路过的猫",  # a shared note, as text
            "1203": "[图片]",
            "1201": "[系统提示] 你们已互相关注",
            "1102": "好的谢谢",
        }  # 1202 was revoked; no content is the message's JSON
        dm = got[A_LAST]
        assert (dm.conversation_id, dm.author_id, dm.author_name, dm.outgoing) == (
            A,
            A,
            "阿橙",
            False,
        )
        assert dm.created_at.seconds == 1761600300  # milliseconds scaled
        mine = got[f"{ME}.{A}.00001206"]
        assert mine.outgoing and mine.author_name == "小红薯店长"
        cursor = json.loads(first.cursor)
        assert cursor == {"c": 0, "m": 1761600300, f"x:{A}": 1207, f"x:{B}": 1102}

        seen = len(site.requests)
        second = await adapter.fetch_new(first.cursor)
        assert opened(site, seen) == []  # nothing moved: no conversation opened
        assert second.items == [] and second.cursor == first.cursor

        new_id = site.new_message(B, "明天几点开门？")
        seen = len(site.requests)
        third = await adapter.fetch_new(second.cursor)
        assert opened(site, seen) == [(B, "0")]  # only the chat that moved
        assert [i.platform_item_id for i in third.items] == [new_id]
        assert third.items[0].content == "明天几点开门？"
        assert json.loads(third.cursor)[f"x:{B}"] == 1103
        assert not {p for p, _ in opened(site)} & SKIPPED
        await adapter.close()


# ------------------------------------------------------------------ failures


async def test_dm_never_guesses_between_two_chats_of_one_name(tmp_path: Path) -> None:
    site = XhsSite()
    chats = site.chats["data"]["chats"]
    chats[1]["info"]["nickname"] = chats[0]["info"]["nickname"]  # both "阿橙"
    site.opaque_ids = {A: "conv-opaque-1", B: "conv-opaque-2"}
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        adapter.config.spec.monitor_comments = False
        failure = await cycle_failure(adapter)
        assert isinstance(failure, LayoutChanged) and "cannot tell which" in str(failure)
        assert opened(site) == []  # nothing was clicked
        await adapter.close()


async def test_comments_and_dms_fail_separately(tmp_path: Path) -> None:
    """One list's failure keeps the other's items; the failed list's marks
    (its time mark, the per-chat marks) stay where they were."""
    site = XhsSite()
    unknown = '{"code": 500001, "success": false, "msg": "新的风控"}'
    site.override[xiaohongshu_im.CHATS_PATH] = (200, unknown, {})
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        first = await adapter.fetch_new("")
        kinds = {i.kind for i in first.items}
        assert kinds == {common_pb2.ITEM_KIND_COMMENT} and len(first.items) == 4
        [(step, failure)] = first.failures
        assert step == "direct messages" and isinstance(failure, xiaohongshu_api.UnknownCode)
        assert (failure.code, failure.platform_message) == (500001, "新的风控")
        assert json.loads(first.cursor) == {"c": 1761500500, "m": 0}

        site.override = {xiaohongshu_api.MENTIONS_PATH: (200, unknown, {})}
        second = await adapter.fetch_new(first.cursor)
        assert {i.kind for i in second.items} == {common_pb2.ITEM_KIND_DIRECT_MESSAGE}
        assert [step for step, _ in second.failures] == ["comments"]
        cursor = json.loads(second.cursor)
        assert cursor["c"] == 1761500500 and cursor["m"] == 1761600300
        assert cursor[f"x:{A}"] == 1207
        await adapter.close()


async def test_session_expiry_is_auth_expired(tmp_path: Path) -> None:
    site = XhsSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        await adapter.fetch_new("")
        site.override[xiaohongshu_api.MENTIONS_PATH] = (
            200,
            '{"code": -100, "success": false, "msg": "登录已过期", "data": {}}',
            {},
        )
        with pytest.raises(AuthExpired, match="-100") as err:
            await adapter.fetch_new("")
        assert screenshot_taken(err.value.screenshot)
        site.override.clear()
        site.sessions.clear()  # the platform forgot the session: the page shows the QR
        with pytest.raises(AuthExpired, match=r"guest|login QR"):
            await adapter.fetch_new("")
        await adapter.close()


async def test_changed_layout_is_loud_with_a_screenshot(tmp_path: Path) -> None:
    site = XhsSite()
    site.rename_mentions = True
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        adapter.LOAD_TIMEOUT_S = 3.0  # the page script breaks on the new shape too
        failure = await cycle_failure(adapter)
        assert isinstance(failure, LayoutChanged) and "message_list" in str(failure)
        assert screenshot_taken(failure.screenshot)
        assert failure.kind == common_pb2.ERROR_KIND_LAYOUT_CHANGED
        await adapter.close()


@pytest.mark.parametrize(
    ("status", "raw", "headers", "error", "match"),
    [
        (461, "{}", {"verifytype": "102", "verifyuuid": "u-1"}, VerificationRequired, "102"),
        (471, "{}", {"verifytype": "124", "verifyuuid": "u-2"}, VerificationRequired, "471"),
        (
            200,
            '{"code": -101, "success": false, "msg": "无登录信息，或登录信息为空"}',
            {},
            AuthExpired,
            "-101",
        ),
        (200, '{"code": 300011, "success": false, "msg": "账号异常"}', {}, Blocked, "300011"),
        (
            200,
            '{"code": 300012, "success": false, "msg": "网络连接异常，请检查网络设置或重启试试"}',
            {},
            Blocked,
            "300012",
        ),
        (429, "{}", {}, RateLimited, "429"),
        (
            200,
            '{"code": 500001, "success": false, "msg": "新的风控"}',
            {},
            xiaohongshu_api.UnknownCode,
            "unknown code 500001 '新的风控'",
        ),
    ],
)
async def test_risk_control_answers_are_typed(
    tmp_path: Path,
    status: int,
    raw: str,
    headers: dict[str, str],
    error: type[PlatformError],
    match: str,
) -> None:
    site = XhsSite()
    site.override[xiaohongshu_api.MENTIONS_PATH] = (status, raw, headers)
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        failure = await cycle_failure(adapter)
        assert isinstance(failure, error) and match in str(failure), failure
        assert screenshot_taken(failure.screenshot)
        await adapter.close()


@pytest.mark.parametrize(
    ("code", "state", "kind"),
    [
        (-101, common_pb2.RUN_STATE_NEEDS_LOGIN, common_pb2.ERROR_KIND_AUTH_EXPIRED),
        (300011, common_pb2.RUN_STATE_ERROR, common_pb2.ERROR_KIND_BLOCKED),
    ],
)
async def test_codes_become_account_states(
    tmp_path: Path, code: int, state: int, kind: int
) -> None:
    """Through the worker's real monitor loop: -101 leaves the account
    needing a login, 300011 in error as blocked."""
    site = XhsSite()
    body = json.dumps({"code": code, "success": False, "msg": "x"})
    site.override[xiaohongshu_api.ME_PATH] = (200, body, {})
    frames: list[gateway_pb2.AccountState] = []
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        with Outbox(tmp_path / "outbox.db") as outbox:
            cursors = CursorStore(tmp_path / "cursors.db")
            monitor = AccountMonitor(WORKER, adapter, outbox, cursors, frames.append, lambda: None)
            monitor.start()
            try:
                for _ in range(600):  # bounded: the first cycle's outcome
                    if monitor.state == state:
                        break
                    await asyncio.sleep(0.05)
            finally:
                await monitor.stop()
                cursors.close()
    assert (monitor.state, monitor.error_kind) == (state, kind), frames
    assert str(code) in monitor.reason


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("你好", "你好"),  # not JSON: the text itself
        (json.dumps({"content": "在吗", "content_type": 1}), "在吗"),
        (  # a card nobody described: what the platform previews, never the JSON
            json.dumps(
                {
                    "content": json.dumps({"goodsId": "g1"}),
                    "content_type": 9,
                    "front_chain": "[商品]",
                }
            ),
            "[商品]",
        ),
        (json.dumps({"content": json.dumps({"goodsId": "g1"}), "content_type": 9}), "[消息]"),
        (
            json.dumps({"content": "", "content_type": 100, "front_chain": "你们已互相关注"}),
            "[系统提示] 你们已互相关注",
        ),
        (json.dumps([1, 2]), "[消息]"),
    ],
)
def test_message_text_is_never_json(content: str, text: str) -> None:
    """Unit test of xiaohongshu_im.message_text for shapes the fixtures lack."""
    assert xiaohongshu_im.message_text(content) == text
