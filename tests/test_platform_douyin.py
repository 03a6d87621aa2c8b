"""The Douyin adapter against real Chromium, offline.

Every request the browser makes to Douyin's real hosts (creator.douyin.com,
imapi.snssdk.com) is answered by Playwright request routing from the
recorded-shape pages and JSON under tests/fixtures/douyin; anything else is
aborted, so nothing leaves the machine. The test drives the login page's state
(QR, expiry, scan, identity check) and the data the JSON endpoints answer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import segno
from playwright.async_api import Route

from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc, gateway_pb2
from hiscrm_common.channel import open_channel
from tests import douyin_wire
from tests.delivery_helpers import account, create
from tests.harness import Cluster, wait_for
from tests.platform_helpers import (
    FixtureSite,
    RoutedPool,
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
from worker.config import WorkerConfig
from worker.link import Link, WorkerIdentity, platform_values
from worker.platforms import douyin_api
from worker.platforms.base import AdapterContext
from worker.platforms.douyin import DouyinAdapter
from worker.platforms.errors import (
    AuthExpired,
    Blocked,
    LayoutChanged,
    PlatformError,
    RateLimited,
    VerificationRequired,
)
from worker.runner import Runner

pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.timeout(90)

FIXTURES = Path(__file__).parent / "fixtures" / "douyin"
WORKER = "w-douyin"
ACCOUNT = "dy-acct-1"
SID = "sid-" + "a1" * 16
CREATOR = "https://creator.douyin.com"
CORS = cors_for(CREATOR)  # the chat page reads imapi.snssdk.com
load = fixture_loader(FIXTURES)


def qr_data_url(token: int) -> str:
    out = io.BytesIO()
    segno.make(f"https://aweme.snssdk.com/magic/qr?token=fixture-{token}").save(
        out, kind="png", scale=4
    )
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


SELECT_PATH = douyin_api.COMMENT_LIST_SELECT_PATH
REPLY_LIST_PATH = douyin_api.COMMENT_REPLY_LIST_PATH
OWN_UID = "3607962860399156"


def page_signature(query: str) -> str:
    """What the fixture page signs its own comment request with (creator.html)."""
    h = 0
    for ch in query:
        h = (h * 31 + ord(ch)) & 0xFFFFFFFF
    return f"sig{h:x}"


def iso_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class DouyinSite(FixtureSite):
    """Douyin's creator centre and IM hosts, from the fixtures."""

    def __init__(self) -> None:
        super().__init__()
        self.user = load("user_info.json")
        self.works = load("work_list.json")
        # aweme id -> comments (select shape), comment id -> replies
        self.comments: dict[str, list[dict[str, Any]]] = load("select_comments.json")
        self.replies_of: dict[str, list[dict[str, Any]]] = load("comment_replies.json")
        im = load("im_messages.json")
        self.im_users: dict[str, dict[str, str]] = im["users"]
        self.dms: list[dict[str, Any]] = im["messages"]  # newest first
        # older history of the conversation the chat page opens first
        self.history: list[dict[str, Any]] = [
            dict(
                self.dms[1],
                msg_id="7432100000000000000",
                content={"type": 0, "text": "在吗？想问下外套"},
                sender_uid="88800001",
                sender_sec_uid="MS4wLjABAAAA800001",
                created_ms=1761400000000,
            )
        ]
        self.im_broken = b""  # bytes answered instead of the IM protobuf
        self.im_store = True  # the page exposes its IM store
        self.title_override = ""  # the chat pane shows another title
        self.qr_by_aria_label = False
        self.page_size = 2
        self.login_state = "waiting"
        self.token = 1
        self.sms_code = "246810"
        self.sms_sent = 0
        self.sessions: set[str] = set()
        self.user_code = 0
        self.reply_code = 0
        self.captcha = False
        self.rename_comment_list = False
        self.posted_replies: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []

    # ------------------------------------------------------------ plumbing

    async def answer(
        self, route: Route, host: str, path: str, query: dict[str, str], cookies: dict[str, str]
    ) -> None:
        logged_in = cookies.get("sessionid") in self.sessions
        if host == "creator.douyin.com":
            await self._creator(route, path, query, logged_in)
        elif host == "imapi.snssdk.com":
            await self._im(route, path, logged_in)
        else:
            await route.abort()  # nothing leaves the machine

    async def _html(self, route: Route, name: str) -> None:
        body = (FIXTURES / name).read_text(encoding="utf-8")
        if self.qr_by_aria_label:  # the QR named by aria-label instead of alt
            body = body.replace('<img alt="二维码"', '<img aria-label="二维码"')
        await route.fulfill(body=body, content_type="text/html; charset=utf-8")

    def _session_cookies(self) -> str:
        self.sessions.add(SID)
        attrs = "Domain=.douyin.com; Path=/; Secure; HttpOnly; SameSite=Lax"
        return "\n".join(
            [
                f"sessionid={SID}; {attrs}",
                f"sessionid_ss={SID}; {attrs}",
                f"passport_csrf_token={secrets.token_hex(8)}; Domain=.douyin.com; Path=/; Secure",
            ]
        )

    def work_of(self, aweme_id: str) -> dict[str, Any]:
        return next(w for w in self.works["item_info_list"] if w["item_id_plain"] == aweme_id)

    def add_comment(self, aweme_id: str, record: dict[str, Any]) -> None:
        """A new comment: on top of the list, and the work's count moves."""
        self.comments[aweme_id].insert(0, record)
        self.work_of(aweme_id)["comment_count"] += 1

    def add_reply(self, aweme_id: str, parent: str, record: dict[str, Any]) -> None:
        self.replies_of.setdefault(parent, []).insert(0, record)
        for comment in self.comments[aweme_id]:
            if comment["cid"] == parent:
                comment["reply_comment_total"] += 1
        self.work_of(aweme_id)["comment_count"] += 1

    # ------------------------------------------------------------ creator.douyin.com

    async def _creator(
        self, route: Route, path: str, query: dict[str, str], logged_in: bool
    ) -> None:
        if path == "/":
            if self.login_state == "expired":  # a reload gets a fresh QR
                self.token += 1
                self.login_state = "waiting"
            await self._html(route, "login.html")
        elif path == "/__fixture__/login/state":
            body = {"state": self.login_state, "qr": qr_data_url(self.token)}
            if self.login_state == "confirmed":
                await self.json_answer(route, body, **{"set-cookie": self._session_cookies()})
            else:
                await self.json_answer(route, body)
        elif path == "/__fixture__/login/sms-send":
            self.sms_sent += 1
            await self.json_answer(route, {"ok": True})
        elif path == "/__fixture__/login/sms":
            code = json.loads(route.request.post_data or "{}").get("code")
            if code == self.sms_code:
                await self.json_answer(
                    route, {"ok": True}, **{"set-cookie": self._session_cookies()}
                )
            else:
                await self.json_answer(route, {"ok": False})
        elif path.startswith("/creator-micro/"):
            if not logged_in:  # the real site shows the login form here
                await self._html(route, "login.html")
            elif self.captcha:
                await self._html(route, "captcha.html")
            else:
                await self._html(route, "creator.html")
        elif path == "/web/api/media/user/info/":
            if not logged_in or self.user_code:
                await self.json_answer(
                    route, {"status_code": self.user_code or 8, "status_msg": ""}
                )
            else:
                await self.json_answer(route, self.user)
        elif path == "/aweme/v1/creator/item/list/":
            await self.json_answer(route, self.works)
        elif path in (SELECT_PATH, REPLY_LIST_PATH):
            await self._comment_list(route, path, query)
        elif path == "/aweme/v1/creator/comment/reply/":
            posted = json.loads(route.request.post_data or "{}")
            self.posted_replies.append(posted)
            if self.reply_code:
                body = {"status_code": self.reply_code, "status_msg": "请先登录"}
                await self.json_answer(route, body)
                return
            reply_id = f"7566000000000009{len(self.posted_replies):03d}"
            await self.json_answer(
                route,
                {"status_code": 0, "status_msg": "", "comment_info": {"comment_id": reply_id}},
            )
        elif path == "/__fixture__/im/store":
            await self.json_answer(route, self.store() if self.im_store else {})
        else:
            await route.fulfill(status=404, body="not found")

    async def _comment_list(self, route: Route, path: str, query: dict[str, str]) -> None:
        raw = urlsplit(route.request.url).query
        if "a_bogus=" in raw:
            # A signature covers its exact query: one carried over to another
            # query is refused the way Douyin refuses it (an empty answer).
            signed, _, signature = raw.rpartition("&a_bogus=")
            if signature != page_signature(signed):
                await route.fulfill(status=200, body="", content_type="application/json")
                return
        if path == SELECT_PATH:
            records = self.comments.get(query.get("aweme_id", ""), [])
        else:
            records = self.replies_of.get(query.get("comment_id", ""), [])
        cursor = int(query.get("cursor") or 0)
        page = records[cursor : cursor + self.page_size]
        body = {
            "comments": page,
            "cursor": cursor + len(page),
            "has_more": int(cursor + len(page) < len(records)),
            "total": len(records),
            "status_code": 0,
            "status_msg": "",
        }
        if self.rename_comment_list:
            body["comment_list_v2"] = body.pop("comments")
        await self.json_answer(route, body)

    def store(self) -> dict[str, Any]:
        """The chat page's IM store, in the shape HISCRM-IM-Portal's docs show."""

        def message(m: dict[str, Any]) -> dict[str, Any]:
            return {
                "serverId": m["msg_id"],
                "conversationId": m["conversation_id"],
                "sender": m["sender_uid"],
                "secSender": m.get("sender_sec_uid", ""),
                "content": json.dumps(m["content"], ensure_ascii=False),
                "type": m["type"],
                "createdAt": iso_ms(m["created_ms"]),
            }

        conversations = []
        for conv in dict.fromkeys(m["conversation_id"] for m in self.dms):
            last = next(m for m in self.dms if m["conversation_id"] == conv)
            conversations.append(
                {"id": conv, "lastMessage": message(last), "lastText": last["content"].get("text")}
            )
        users = {uid: {"uid": uid, **u} for uid, u in self.im_users.items()}
        return {
            "converSationListOrigin": conversations,
            "msgListToPush": [],
            "userInfoFromServerMap": users,
            "titleOverride": self.title_override,
        }

    # ------------------------------------------------------------ imapi.snssdk.com

    async def _im(self, route: Route, path: str, logged_in: bool) -> None:
        if route.request.method == "OPTIONS":
            await route.fulfill(status=204, headers=CORS)
            return
        if path == "/v1/message/send":
            posted = json.loads(route.request.post_data or "{}")
            self.sent.append(posted)
            await self.json_answer(route, {"status_code": 0}, **CORS)
            return
        if path == "/v2/message/get_by_user_init":
            command = douyin_wire.command_message(self.dms[0]["conversation_id"], OWN_UID)
            body = douyin_wire.init_answer(OWN_UID, [*self.dms, command])
        elif path == "/v1/message/get_by_conversation":
            body = douyin_wire.by_conversation_answer(OWN_UID, self.history)
        else:
            await route.fulfill(status=404, body="not found", headers=CORS)
            return
        await route.fulfill(
            status=200,
            body=self.im_broken or body,
            content_type="application/x-protobuf",
            headers=CORS,
        )

    def session_state(self) -> dict[str, Any]:
        self.sessions.add(SID)
        cookie = {
            "domain": ".douyin.com",
            "path": "/",
            "expires": -1,
            "httpOnly": True,
            "secure": True,
            "sameSite": "Lax",
        }
        return {
            "cookies": [
                {"name": "sessionid", "value": SID, **cookie},
                {"name": "sessionid_ss", "value": SID, **cookie},
            ],
            "origins": [],
        }


