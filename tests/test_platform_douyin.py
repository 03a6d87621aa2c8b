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


class DouyinSite(FixtureSite):
    """Douyin's creator centre and IM hosts, from the fixtures."""

    def __init__(self) -> None:
        super().__init__()
        self.user = load("user_info.json")
        self.works = load("work_list.json")
        self.comments: dict[str, list[dict[str, Any]]] = load("comments.json")
        self.dms: list[dict[str, Any]] = load("dm_messages.json")["data"]["messages"]
        self.page_size = 2
        self.login_state = "waiting"
        self.token = 1
        self.sms_code = "246810"
        self.sms_sent = 0
        self.sessions: set[str] = set()
        self.user_code = 0
        self.captcha = False
        self.rename_comment_list = False
        self.replies: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []

    # ------------------------------------------------------------ plumbing

    async def answer(
        self, route: Route, host: str, path: str, query: dict[str, str], cookies: dict[str, str]
    ) -> None:
        logged_in = cookies.get("sessionid") in self.sessions
        if host == "creator.douyin.com":
            await self._creator(route, path, query, logged_in)
        elif host == "imapi.snssdk.com":
            await self._im(route, path, query)
        else:
            await route.abort()  # nothing leaves the machine

    @staticmethod
    async def _html(route: Route, name: str) -> None:
        await route.fulfill(
            body=(FIXTURES / name).read_text(encoding="utf-8"),
            content_type="text/html; charset=utf-8",
        )

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
        elif path == "/aweme/v1/creator/comment/list/":
            records = self.comments.get(query.get("item_id", ""), [])
            cursor = int(query.get("cursor") or 0)
            page = records[cursor : cursor + self.page_size]
            body = {
                "comment_info_list": page,
                "cursor": cursor + len(page),
                "extra": {"now": 1761543014000},
                "has_more": cursor + len(page) < len(records),
                "has_vcd_filter": False,
                "status_code": 0,
                "status_msg": "",
                "total_count": len(records),
            }
            if self.rename_comment_list:
                body["comment_list_v2"] = body.pop("comment_info_list")
            await self.json_answer(route, body)
        elif path == "/aweme/v1/creator/comment/reply/":
            posted = json.loads(route.request.post_data or "{}")
            self.replies.append(posted)
            reply_id = f"@j/reply-{len(self.replies)}"
            await self.json_answer(
                route,
                {"status_code": 0, "status_msg": "", "comment_info": {"comment_id": reply_id}},
            )
        else:
            await route.fulfill(status=404, body="not found")

    # ------------------------------------------------------------ imapi.snssdk.com

    async def _im(self, route: Route, path: str, query: dict[str, str]) -> None:
        if route.request.method == "OPTIONS":
            await route.fulfill(status=204, headers=CORS)
        elif path == "/v2/message/get_by_user_init":
            cursor = int(query.get("cursor") or 0)
            page = self.dms[cursor : cursor + self.page_size]
            more = cursor + len(page) < len(self.dms)
            body = {
                "status_code": 0,
                "data": {"messages": page, "has_more": more, "cursor": str(cursor + len(page))},
            }
            await self.json_answer(route, body, **CORS)
        elif path == "/v1/message/send":
            posted = json.loads(route.request.post_data or "{}")
            self.sent.append(posted)
            await self.json_answer(route, {"status_code": 0}, **CORS)
        else:
            await route.fulfill(status=404, body="not found", headers=CORS)

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


