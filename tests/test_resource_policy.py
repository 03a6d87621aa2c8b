"""Monitoring contexts do not download images, media or fonts; login
contexts do (the QR is an image). Real Chromium on loopback; the servers
count every request they get, so a request Chromium did not make is proved
by the server, not by the browser's own account of it."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from demosite import DemoConfig, create_app
from demosite.qr import qr_content
from hiscrm.v1 import common_pb2
from tests.demo_helpers import demo_spec, logged_in, scan
from tests.harness import Cluster
from tests.test_browser_pool import open_pool, serve
from worker.browser.pool import BrowserPool
from worker.browser.resource_policy import TELEMETRY_HOSTS, blocked

pytest.importorskip("playwright.async_api")

pytestmark = pytest.mark.timeout(120)

PAGE = """<!doctype html><html><head>
<style>@font-face { font-family: probe; src: url(/f.woff2) format("woff2"); }
body { font-family: probe, sans-serif; }</style></head>
<body><p>字体 probe</p><img id="pic" src="/pic.png"><video src="/clip.mp4" autoplay muted></video>
<script>fetch('/api/data').then(r => r.json()).then(j => { document.body.dataset.got = j.ok; });
</script></body></html>"""
# every avatar requested and answered: the server's count is final
AVATARS_DONE = (
    "document.querySelectorAll('img.avatar').length > 0 && "
    "[...document.querySelectorAll('img.avatar')].every(i => i.complete && i.naturalWidth > 0)"
)


def counting(app: web.Application) -> collections.Counter[str]:
    """Counts the requests `app` answers, by path."""
    hits: collections.Counter[str] = collections.Counter()

    async def count(request: web.Request, _: web.StreamResponse) -> None:
        hits[request.path] += 1

    app.on_response_prepare.append(count)
    return hits


def answer(body: bytes, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type)

    return handler


def probe_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", answer(PAGE.encode(), "text/html"))
    app.router.add_get("/pic.png", answer(b"\x89PNG", "image/png"))
    app.router.add_get("/f.woff2", answer(b"wOF2", "font/woff2"))
    app.router.add_get("/clip.mp4", answer(b"", "video/mp4"))
    app.router.add_get("/api/data", answer(b'{"ok": 1}', "application/json"))
    return app


async def visit(pool: BrowserPool, account: str, url: str) -> None:
    actx = await pool.context(account)
    page = await actx.new_page()
    try:
        await page.goto(url, wait_until="load")  # after every image and font settled
        await page.locator("body[data-got='1']").wait_for(state="attached")
    finally:
        await page.close()


def test_blocked_kinds_and_telemetry_hosts() -> None:
    hosts = TELEMETRY_HOSTS
    assert blocked("image", "https://p3.example.com/a.webp", hosts)
    assert blocked("font", "https://x.example.com/f.woff2", hosts)
    assert blocked("media", "https://x.example.com/v.mp4", hosts)
    assert blocked("xhr", "https://mcs.snssdk.com/v1/list", hosts)
    assert blocked("fetch", "https://a.apm-fe.xiaohongshu.com/api/collect", hosts)
    for kind in ("document", "script", "stylesheet", "xhr", "fetch", "websocket"):
        assert not blocked(kind, "https://creator.douyin.com/aweme/v1/creator/x", hosts)
    assert not blocked("image", "data:image/png;base64,AAAA", hosts)  # nothing fetched
    assert not blocked("fetch", "https://notmcs.snssdk.com.example/x", hosts)


async def test_monitoring_context_fetches_no_images_fonts_or_media(tmp_path: Path) -> None:
    app = probe_app()
    hits = counting(app)
    async with serve(app) as base, open_pool(tmp_path) as pool:
        await visit(pool, "acct-mon", base + "/")
        assert hits["/"] == 1 and hits["/api/data"] == 1
        assert hits["/pic.png"] == 0 and hits["/f.woff2"] == 0 and hits["/clip.mp4"] == 0
        assert pool.policies["acct-mon"].blocked >= 2

        # The same context while a login runs on the account: everything loads.
        pool.logins["acct-mon"] += 1
        await visit(pool, "acct-mon", base + "/")
        assert hits["/pic.png"] == 1 and hits["/f.woff2"] == 1
        pool.logins["acct-mon"] -= 1
        await visit(pool, "acct-mon", base + "/")
        assert hits["/pic.png"] == 1 and hits["/api/data"] == 3


async def test_demo_qr_shows_in_a_login_and_creator_avatars_are_not_fetched(
    tmp_path: Path,
) -> None:
    app = create_app(DemoConfig(seed=5, users=1))
    hits = counting(app)
    async with serve(app) as base, open_pool(tmp_path) as pool:
        pool.logins["acct-demo"] += 1
        actx = await pool.context("acct-demo")
        login = await actx.new_page()
        await login.goto(base + "/login", wait_until="load")
        assert await login.evaluate("document.querySelector('#qr').naturalWidth") > 0
        assert hits["/api/login/qr.png"] == 1
        token = await login.get_attribute("#qr", "data-token")
        await asyncio.to_thread(scan, base, f"{base}/api/login/scan?token={token}", "demo1")
        await login.wait_for_url(base + "/creator")  # Playwright's 30 s bound
        await login.locator("body[data-loaded=true]").wait_for(state="attached")
        await login.wait_for_function(AVATARS_DONE)
        await login.close()
        pool.logins["acct-demo"] -= 1
        # The login is over: the same context now monitors.
        avatars_before = sum(n for p, n in hits.items() if p.startswith("/avatar/"))
        assert avatars_before > 0  # the login's page loaded them: the counter works
        monitor = await actx.new_page()
        await monitor.goto(base + "/creator", wait_until="load")
        await monitor.locator("body[data-loaded=true]").wait_for(state="attached")
        assert await monitor.locator("img.avatar").count() > 0  # the page wants them
        assert sum(n for p, n in hits.items() if p.startswith("/avatar/")) == avatars_before
        assert hits["/api/login/qr.png"] == 1
        # And a login page in monitoring mode would have no QR: the policy bites.
        await monitor.goto(base + "/login?force=1", wait_until="load")
        assert await monitor.evaluate("document.querySelector('#qr').naturalWidth") == 0
        assert hits["/api/login/qr.png"] == 1


def test_worker_login_sends_the_qr_image_the_platform_served(cluster: Cluster) -> None:
    """Through the real worker: the QR in the LoginEvent is the PNG the demo
    platform served (its text chunk names the confirm URL), not a screenshot
    of a blocked image; afterwards the account monitors."""
    base = cluster.start_demosite("--users", "1")
    cluster.start_master()
    cluster.start_worker("rp-w", "--platforms", "demo")
    cluster.wait_worker_state("rp-w", common_pb2.WORKER_STATE_ONLINE, timeout=60)
    updates = logged_in(cluster, base, "rp-1", demo_spec(base, "demo1"))
    qr = next(u for u in updates if u.WhichOneof("event") == "qr")
    served = qr_content(qr.qr.png)  # None for a screenshot: it has no text chunk
    assert served is not None, "the QR event carries no PNG the platform served"
    assert token_of(served) == token_of(qr.qr.content)


def token_of(url: str) -> str:
    return url.split("token=", 1)[1].split("&", 1)[0]