def harness(
    tmp_path: Path, site: DouyinSite
) -> contextlib.AbstractAsyncContextManager[AdapterContext]:
    return adapter_context(tmp_path, WORKER, site.handle)


def adapter_for(ctx: AdapterContext, site: DouyinSite, *, logged_in: bool = True) -> DouyinAdapter:
    session = b""
    if logged_in:
        assert ctx.sessions is not None
        session = ctx.sessions.cipher.encrypt_state(ACCOUNT, site.session_state())
    adapter = DouyinAdapter(monitor_config(ACCOUNT, common_pb2.PLATFORM_DOUYIN, session), ctx)
    quick(adapter)
    return adapter


# ------------------------------------------------------------------ login


async def test_login_qr_refresh_scan_sms_verification_and_success(tmp_path: Path) -> None:
    site = DouyinSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site, logged_in=False)
        assert adapter.needs_login()
        codes: asyncio.Queue[str] = asyncio.Queue()
        events = adapter.login("login-1", codes)
        try:
            first = await next_event(events)
            assert first.WhichOneof("event") == "qr" and first.qr.refresh_count == 0
            assert first.qr.png.startswith(b"\x89PNG")

            site.login_state = "expired"  # the page says so; the adapter reloads it
            second = await next_event(events)
            assert second.WhichOneof("event") == "qr" and second.qr.refresh_count == 1
            assert second.qr.png != first.qr.png and site.token == 2

            site.login_state = "scanned"
            assert (await next_event(events)).WhichOneof("event") == "scanned"

            site.login_state = "verify"  # identity check after the scan: SMS code
            ask = await next_event(events)
            assert ask.WhichOneof("event") == "verification_required"
            assert ask.verification_required.method == gateway_pb2.VERIFICATION_METHOD_SMS_CODE
            assert "138****0000" in ask.verification_required.hint
            assert site.sms_sent == 1

            await codes.put("000000")  # wrong: asked again
            again = await next_event(events)
            assert again.WhichOneof("event") == "verification_required"

            await codes.put(site.sms_code)
            done = await next_event(events)
        finally:
            await events.aclose()
        assert done.WhichOneof("event") == "success", done
        user = done.success.user
        assert (user.platform_user_id, user.nickname, user.unique_id) == (
            "3607962860399156",
            "小店主",
            "shop_owner_01",
        )
        assert user.avatar_url.startswith("https://p3.douyinpic.com/")
        assert done.success.fingerprint.user_agent
        assert ctx.sessions is not None
        state = ctx.sessions.cipher.decrypt_state(ACCOUNT, done.success.session)
        names = {c["name"] for c in state["cookies"]}
        assert {"sessionid", "sessionid_ss", "passport_csrf_token"} <= names
        assert SID.encode() not in done.success.session  # encrypted, never plain
        await adapter.close()


