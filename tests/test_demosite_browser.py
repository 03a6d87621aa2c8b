"""Real Chromium against the demo platform: QR refresh, SMS step, creator centre, reply, live."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from demosite import DemoConfig, create_app, qr
from worker.browser.pool import chromium_executable
from worker.browser.processes import unwrap_launcher

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = pytest.mark.timeout(120)

# The worker's choice ($HISCRM_CHROMIUM, the headless shell, Debian's Chromium;
# None: Playwright's own), launched as the pool launches it.
_CHOSEN = chromium_executable()
CHROMIUM_PATH = unwrap_launcher(_CHOSEN) if _CHOSEN else None
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QR_TTL = 3.0


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for `check()`; Playwright's event handlers fill our lists from tasks."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_browser_logs_in_sees_comments_replies_and_live_dms() -> None:
    server = TestServer(
        create_app(DemoConfig(seed=5, qr_ttl=QR_TTL, users=1, sms_users=("demo1",))),
        host="127.0.0.1",
    )
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    admin = aiohttp.ClientSession(base_url=base)
    frames: list[tuple[float, dict[str, Any]]] = []
    qr_pngs: list[bytes] = []
    comment_bodies: list[dict[str, Any]] = []

    def on_websocket(ws: Any) -> None:
        def on_frame(payload: str | bytes) -> None:
            frames.append((time.monotonic(), json.loads(payload)))

        ws.on("framereceived", on_frame)

    async def on_response(response: Any) -> None:
        if "/api/login/qr.png" in response.url:
            qr_pngs.append(await response.body())
        elif "/api/creator/comments" in response.url:
            comment_bodies.append(await response.json())

    def captured_comment_ids() -> set[str]:
        return {c["comment_id"] for body in comment_bodies for c in body["comments"]}

    def qr_shown(url: str) -> Callable[[], bool]:
        """A check: a QR image the page got encodes url."""
        return lambda: any(qr.qr_content(p) == url for p in qr_pngs)

    def frame_times(message_id: str) -> list[float]:
        return [t for t, f in frames if f.get("message", {}).get("message_id") == message_id]

    try:
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, timeout=30_000
            )
            try:
                context = await browser.new_context(locale="zh-CN")
                page = await context.new_page()
                page.set_default_timeout(30_000)  # Playwright's own; 10 s is short when loaded
                page.on("websocket", on_websocket)
                page.on("response", on_response)

                # The login page shows a QR; it expires and the page puts up a new one.
                await page.goto(base + "/login")
                first = await page.get_attribute("#qr", "data-token")
                assert first
                await page.wait_for_function(
                    "t => document.querySelector('#qr').dataset.token !== t",
                    arg=first,
                    timeout=(QR_TTL + 5) * 1000,
                )
                token = await page.get_attribute("#qr", "data-token")
                assert token and token != first

                # The phone scans; this user must also type the SMS code. A QR
                # lives QR_TTL seconds: one that expired before a loaded machine
                # got to scan it is followed by the next the page puts up.
                for _ in range(5):
                    confirm_url = f"{base}/api/login/scan?token={token}"
                    await eventually(qr_shown(confirm_url), within=30)
                    scan = await admin.post(
                        "/api/login/scan", params={"token": token, "user": "demo1"}
                    )
                    if scan.status != 410:  # token_expired
                        break
                    await page.wait_for_function(
                        "t => document.querySelector('#qr').dataset.token !== t",
                        arg=token,
                        timeout=(QR_TTL + 30) * 1000,
                    )
                    token = await page.get_attribute("#qr", "data-token")
                assert (await scan.json())["status"] == "verify"
                await page.locator("#sms-code").wait_for(state="visible")
                sms = await (
                    await admin.get("/admin/sms_code", params={"username": "demo1"})
                ).json()
                await page.fill("#sms-code", "000000" if sms["code"] != "000000" else "111111")
                await page.click("#sms-submit")
                await page.locator("#sms-error[data-error=invalid_code]").wait_for(state="visible")
                await page.fill("#sms-code", sms["code"])
                await page.click("#sms-submit")
                await page.wait_for_url(base + "/creator")

                user = await (await admin.get("/admin/users/demo1")).json()
                marker = await page.evaluate("localStorage.getItem('demo_user_id')")
                assert marker == user["user_id"]
                cookies = {c["name"]: c for c in await context.cookies()}
                assert cookies["demo_session"]["httpOnly"]
                assert cookies["demo_uid"]["value"] == user["user_id"]

                # The creator centre loaded its comments through the JSON API and rendered them.
                await page.locator("body[data-loaded=true]").wait_for(state="attached")
                items = page.locator("[data-testid=comment-item]")
                assert await items.count() > 0
                shown = set(await items.evaluate_all("els => els.map(e => e.dataset.commentId)"))
                await eventually(lambda: captured_comment_ids() == shown)

                # A DM injected now reaches the page's WebSocket.
                await page.locator("[data-testid=live-status][data-state=open]").wait_for()
                made = await admin.post(
                    "/admin/messages",
                    json={"username": "demo1", "from_name": "路人甲", "text": "在吗"},
                )
                dm = (await made.json())["message"]
                # pushed: only the live channel brings frames (how fast is
                # bench/latency.py's to measure, not a loaded test machine's)
                await eventually(lambda: bool(frame_times(dm["message_id"])), within=30)
                await page.locator(f'[data-message-id="{dm["message_id"]}"]').wait_for()

                # Reply to a comment through the page.
                target = await page.locator(
                    "[data-testid=comment-item]:not(.mine)"
                ).first.get_attribute("data-comment-id")
                row = page.locator(f'[data-testid=comment-item][data-comment-id="{target}"]')
                await row.locator("[data-testid=reply-input]").fill("谢谢你的评论")
                await row.locator("[data-testid=reply-send]").click()
                await row.locator("[data-testid=reply-status][data-state=sent]").wait_for()
                replies = (
                    await (await admin.get("/admin/replies", params={"username": "demo1"})).json()
                )["replies"]
                assert [(r["kind"], r["target_id"], r["text"]) for r in replies] == [
                    ("comment", target, "谢谢你的评论")
                ]
                await page.locator(f'[data-comment-id="{replies[0]["item_id"]}"].mine').wait_for()
            finally:
                await browser.close()
    finally:
        await admin.close()
        await server.close()
