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
from worker.platforms import xiaohongshu_api
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
CORS = cors_for(WWW)  # the pages on www read edith
load = fixture_loader(FIXTURES)


class XhsSite(FixtureSite):
    """www.xiaohongshu.com and its API host, from the fixtures."""

    cors = CORS

    def __init__(self) -> None:
        super().__init__()
        self.me = load("user_me.json")
        self.mentions: list[dict[str, Any]] = load("mentions.json")["data"]["message_list"]
        self.chats = load("chats.json")
        self.history: dict[str, list[dict[str, Any]]] = load("history.json")
        self.page_size = 2
        self.login_state = "waiting"  # waiting / scanned / captcha / confirmed / expired
        self.qr_serial = 0
        self.sessions: set[str] = set()
        self.rename_mentions = False
        self.replies: list[dict[str, Any]] = []

    async def answer(
        self, route: Route, host: str, path: str, query: dict[str, str], cookies: dict[str, str]
    ) -> None:
        logged_in = cookies.get("web_session") in self.sessions
        if host == "www.xiaohongshu.com":
            await self._www(route, path, query, cookies)
        elif host == "edith.xiaohongshu.com":
            if route.request.method == "OPTIONS":
                await route.fulfill(status=204, headers=CORS)
            else:
                await self._edith(route, path, query, logged_in)
        else:
            await route.abort()  # nothing leaves the machine

    async def _json(self, route: Route, body: Any, **headers: str) -> None:
        await self.json_answer(route, body, **(CORS | headers))

    @staticmethod
    def ok(data: Any) -> dict[str, Any]:
        return {"code": 0, "success": True, "msg": "成功", "data": data}

    async def _www(
        self, route: Route, path: str, query: dict[str, str], cookies: dict[str, str]
    ) -> None:
        if path in ("/explore", "/notification") or path.startswith("/chat"):
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
                body=(FIXTURES / "xhs.html").read_text(encoding="utf-8"),
                content_type="text/html; charset=utf-8",
                headers=headers,
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
            rows.insert(
                0,
                {
                    "id": f"msg-sent-{store}",
                    "store_id": store,
                    "sender_id": ME,
                    "receiver_id": posted["peer"],
                    "content": json.dumps({"content": posted["text"]}, ensure_ascii=False),
                    "created_at": 1761700000000 + store,
                },
            )
            await self._json(route, {"ok": True})
        else:
            await route.fulfill(status=404, body="not found")

    async def _edith(self, route: Route, path: str, query: dict[str, str], logged_in: bool) -> None:
        if path == xiaohongshu_api.ME_PATH:
            if logged_in:
                await self._json(route, self.me)
            else:
                await self._json(route, self.ok({"guest": True, "user_id": "", "nickname": ""}))
        elif path == xiaohongshu_api.QR_CREATE_PATH:
            if self.login_state == "expired":
                self.login_state = "waiting"
            self.qr_serial += 1
            body = load("qrcode_create.json")
            body["data"]["qr_id"] += f"{self.qr_serial:02d}"
            body["data"]["url"] += f"&n={self.qr_serial}"
            await self._json(route, body)
        elif path == xiaohongshu_api.QR_STATUS_PATH:
            status = {"waiting": 0, "captcha": 0, "scanned": 1, "confirmed": 2, "expired": 3}
            data = {"code_status": status[self.login_state]}
            if self.login_state == "captcha":
                data["fixture_captcha"] = True
            if self.login_state == "confirmed":
                self.sessions.add(LOGGED)
                cookie = f"web_session={LOGGED}; Domain=.xiaohongshu.com; Path=/; HttpOnly; Secure"
                await self._json(route, self.ok(data), **{"set-cookie": cookie})
            else:
                await self._json(route, self.ok(data))
        elif not logged_in:
            await self._json(route, {"code": -100, "success": False, "msg": "登录已过期"})
        elif path == xiaohongshu_api.MENTIONS_PATH:
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
            await self._json(route, self.ok(data))
        elif path == xiaohongshu_api.COMMENT_POST_PATH:
            posted = json.loads(route.request.post_data or "{}")
            self.replies.append(posted)
            comment = {"id": f"reply-{len(self.replies)}", "content": posted.get("content")}
            await self._json(route, self.ok({"comment": comment}))
        elif path == xiaohongshu_api.CHATS_PATH:
            await self._json(route, self.chats)
        elif path == xiaohongshu_api.HISTORY_PATH:
            rows = self.history.get(query.get("chat_user_id", ""), [])
            last_id = int(query.get("last_id") or 0)
            if last_id:
                rows = [r for r in rows if r["store_id"] < last_id]
            rows = rows[: int(query.get("limit") or 20)]
            await self._json(route, self.ok({"out_message_list": rows}))
        else:
            await route.fulfill(status=404, body="not found", headers=CORS)

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