async def test_the_qr_is_found_by_its_aria_label_too(tmp_path: Path) -> None:
    site = DouyinSite()
    site.qr_by_aria_label = True
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site, logged_in=False)
        events = adapter.login("login-3", asyncio.Queue())
        try:
            first = await next_event(events)
        finally:
            await events.aclose()
        assert first.WhichOneof("event") == "qr" and first.qr.png.startswith(b"\x89PNG")
        await adapter.close()


async def test_login_page_without_qr_is_a_layout_change(tmp_path: Path) -> None:
    site = DouyinSite()
    site.override["/__fixture__/login/state"] = (200, '{"state": "waiting", "qr": ""}', {})
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site, logged_in=False)
        adapter.QR_FIND_TIMEOUT_S = 1.5
        events = adapter.login("login-2", asyncio.Queue())
        with pytest.raises(LayoutChanged, match="no QR image") as err:
            await next_event(events)
        assert screenshot_taken(err.value.screenshot)
        await adapter.close()


# ------------------------------------------------------------------ monitoring


WORK_A, WORK_B = "7565726274291895578", "7563127001122334455"
CONV_1 = f"0:1:88800001:{OWN_UID}"
CONV_2 = f"0:1:88800002:{OWN_UID}"
FIXED_QUERY = {
    "comment_select_options": "0",
    "sort_options": "0",
    "channel_id": "618",
    "app_id": "2906",
    "aid": "2906",
    "device_platform": "webapp",
}