async def test_comment_and_dm_paging_dedupe_and_cursor(tmp_path: Path) -> None:
    site = DouyinSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        first = await adapter.fetch_new("")
        got = by_id(list(first.items))
        comments = {k for k, v in got.items() if v.kind == common_pb2.ITEM_KIND_COMMENT}
        dms = {k for k, v in got.items() if v.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE}
        assert comments == {
            "@j/du7rRFQE76-a3",
            "@j/du7rRFQE76-a2",
            "@j/du7rRFQE76-a1",  # page 2 of work A, fetched through the page
            "@j/du7rRFQE76-b2",
            "@j/du7rRFQE76-b1",  # work B: not shown by the page, fetched for it
        }
        assert dms == {"7432100000000000003", "7432100000000000002", "7432100000000000001"}
        a3 = got["@j/du7rRFQE76-a3"]
        assert (a3.platform, a3.account_id) == (common_pb2.PLATFORM_DOUYIN, ACCOUNT)
        assert (a3.author_id, a3.author_name, a3.content) == (
            "@j/du7rRFQE76-user1",
            "夕阳",
            "这件外套还有M码吗？",
        )
        assert (a3.post_id, a3.post_title) == ("7565726274291895578", "秋季新品开箱")
        assert a3.created_at.seconds == 1761313593 and not a3.outgoing
        assert got["@j/du7rRFQE76-b1"].outgoing  # the account's own comment
        dm = got["7432100000000000003"]
        assert (dm.conversation_id, dm.author_name, dm.content) == (
            "0:1:3607962860399156:88800001",
            "老顾客王姐",
            "今天营业到几点？",
        )
        assert got["7432100000000000001"].outgoing
        assert json.loads(first.cursor) == {"c": 1761313593, "m": 1761400300}
        comment_pages = [q for _, _, p, q in site.requests if p.endswith("/comment/list/")]
        assert {"item_id": "@jfFo679LREb/work-a", "cursor": "2"}.items() <= next(
            q for q in comment_pages if q.get("cursor") == "2"
        ).items()
        dm_pages = [q for _, _, p, q in site.requests if p.endswith("get_by_user_init")]
        assert [q["cursor"] for q in dm_pages] == ["0", "2"]

        # Second cycle with the cursor: only the newest (boundary) items again,
        # byte-identical, and no page past the cursor is fetched.
        seen = len(site.requests)
        second = await adapter.fetch_new(first.cursor)
        again = by_id(list(second.items))
        assert set(again) == {"@j/du7rRFQE76-a3", "7432100000000000003"}
        for key, item in again.items():
            assert item.SerializeToString() == got[key].SerializeToString()
        later = site.requests[seen:]
        assert not [q for _, _, p, q in later if q.get("cursor") == "2"]
        assert second.cursor == first.cursor

        # New items arrive: the next cycle has them (plus the boundary ones).
        site.comments["@jfFo679LREb/work-a"].insert(
            0,
            dict(
                site.comments["@jfFo679LREb/work-a"][0],
                comment_id="@j/new",
                create_time="1761400999",
            ),
        )
        site.dms.insert(0, dict(site.dms[0], msg_id="7432100000000000009", create_time=1761401000))
        third = await adapter.fetch_new(second.cursor)
        assert set(by_id(list(third.items))) == {
            "@j/new",
            "@j/du7rRFQE76-a3",
            "7432100000000000009",
            "7432100000000000003",
        }
        assert json.loads(third.cursor) == {"c": 1761400999, "m": 1761401000}
        await adapter.close()


async def test_replies_go_through_the_page_ui(tmp_path: Path) -> None:
    site = DouyinSite()
    async with harness(tmp_path, site) as ctx:
        adapter = adapter_for(ctx, site)
        await adapter.fetch_new("")
        # A comment on work B: the page shows work A first, so the work picker is used.
        target = gateway_pb2.ReplyTarget(
            kind=common_pb2.ITEM_KIND_COMMENT,
            platform_item_id="@j/du7rRFQE76-b2",
            post_id="7563127001122334455",
        )
        reply_id = await adapter.send_reply(target, "就在人民路88号")
        assert reply_id == "@j/reply-1"
        assert site.replies == [
            {
                "item_id": "@jfFo679LREb/work-b",
                "reply_to_comment_id": "@j/du7rRFQE76-b2",
                "text": "就在人民路88号",
            }
        ]
        dm = gateway_pb2.ReplyTarget(
            kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE,
            platform_item_id="7432100000000000002",
            conversation_id="0:1:3607962860399156:88800002",
        )
        assert await adapter.send_reply(dm, "定位已发您") == ""
        assert site.sent == [
            {"conversation_id": "0:1:3607962860399156:88800002", "text": "定位已发您"}
        ]
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
    site.override["/aweme/v1/creator/comment/list/"] = (status, raw, {})
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