async def test_login_qr_expiry_captcha_scan_and_success(tmp_path: Path) -> None:
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

            site.login_state = "expired"  # qrcode/status code_status 3: a new QR
            second = await next_event(events)
            assert second.WhichOneof("event") == "qr" and second.qr.refresh_count == 1
            assert second.qr.content.endswith("&n=2")

            site.login_state = "captcha"  # '请通过验证': reported, then waited out
            ask = await next_event(events)
            assert ask.WhichOneof("event") == "verification_required"
            assert ask.verification_required.method == gateway_pb2.VERIFICATION_METHOD_SLIDER

            site.login_state = "scanned"
            assert (await next_event(events)).WhichOneof("event") == "scanned"
            site.login_state = "confirmed"
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
        await adapter.close()


# ------------------------------------------------------------------ monitoring


async def test_comment_and_dm_paging_dedupe_and_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xiaohongshu_api, "HISTORY_LIMIT", 2)  # make the history page
    site = XhsSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        first = await adapter.fetch_new("")
        got = by_id(first.items)
        comments = {k for k, v in got.items() if v.kind == common_pb2.ITEM_KIND_COMMENT}
        assert comments == {
            "6712a0c1000000001d02aa05",
            "6712a0c1000000001d02aa04",
            "6712a0c1000000001d02aa02",  # page 2 (cursor 2), fetched through the page
            "6712a0c1000000001d02aa01",  # page 3
        }  # the "mention/item" entry is not a comment
        dms = {k for k, v in got.items() if v.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE}
        assert dms == {"msg-ab12-1207", "msg-ab12-1206", "msg-ab12-1205", "msg-cd34-1102"}
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
        dm = got["msg-ab12-1207"]
        assert (dm.conversation_id, dm.author_name, dm.content, dm.outgoing) == (
            "61b6c78e000000001000ba5d",
            "阿橙",
            "请问可以预订吗",
            False,
        )
        assert dm.created_at.seconds == 1761600300  # milliseconds scaled
        mine = got["msg-ab12-1206"]
        assert mine.outgoing and mine.author_name == "小红薯店长"
        assert json.loads(first.cursor) == {"c": 1761500500, "m": 1761600300}
        mentions = [q for _, _, p, q in site.requests if p.endswith("mentions")]
        mention_cursors = [q.get("cursor", "") for q in mentions]
        assert mention_cursors == ["", "2", "4"]
        history = [q for _, _, p, q in site.requests if p.endswith("history")]
        assert [q["last_id"] for q in history if q["chat_user_id"].startswith("61b6")] == [
            "0",
            "1206",
        ]
        assert not [q for q in history if q["chat_user_id"].startswith("group")]

        seen = len(site.requests)
        second = await adapter.fetch_new(first.cursor)
        again = by_id(second.items)
        assert set(again) == {"6712a0c1000000001d02aa05", "msg-ab12-1207"}
        for key, item in again.items():
            assert item.SerializeToString() == got[key].SerializeToString()
        later = site.requests[seen:]
        assert not [q for _, _, p, q in later if p.endswith("mentions") and q.get("cursor")]
        assert not [q for _, _, p, q in later if p.endswith("history") and q["last_id"] != "0"]
        assert second.cursor == first.cursor
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
        dm = gateway_pb2.ReplyTarget(
            kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE,
            platform_item_id="msg-ab12-1207",
            conversation_id="61b6c78e000000001000ba5d",
        )
        sent_id = await adapter.send_reply(dm, "可以的，请留下电话")
        assert sent_id == "msg-sent-1208"
        assert site.history["61b6c78e000000001000ba5d"][0]["sender_id"] == ME
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
            '{"code": 300012, "success": false, "msg": "网络连接异常，请检查网络设置或重启试试"}',
            {},
            Blocked,
            "300012",
        ),
        (429, "{}", {}, RateLimited, "429"),
        (200, '{"code": 500001, "success": false, "msg": "?"}', {}, PlatformError, "500001"),
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