def assert_newest_dm(dm: common_pb2.Item, source: str) -> None:
    """The fixture's newest DM, read from `source` ("wire" or "store")."""
    assert dm.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE
    assert (dm.conversation_id, dm.author_id, dm.author_name, dm.content) == (
        CONV_1,
        "88800001",
        "老顾客王姐",
        "今天营业到几点？",
    )
    assert dm.created_at.seconds == 1761400300 and not dm.outgoing
    assert json.loads(dm.raw_json)["source"] == source


def list_requests(site: DouyinSite, path: str, since: int = 0) -> list[dict[str, str]]:
    return [q for _, _, p, q in site.requests[since:] if p == path]


async def test_comments_replies_and_binary_dms_in_one_cycle(tmp_path: Path) -> None:
    """A Douyin account watching comments and DMs gets both: comments from
    the select lists it builds itself, the replies under a comment with their
    parent, the account's own comments as outgoing, and DMs decoded from the
    protobuf answers of the IM host."""
    site = DouyinSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        first = await adapter.fetch_new("")
        assert not first.failures
        got = by_id(list(first.items))
        comments = {k for k, v in got.items() if v.kind == common_pb2.ITEM_KIND_COMMENT}
        dms = {k for k, v in got.items() if v.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE}
        assert comments == {
            "7566000000000000003",
            "7566000000000000002",
            "7566000000000000001",  # page 2 of work A, fetched through the page
            "7566000000000000102",
            "7566000000000000101",  # the replies under ...002
            "7564000000000000002",
            "7564000000000000001",  # work B: never shown by the page, read anyway
        }
        a3 = got["7566000000000000003"]
        assert (a3.platform, a3.account_id) == (common_pb2.PLATFORM_DOUYIN, ACCOUNT)
        assert (a3.author_id, a3.author_name, a3.content) == (
            "88800011",
            "夕阳",
            "这件外套还有M码吗？",
        )
        assert (a3.post_id, a3.post_title) == (WORK_A, "秋季新品开箱")
        assert a3.created_at.seconds == 1761313593 and not a3.outgoing and not a3.parent_id
        reply = got["7566000000000000101"]
        assert reply.parent_id == "7566000000000000002" and not reply.outgoing
        assert reply.content == "同问有没有蓝色" and reply.post_id == WORK_A
        own_reply = got["7566000000000000102"]  # the author's uid, no label
        assert own_reply.outgoing and own_reply.parent_id == "7566000000000000002"
        assert got["7564000000000000002"].outgoing  # label_text "作者"

        assert dms == {
            "7432100000000000003",
            "7432100000000000002",
            "7432100000000000001",
            "7432100000000000000",  # from get_by_conversation (older history)
        }  # the SDK's command message (type 50011) is no DM
        assert_newest_dm(got["7432100000000000003"], "wire")
        assert got["7432100000000000001"].outgoing  # sent by the account itself
        assert got["7432100000000000002"].content == "[视频] 秋季新品开箱"  # a shared work
        assert json.loads(first.cursor) == {"c": 1761313593, "m": 1761400300}

        # The lists are built by the adapter, never with a page's signature.
        selects = list_requests(site, SELECT_PATH)
        assert {q["aweme_id"] for q in selects} == {WORK_A, WORK_B}
        assert [q["cursor"] for q in selects if q["aweme_id"] == WORK_A] == ["0", "2"]
        replies = list_requests(site, REPLY_LIST_PATH)
        assert [(q["comment_id"], q["item_id"]) for q in replies] == [
            ("7566000000000000002", WORK_A)
        ]
        for query in selects + replies:
            assert FIXED_QUERY.items() <= query.items(), query
            assert not {"a_bogus", "msToken", "X-Bogus"} & set(query), query

        # Nothing moved: no list is read again; the boundary DM comes back identical.
        seen = len(site.requests)
        second = await adapter.fetch_new(first.cursor)
        assert set(by_id(second.items)) == {"7432100000000000003"}
        assert got["7432100000000000003"].SerializeToString() == second.items[0].SerializeToString()
        assert not list_requests(site, SELECT_PATH, seen) + list_requests(
            site, REPLY_LIST_PATH, seen
        )

        # A new comment on work B and a new reply under a comment of work A:
        # only those works are read, and only the replies whose count grew.
        site.add_comment(
            WORK_B,
            dict(
                site.comments[WORK_B][1],
                cid="7564000000000000009",
                text="周末营业吗",
                create_time=1761401000,
            ),
        )
        site.add_reply(
            WORK_A,
            "7566000000000000002",
            dict(
                site.replies_of["7566000000000000002"][1],
                cid="7566000000000000109",
                text="蓝色也有",
                create_time=1761401100,
            ),
        )
        seen = len(site.requests)
        third = await adapter.fetch_new(second.cursor)
        new = by_id(third.items)
        assert {"7564000000000000009", "7566000000000000109"} <= set(new)
        assert new["7566000000000000109"].parent_id == "7566000000000000002"
        assert json.loads(third.cursor)["c"] == 1761401100
        assert {q["comment_id"] for q in list_requests(site, REPLY_LIST_PATH, seen)} == {
            "7566000000000000002"
        }
        await adapter.close()


