"""The demo platform over real HTTP on loopback: login, creator APIs, faults, live push."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import segno
from aiohttp import CookieJar
from aiohttp.test_utils import TestServer

from demosite import DemoConfig, create_app, qr
from demosite.app import build_state

pytestmark = pytest.mark.timeout(60)


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Site:
    server: TestServer
    clock: FakeClock
    admin: aiohttp.ClientSession
    _browsers: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def base(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def browser(self) -> aiohttp.ClientSession:
        """A fresh client with its own cookie jar (unsafe: cookies for an IP host)."""
        session = aiohttp.ClientSession(base_url=self.base, cookie_jar=CookieJar(unsafe=True))
        self._browsers.append(session)
        return session

    async def close(self) -> None:
        for session in self._browsers:
            await session.close()
        await self.admin.close()
        await self.server.close()


async def start_site(clock: FakeClock | None = None, **config: Any) -> Site:
    clock = clock or FakeClock()
    settings = {"seed": 1, "qr_ttl": 30.0, "users": 2, "sms_users": ("demo2",)} | config
    server = TestServer(create_app(DemoConfig(**settings), clock=clock), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    return Site(server, clock, aiohttp.ClientSession(base_url=base))


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    running = await start_site()
    try:
        yield running
    finally:
        await running.close()


async def login_page_token(browser: aiohttp.ClientSession) -> str:
    response = await browser.get("/login")
    assert response.status == 200
    match = re.search(r'<img id="qr"[^>]*data-token="([^"]+)"', await response.text())
    assert match, "login page has no #qr with a data-token"
    return match.group(1)


async def status_of(browser: aiohttp.ClientSession, token: str) -> dict[str, Any]:
    response = await browser.get("/api/login/status", params={"token": token})
    return await response.json()


async def logged_in(site: Site, username: str = "demo1") -> aiohttp.ClientSession:
    browser = site.browser()
    token = await login_page_token(browser)
    response = await site.admin.post("/api/login/scan", params={"token": token, "user": username})
    assert response.status == 200, await response.text()
    assert (await status_of(browser, token))["status"] == "confirmed"
    return browser


def strip_text_chunks(png: bytes) -> bytes:
    out, pos = bytearray(png[:8]), 8
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        chunk = png[pos : pos + 12 + length]
        if chunk[4:8] != b"tEXt":
            out += chunk
        pos += 12 + length
    return bytes(out)


# -- determinism -------------------------------------------------------------------


def _fingerprint(seed: int) -> list[Any]:
    state = build_state(DemoConfig(seed=seed, users=2), clock=FakeClock())
    out: list[Any] = []
    for user in state.users.values():
        out.append((user.username, user.user_id, user.nickname, user.sms_code))
        out += [(p.post_id, p.title) for p in user.posts]
        out += [(c.comment_id, c.author_name, c.text, c.create_time) for c in user.all_comments]
        out += [(m.message_id, m.conversation_id, m.text) for m in user.all_messages]
    return out


def test_same_seed_builds_the_same_platform() -> None:
    assert _fingerprint(1) == _fingerprint(1)
    assert _fingerprint(1) != _fingerprint(2)


# -- QR login ------------------------------------------------------------------------


async def test_login_qr_png_encodes_the_confirm_url(site: Site) -> None:
    browser = site.browser()
    token = await login_page_token(browser)
    response = await browser.get("/api/login/qr.png", params={"token": token})
    assert response.status == 200
    assert response.content_type == "image/png"
    png = await response.read()
    assert png.startswith(qr.PNG_SIGNATURE)
    confirm_url = f"{site.base}/api/login/scan?token={token}"
    assert qr.qr_content(png) == confirm_url
    # Apart from the tEXt chunk, the image is exactly segno's QR of the confirm URL.
    expected = io.BytesIO()
    segno.make(confirm_url, error="m").save(expected, kind="png", scale=6, border=4)
    assert strip_text_chunks(png) == expected.getvalue()
    listed = (await (await site.admin.get("/admin/login_tokens")).json())["tokens"]
    assert [t["token"] for t in listed] == [token]
    assert listed[0]["confirm_url"] == confirm_url


async def test_qr_expires_and_a_new_one_is_issued(site: Site) -> None:
    browser = site.browser()
    token = await login_page_token(browser)
    assert (await status_of(browser, token))["status"] == "waiting"
    site.clock.advance(31)
    assert (await status_of(browser, token))["status"] == "expired"
    late = await site.admin.post("/api/login/scan", params={"token": token, "user": "demo1"})
    assert late.status == 410
    assert (await late.json())["error"] == "token_expired"
    fresh = await (await browser.post("/api/login/qr")).json()
    assert fresh["token"] != token
    assert fresh["status"] == "waiting"
    assert fresh["expires_in"] == pytest.approx(30.0)
    png = await (await browser.get(fresh["qr_url"])).read()
    assert qr.qr_content(png) == fresh["confirm_url"]
    assert fresh["confirm_url"].endswith(f"token={fresh['token']}")


async def test_scan_confirms_and_sets_the_session(site: Site) -> None:
    browser = site.browser()
    gate = await browser.get("/creator", allow_redirects=False)
    assert gate.status == 302
    assert gate.headers["Location"] == "/login"
    token = await login_page_token(browser)
    scan = await site.admin.post("/api/login/scan", params={"token": token, "user": "demo1"})
    assert (await scan.json())["status"] == "confirmed"
    response = await browser.get("/api/login/status", params={"token": token})
    body = await response.json()
    assert body["status"] == "confirmed"
    assert body["redirect"] == "/creator"
    assert body["user"]["nickname"] and body["user"]["user_id"]
    cookie = response.cookies["demo_session"]
    assert cookie["httponly"]
    assert response.cookies["demo_uid"].value == body["user"]["user_id"]
    me = await (await browser.get("/api/creator/me")).json()
    assert me["user"]["user_id"] == body["user"]["user_id"]
    assert set(me["user"]) >= {"user_id", "nickname", "avatar", "unique_id"}
    page = await browser.get("/creator")
    assert page.status == 200
    assert '"comment_item": "comment-item"' in await page.text()
    again = await browser.get("/login", allow_redirects=False)
    assert again.headers["Location"] == "/creator"


async def test_scan_then_confirm_on_the_phone(site: Site) -> None:
    browser = site.browser()
    token = await login_page_token(browser)
    await site.admin.post("/admin/scan", json={"username": "demo1", "confirm": False})
    assert (await status_of(browser, token))["status"] == "scanned"
    confirm = await site.admin.post("/api/login/confirm", json={"token": token})
    assert (await confirm.json())["status"] == "confirmed"
    assert (await status_of(browser, token))["status"] == "confirmed"


async def test_sms_verification_wrong_then_right_code(site: Site) -> None:
    browser = site.browser()
    token = await login_page_token(browser)
    await site.admin.post("/api/login/scan", params={"token": token, "user": "demo2"})
    waiting = await status_of(browser, token)
    assert waiting["status"] == "verify"
    assert "****" in waiting["phone"]
    code = (await (await site.admin.get("/admin/sms_code", params={"username": "demo2"})).json())[
        "code"
    ]
    wrong = "000000" if code != "000000" else "111111"
    bad = await browser.post("/api/login/verify", json={"token": token, "code": wrong})
    assert bad.status == 400
    bad_body = await bad.json()
    assert bad_body["error"] == "invalid_code"
    assert bad_body["attempts_left"] == 4
    assert "demo_session" not in bad.cookies
    assert (await status_of(browser, token))["status"] == "verify"
    good = await browser.post("/api/login/verify", json={"token": token, "code": code})
    assert good.status == 200
    assert (await good.json())["status"] == "confirmed"
    assert "demo_session" in good.cookies
    me = await (await browser.get("/api/creator/me")).json()
    assert me["user"]["username"] == "demo2"


async def test_sms_verification_fails_after_too_many_wrong_codes(site: Site) -> None:
    browser = site.browser()
    token = await login_page_token(browser)
    await site.admin.post("/api/login/scan", params={"token": token, "user": "demo2"})
    errors = []
    for _ in range(5):
        response = await browser.post("/api/login/verify", json={"token": token, "code": "x"})
        errors.append((await response.json())["error"])
    assert errors == ["invalid_code"] * 4 + ["too_many_attempts"]
    assert (await status_of(browser, token))["status"] == "failed"


# -- creator APIs -----------------------------------------------------------------------

CREATOR_APIS = [
    "/api/creator/me",
    "/api/creator/posts",
    "/api/creator/comments",
    "/api/creator/conversations",
    "/api/creator/messages",
]


async def test_creator_apis_require_a_live_session(site: Site) -> None:
    stranger = site.browser()
    for path in CREATOR_APIS:
        response = await stranger.get(path)
        assert response.status == 401, path
        body = await response.json()
        assert (body["error"], body["status_code"]) == ("not_logged_in", 8)
    browser = await logged_in(site)
    for path in CREATOR_APIS:
        assert (await browser.get(path)).status == 200, path
    expired = await site.admin.post("/admin/expire_session", json={"username": "demo1"})
    assert (await expired.json())["expired"] == 1
    assert (await browser.get("/api/creator/me")).status == 401
    gate = await browser.get("/creator", allow_redirects=False)
    assert gate.headers["Location"] == "/login"


async def test_logout_ends_only_this_browser_session(site: Site) -> None:
    laptop = await logged_in(site)
    phone = await logged_in(site)
    out = await laptop.get("/logout", allow_redirects=False)
    assert out.headers["Location"] == "/login"
    assert (await laptop.get("/api/creator/me")).status == 401
    assert (await phone.get("/api/creator/me")).status == 200


async def _all_pages(
    browser: aiohttp.ClientSession, path: str, key: str, count: int, **params: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = 0
    for _ in range(100):
        query = {"cursor": str(cursor), "count": str(count), **params}
        body = await (await browser.get(path, params=query)).json()
        assert len(body[key]) <= count
        items += body[key]
        cursor = body["cursor"]
        if not body["has_more"]:
            return items
    raise AssertionError("paging never ended")


async def test_comment_paging_is_stable_and_complete(site: Site) -> None:
    browser = await logged_in(site)
    posts = (await (await browser.get("/api/creator/posts")).json())["posts"]
    total = sum(p["comment_count"] for p in posts)
    everything = await _all_pages(browser, "/api/creator/comments", "comments", 7)
    ids = [c["comment_id"] for c in everything]
    assert len(ids) == len(set(ids)) == total
    times = [c["create_time"] for c in everything]
    assert times == sorted(times, reverse=True)
    for post in posts:
        one = await _all_pages(
            browser, "/api/creator/comments", "comments", 4, post_id=post["post_id"]
        )
        assert {c["post_id"] for c in one} == {post["post_id"]}
        assert len(one) == post["comment_count"]
    # A comment arriving between two pages shifts nothing.
    first = await (await browser.get("/api/creator/comments", params={"count": "5"})).json()
    await site.admin.post("/admin/comments", json={"username": "demo1", "text": "插队"})
    second = await (
        await browser.get("/api/creator/comments", params={"count": "5", "cursor": first["cursor"]})
    ).json()
    assert not {c["comment_id"] for c in first["comments"]} & {
        c["comment_id"] for c in second["comments"]
    }
    assert second["comments"][0]["comment_id"] == ids[5]


async def test_message_paging_is_stable_and_complete(site: Site) -> None:
    browser = await logged_in(site)
    conversations = (await (await browser.get("/api/creator/conversations")).json())[
        "conversations"
    ]
    assert conversations
    total = 0
    for conv in conversations:
        msgs = await _all_pages(
            browser,
            "/api/creator/messages",
            "messages",
            3,
            conversation_id=conv["conversation_id"],
        )
        ids = [m["message_id"] for m in msgs]
        assert len(ids) == len(set(ids)) == conv["message_count"]
        assert msgs[0] == conv["last_message"]
        total += len(ids)
    everything = await _all_pages(browser, "/api/creator/messages", "messages", 5)
    assert len({m["message_id"] for m in everything}) == total


async def test_injected_items_appear_in_the_apis(site: Site) -> None:
    browser = await logged_in(site)
    post_id = (await (await browser.get("/api/creator/posts")).json())["posts"][1]["post_id"]
    made = await site.admin.post(
        "/admin/comments",
        json={"username": "demo1", "post_id": post_id, "author_name": "测试员", "text": "新评论"},
    )
    assert made.status == 201
    comment = (await made.json())["comment"]
    page = await (
        await browser.get("/api/creator/comments", params={"post_id": post_id, "count": "1"})
    ).json()
    assert page["comments"] == [comment]
    assert (comment["author_name"], comment["text"], comment["post_id"]) == (
        "测试员",
        "新评论",
        post_id,
    )
    dm = (
        await (
            await site.admin.post(
                "/admin/messages",
                json={"username": "demo1", "from_name": "新朋友", "text": "你好呀"},
            )
        ).json()
    )["message"]
    conversations = (await (await browser.get("/api/creator/conversations")).json())[
        "conversations"
    ]
    assert conversations[0]["conversation_id"] == dm["conversation_id"]
    assert conversations[0]["peer_name"] == "新朋友"
    assert conversations[0]["last_message"] == dm
    again = (
        await (
            await site.admin.post(
                "/admin/messages",
                json={
                    "username": "demo1",
                    "conversation_id": dm["conversation_id"],
                    "text": "在吗",
                },
            )
        ).json()
    )["message"]
    assert again["sender_id"] == dm["sender_id"]
    missing = await site.admin.post("/admin/comments", json={"username": "nobody", "text": "x"})
    assert missing.status == 404


async def test_replies_show_up_in_the_data_and_the_admin_api(site: Site) -> None:
    browser = await logged_in(site)
    target = (await (await browser.get("/api/creator/comments")).json())["comments"][0]
    sent = await browser.post(
        "/api/creator/reply",
        json={"kind": "comment", "comment_id": target["comment_id"], "text": "谢谢支持"},
    )
    assert sent.status == 200
    mine = (await sent.json())["comment"]
    assert mine["is_author"] and mine["reply_to"] == target["comment_id"]
    assert mine["label_text"] == "作者"
    newest = (await (await browser.get("/api/creator/comments")).json())["comments"][0]
    assert newest == mine
    conv = (await (await browser.get("/api/creator/conversations")).json())["conversations"][0]
    dm = await browser.post(
        "/api/creator/reply",
        json={"kind": "message", "conversation_id": conv["conversation_id"], "text": "好的"},
    )
    out = (await dm.json())["message"]
    assert out["direction"] == "out"
    replies = (await (await site.admin.get("/admin/replies", params={"username": "demo1"})).json())[
        "replies"
    ]
    assert [(r["kind"], r["target_id"], r["item_id"], r["text"]) for r in replies] == [
        ("comment", target["comment_id"], mine["comment_id"], "谢谢支持"),
        ("message", conv["conversation_id"], out["message_id"], "好的"),
    ]
    bad = await browser.post(
        "/api/creator/reply", json={"kind": "comment", "comment_id": "1", "text": "x"}
    )
    assert bad.status == 404
    empty = await browser.post("/api/creator/reply", json={"kind": "poke", "text": "x"})
    assert empty.status == 400


# -- faults ---------------------------------------------------------------------------------


async def test_captcha_page_and_api_error(site: Site) -> None:
    browser = await logged_in(site)
    await site.admin.post("/admin/captcha", json={"username": "demo1", "on": True})
    page = await browser.get("/creator")
    assert page.status == 200
    assert 'data-testid="captcha"' in await page.text()
    response = await browser.get("/api/creator/comments")
    assert response.status == 403
    body = await response.json()
    assert (body["error"], body["status_code"]) == ("captcha_required", 2154)
    await site.admin.post("/admin/captcha", json={"username": "demo1", "on": False})
    assert (await browser.get("/api/creator/comments")).status == 200


async def test_rate_limit_answers_429(site: Site) -> None:
    browser = await logged_in(site)
    await site.admin.post("/admin/rate_limit", json={"username": "demo1", "on": True})
    response = await browser.get("/api/creator/messages")
    assert response.status == 429
    assert response.headers["Retry-After"]
    body = await response.json()
    assert (body["error"], body["status_code"]) == ("rate_limited", 2053)
    await site.admin.post("/admin/rate_limit", json={"username": "demo1", "on": False})
    assert (await browser.get("/api/creator/messages")).status == 200


async def test_layout_v2_renames_fields_and_selectors(site: Site) -> None:
    browser = await logged_in(site)
    v1 = await (await browser.get("/api/creator/comments", params={"count": "2"})).json()
    assert set(v1) >= {"comments", "cursor", "has_more"}
    await site.admin.post("/admin/layout", json={"variant": "v2"})
    v2 = await (await browser.get("/api/creator/comments", params={"count": "2"})).json()
    assert "comments" not in v2 and "has_more" not in v2
    assert set(v2) >= {"comment_list", "next_cursor", "hasMore"}
    first = v2["comment_list"][0]
    assert "comment_id" not in first and "text" not in first
    assert first["cid"] == v1["comments"][0]["comment_id"]
    assert first["content"] == v1["comments"][0]["text"]
    assert first["user"]["uid"] == v1["comments"][0]["author_id"]
    page = await (await browser.get("/creator")).text()
    assert '"comment_item": "cmt-card"' in page and "comment-item" not in page
    # Per-user layouts, and back.
    await site.admin.post("/admin/layout", json={"variant": "v1"})
    await site.admin.post("/admin/layout", json={"variant": "v2", "username": "demo2"})
    assert "comments" in await (await browser.get("/api/creator/comments")).json()
    bad = await site.admin.post("/admin/layout", json={"variant": "v9"})
    assert bad.status == 400


# -- live channel ---------------------------------------------------------------------------


# A bound for a frame that must come (a loaded machine is slow), not a latency
# figure: only pushes come over the socket, so any frame proves the push.
FRAME_WAIT_S = 30.0


async def _next_frame(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame = await asyncio.wait_for(ws.receive_json(), timeout=FRAME_WAIT_S)
        if frame["type"] == kind:
            return frame


async def test_live_channel_pushes_injected_items_at_once(site: Site) -> None:
    browser = await logged_in(site)
    async with browser.ws_connect("/api/live") as ws:
        hello = await _next_frame(ws, "hello")
        assert hello["user_id"]
        await site.admin.post("/admin/messages", json={"username": "demo1", "text": "实时私信"})
        frame = await _next_frame(ws, "message")
        assert frame["message"]["text"] == "实时私信"
        assert frame["message"]["direction"] == "in"
        await site.admin.post("/admin/comments", json={"username": "demo2", "text": "别人的"})
        await site.admin.post("/admin/comments", json={"username": "demo1", "text": "实时评论"})
        comment = await _next_frame(ws, "comment")
        assert comment["comment"]["text"] == "实时评论"  # demo2's comment never came here
        await ws.send_str("ping")
        assert (await _next_frame(ws, "pong"))["type"] == "pong"
        await site.admin.post("/admin/expire_session", json={"username": "demo1"})
        assert (await _next_frame(ws, "session_expired"))["type"] == "session_expired"
        closing = await asyncio.wait_for(ws.receive(), timeout=FRAME_WAIT_S)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4001


async def test_live_channel_requires_a_session(site: Site) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await site.browser().ws_connect("/api/live")
    assert refused.value.status == 401


# -- admin ------------------------------------------------------------------------------------


async def test_admin_creates_users_and_scans_the_newest_qr(site: Site) -> None:
    made = await site.admin.post(
        "/admin/users", json={"username": "erin", "nickname": "Erin", "needs_sms": True}
    )
    assert made.status == 201
    user = await made.json()
    assert (user["nickname"], user["needs_sms"]) == ("Erin", True)
    assert (await site.admin.post("/admin/users", json={"username": "erin"})).status == 409
    names = [u["username"] for u in (await (await site.admin.get("/admin/users")).json())["users"]]
    assert names == ["demo1", "demo2", "erin"]
    browser = site.browser()
    token = await login_page_token(browser)
    scanned = await (await site.admin.post("/admin/scan", json={"username": "erin"})).json()
    assert (scanned["token"], scanned["status"]) == (token, "verify")
    health = await (await site.admin.get("/admin/health")).json()
    assert health["ok"] and health["users"] == 3 and health["seed"] == 1


async def test_admin_token_guards_the_admin_api() -> None:
    site = await start_site(admin_token="s3cret")
    try:
        assert (await site.admin.get("/admin/users")).status == 401
        assert (await site.admin.get("/admin/health")).status == 200
        allowed = await site.admin.get("/admin/users", headers={"X-Admin-Token": "s3cret"})
        assert allowed.status == 200
    finally:
        await site.close()


async def test_traffic_generator_injects_for_every_user(site: Site) -> None:
    before = {
        u["username"]: u["comment_count"] + u["message_count"]
        for u in (await (await site.admin.get("/admin/users")).json())["users"]
    }
    on = await site.admin.post("/admin/traffic", json={"on": True, "per_minute": 1200})
    assert (await on.json())["on"]
    deadline = time.monotonic() + FRAME_WAIT_S  # a bound: it stops as soon as they are in
    while time.monotonic() < deadline:
        status = await (await site.admin.get("/admin/traffic")).json()
        if status["injected"] >= 6:
            break
        await asyncio.sleep(0.05)
    off = await (await site.admin.post("/admin/traffic", json={"on": False})).json()
    assert not off["on"]
    assert off["injected"] >= 6
    after = {
        u["username"]: u["comment_count"] + u["message_count"]
        for u in (await (await site.admin.get("/admin/users")).json())["users"]
    }
    assert all(after[name] > before[name] for name in before)


# -- the process -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_command_line_runs_and_stops_cleanly() -> None:
    port = _free_port()
    env = dict(os.environ, HISCRM_LOG_LEVEL="WARNING")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "demosite",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--seed",
        "3",
        "--users",
        "1",
        "--qr-ttl",
        "5",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health: dict[str, Any] = {}
        async with aiohttp.ClientSession() as client:
            # a Python process starting on a loaded machine: seconds, many of them
            deadline = time.monotonic() + 60
            while not health and time.monotonic() < deadline:
                try:
                    health = await (await client.get(f"{base}/admin/health")).json()
                except aiohttp.ClientConnectionError:
                    assert proc.returncode is None, "the demosite exited"
                    await asyncio.sleep(0.1)
            assert (health.get("seed"), health.get("users")) == (3, 1)
            token = await (await client.post(f"{base}/api/login/qr")).json()
            assert token["expires_in"] == pytest.approx(5.0, abs=0.5)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