async def test_dms_come_from_the_page_store_when_the_wire_shape_moves(tmp_path: Path) -> None:
    site = DouyinSite()
    # The same messages, but the envelope's body moved to another field.
    site.im_broken = (
        douyin_wire.number(1, 2043)
        + douyin_wire.length(4, "OK")
        + (douyin_wire.length(7, b"\x08\x01"))
    )
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        result = await adapter.fetch_new("")
        assert not result.failures
        dms = by_id(i for i in result.items if i.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE)
        # The store holds each conversation's last message.
        assert set(dms) == {"7432100000000000003", "7432100000000000002"}
        assert_newest_dm(dms["7432100000000000003"], "store")

        # Neither source: the DM step fails loudly, naming both; the comment
        # step still succeeds (nothing moved there: no items).
        site.im_store = False
        result = await adapter.fetch_new(result.cursor)
        assert result.items == []
        [(step, failure)] = result.failures
        assert step == "direct messages" and isinstance(failure, LayoutChanged)
        assert "6.2043" in str(failure) and "IM store" in str(failure)
        await adapter.close()


async def test_replies_go_through_the_page_ui(tmp_path: Path) -> None:
    site = DouyinSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        await adapter.fetch_new("")
        # The page shows no comments until a work is picked: the picker is used,
        # and the page's own (signed) request is accepted.
        target = gateway_pb2.ReplyTarget(
            kind=common_pb2.ITEM_KIND_COMMENT,
            platform_item_id="7564000000000000001",
            post_id=WORK_B,
        )
        reply_id = await adapter.send_reply(target, "就在人民路88号")
        assert reply_id == "7566000000000009001"
        assert site.posted_replies == [
            {
                "item_id": "@jfFo679LREb/work-b",
                "reply_to_comment_id": "7564000000000000001",
                "text": "就在人民路88号",
            }
        ]
        signed = [q for q in list_requests(site, SELECT_PATH) if "a_bogus" in q]
        assert [q["aweme_id"] for q in signed] == [WORK_B]

        dm = gateway_pb2.ReplyTarget(
            kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE,
            platform_item_id="7432100000000000002",
            conversation_id=CONV_2,
        )
        assert await adapter.send_reply(dm, "定位已发您") == ""
        assert site.sent == [{"conversation_id": CONV_2, "text": "定位已发您"}]
        # The IM API itself is never called to send: only the page's own UI did.
        assert [p for m, _, p, _ in site.requests if m == "POST" and p.endswith("/send")] == [
            "/v1/message/send"
        ]

        # Another chat's title in the open pane: nothing is typed.
        site.title_override = "老顾客王姐"
        with pytest.raises(PlatformError, match="not '路人甲'"):
            await adapter.send_reply(dm, "不该发出")
        assert len(site.sent) == 1
        await adapter.close()


async def test_a_reply_answer_with_status_8_is_not_a_logout(tmp_path: Path) -> None:
    site = DouyinSite()
    site.reply_code = 8
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        await adapter.fetch_new("")
        # a comment this adapter never saw (another worker's): found all the same
        adapter._known_comments.clear()
        target = gateway_pb2.ReplyTarget(
            kind=common_pb2.ITEM_KIND_COMMENT, platform_item_id="7564000000000000001"
        )
        with pytest.raises(PlatformError, match="status_code 8") as err:
            await adapter.send_reply(target, "好的")
        assert not isinstance(err.value, AuthExpired)
        await adapter.close()


async def test_session_expiry_is_auth_expired(tmp_path: Path) -> None:
    site = DouyinSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        await adapter.fetch_new("")
        site.user_code = 8  # the user-info API says: not logged in
        with pytest.raises(AuthExpired, match="status_code 8") as err:
            await adapter.fetch_new("")
        assert screenshot_taken(err.value.screenshot)
        site.user_code = 0
        site.sessions.clear()  # the platform forgot the session: pages bounce to login
        with pytest.raises(AuthExpired, match="shows the login page"):
            await adapter.fetch_new("")
        await adapter.close()


async def test_changed_layout_is_loud_with_a_screenshot(tmp_path: Path) -> None:
    site = DouyinSite()
    site.rename_comment_list = True
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        failure = await cycle_failure(adapter)
        assert isinstance(failure, LayoutChanged) and "comment_info_list" in str(failure)
        assert screenshot_taken(failure.screenshot)
        assert Path(failure.screenshot).parent == ctx.browser.screenshot_dir(ACCOUNT)  # type: ignore[union-attr]
        site.rename_comment_list = False
        site.works["item_info_list"][0].pop("item_id")  # a work without its id
        site.works["item_info_list"][0]["comment_count"] += 1  # read again
        failure = await cycle_failure(adapter)
        assert isinstance(failure, LayoutChanged) and "work lacks item_id" in str(failure)
        await adapter.close()


@pytest.mark.parametrize(
    ("status", "raw", "error", "match"),
    [
        (200, "", Blocked, "empty answer"),
        (429, '{"status_code": 0}', RateLimited, "429"),
        (471, "{}", VerificationRequired, "captcha"),
        (200, '{"status_code": 2154, "status_msg": "操作过于频繁"}', PlatformError, "2154"),
    ],
)
async def test_risk_control_answers_are_typed(
    tmp_path: Path, status: int, raw: str, error: type[PlatformError], match: str
) -> None:
    site = DouyinSite()
    site.override[SELECT_PATH] = (status, raw, {})
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        failure = await cycle_failure(adapter)
        assert isinstance(failure, error) and match in str(failure), failure
        assert screenshot_taken(failure.screenshot)
        if isinstance(failure, RateLimited):
            assert failure.retry_after >= 60  # back off, do not hammer
        await adapter.close()


async def test_captcha_page_is_verification_required(tmp_path: Path) -> None:
    site = DouyinSite()
    site.captcha = True
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        with pytest.raises(VerificationRequired, match="captcha") as err:
            await adapter.fetch_new("")
        assert err.value.kind == common_pb2.ERROR_KIND_VERIFICATION
        assert screenshot_taken(err.value.screenshot)
        await adapter.close()


# ------------------------------------------------------------------ to the master's inbox


@contextlib.asynccontextmanager
async def routed_worker(
    cluster: Cluster, site: DouyinSite, data_dir: Path
) -> AsyncIterator[Runner]:
    """A real worker (Runner + Link, as hiscrm-worker runs them) in this
    process, connected to the real master, its browser routed to the site."""
    config = WorkerConfig.parse(
        ["--id", "w-douyin-inbox", "--master", cluster.address, "--platforms", "douyin",
         "--data-dir", str(data_dir)]
    )  # fmt: skip
    runner = Runner(config)
    runner.browser = RoutedPool(site.handle, config.worker_id, data_dir)
    runner.ctx.browser = runner.browser
    identity = WorkerIdentity(
        worker_id=config.worker_id, platforms=platform_values(config.platforms), max_accounts=5
    )
    link = Link(
        identity,
        config.master,
        cluster.enrollment_token(),  # a new worker id enrolls, as hiscrm-worker does
        runner,
        max_message_bytes=config.max_message_bytes,
    )
    runner.attach(link)
    task = asyncio.create_task(link.run())
    try:
        yield runner
    finally:
        await runner.shutdown()
        await link.stop("test over")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await runner.browser.close()
        runner.close()


async def test_a_binary_dm_and_a_reply_thread_reach_the_master_inbox(
    tmp_path: Path, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real master: a Douyin account is created, logged in by QR
    (the login page of the fixture site), and its first cycle's DM (decoded
    from the IM host's protobuf answer) and reply thread land in the inbox
    with id, text, sender, conversation, time and parent right; the
    account's own comments and messages are stored read, never unread."""
    cluster.start_master()
    for key, value in cluster.env().items():
        monkeypatch.setenv(key, value)
    site = DouyinSite()
    async with routed_worker(cluster, site, tmp_path / "worker"):
        await asyncio.to_thread(
            cluster.wait_worker_state, "w-douyin-inbox", common_pb2.WORKER_STATE_ONLINE
        )
        spec = common_pb2.AccountSpec(
            platform=common_pb2.PLATFORM_DOUYIN,
            enabled=True,
            monitor_interval_ms=1000,
            monitor_comments=True,
            monitor_direct_messages=True,
        )
        await asyncio.to_thread(create, cluster, ACCOUNT, spec)
        await asyncio.to_thread(
            wait_for,
            lambda: account(cluster, ACCOUNT).state == common_pb2.RUN_STATE_NEEDS_LOGIN,
            timeout=60,
            what="the account held by the worker, waiting for a login",
        )
        async with open_channel(cluster.address, cluster.token()) as channel:
            stub = control_pb2_grpc.ControlStub(channel)
            stream = stub.StartLogin(control_pb2.StartLoginRequest(account_id=ACCOUNT))
            async with asyncio.timeout(120):
                async for update in stream:
                    if update.WhichOneof("event") == "qr":
                        site.login_state = "confirmed"  # the phone scanned and confirmed
                    elif update.WhichOneof("event") == "success":
                        break

            def stored() -> dict[str, control_pb2.StoredItem]:
                return {s.item.platform_item_id: s for s in listed(cluster)}

            wanted = {"7432100000000000003", "7566000000000000101", "7566000000000000102"}
            await asyncio.to_thread(
                wait_for,
                lambda: wanted <= set(stored()),
                timeout=90,
                what="the first cycle's items",
            )
        items = await asyncio.to_thread(stored)
        dm = items["7432100000000000003"]
        assert_newest_dm(dm.item, "wire")
        assert dm.item.platform == common_pb2.PLATFORM_DOUYIN and not dm.read
        reply = items["7566000000000000101"]
        assert (reply.item.parent_id, reply.item.post_id, reply.item.content) == (
            "7566000000000000002",
            WORK_A,
            "同问有没有蓝色",
        )
        assert "7566000000000000002" in items  # the parent itself, unread
        own = items["7566000000000000102"]
        assert own.item.outgoing and own.read
        incoming = [s for s in items.values() if not s.item.outgoing]
        counts = await asyncio.to_thread(
            cluster.call,
            "GetUnreadCounts",
            control_pb2.GetUnreadCountsRequest(account_ids=[ACCOUNT]),
        )
        assert counts.total == len(incoming) < len(items)  # type: ignore[attr-defined]


def listed(cluster: Cluster) -> list[control_pb2.StoredItem]:
    resp = cluster.call(
        "ListItems", control_pb2.ListItemsRequest(account_ids=[ACCOUNT], page_size=200)
    )
    return list(resp.items)  # type: ignore[attr-defined]
