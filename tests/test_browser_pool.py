"""The worker's browser pool against real Chromium, on loopback only.

Fingerprints per account (and stable across launches), no headless tells
with the headless shell, cookie isolation, the encrypted storage state carrying
a demosite login into a fresh context, the relaunch after Chromium is killed
(also behind a launcher script), a proxy per context with its health check,
and no Chromium left behind by close().
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import psutil
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from demosite import DemoConfig, create_app
from hiscrm.v1 import gateway_pb2
from tests.harness import free_port as harness_free_port
from tests.harness import wait_for
from tests.proxy_helpers import ConnectProxy
from worker.browser.crypto import SessionDecryptError, StateCipher, load_key
from worker.browser.fingerprint import Fingerprint
from worker.browser.headless_shell import brand_lists
from worker.browser.pool import (
    DEBIAN_CHROMIUM,
    DEBIAN_HEADLESS_SHELL,
    DEFAULT_EXECUTABLES,
    BrowserPool,
    BrowserUnavailable,
    chromium_executable,
)
from worker.browser.processes import reap_group, unwrap_launcher
from worker.browser.proxy_check import check_proxy, parse_proxy
from worker.browser.storage import SessionStore
from worker.platforms.errors import ProxyFailed

pytest.importorskip("playwright.async_api")

pytestmark = pytest.mark.timeout(90)

WORKER = "w-test"


# ------------------------------------------------------------------ helpers


def _living_chromium(proc: psutil.Process) -> bool:
    return "chrom" in proc.name() and proc.status() != psutil.STATUS_ZOMBIE


def chromium_descendants() -> list[psutil.Process]:
    out = []
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if _living_chromium(proc):
                out.append(proc)
    return out


def chromium_in_group(pgid: int) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid and _living_chromium(proc):
                out.append(proc)
    return out


def group_members(pgid: int) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
    return out


# Processes exiting and being reaped, Chromium noticing its parent gone: a
# few hundred ms alone, many seconds on a loaded machine. Waited for, bounded.
SETTLE_S = 30.0


async def gone(probe: Callable[[], list[psutil.Process]], what: str) -> None:
    """Wait (bounded) until probe() lists no process."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_S
    while left := probe():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: {[p.pid for p in left]}")
        await asyncio.sleep(0.1)


async def no_chromium_left(groups: list[int]) -> None:
    await gone(
        lambda: chromium_descendants() + [p for g in groups for p in chromium_in_group(g)],
        "Chromium processes left",
    )


@contextlib.asynccontextmanager
async def open_pool(data_dir: Path, **kwargs: Any) -> AsyncIterator[BrowserPool]:
    pool = BrowserPool(WORKER, data_dir, **kwargs)
    groups: list[int] = []
    try:
        await pool.start()
        yield pool
    finally:
        if pool.browser_pgid:
            groups.append(pool.browser_pgid)
        await pool.close()
        await no_chromium_left(groups)


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def probe_app(seen: list[dict[str, str]], accept_ch: str = "") -> web.Application:
    async def page(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        response = web.Response(text="<!doctype html><p>probe</p>", content_type="text/html")
        if accept_ch:
            response.headers["Accept-CH"] = accept_ch
        return response

    async def set_cookie(request: web.Request) -> web.Response:
        response = web.Response(text="set")
        response.set_cookie("probe", request.query["v"], path="/")
        return response

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/set", set_cookie)
    return app


PROBE_JS = """async () => {
  const c = document.createElement('canvas');
  c.width = 240; c.height = 60;
  const x = c.getContext('2d');
  const g = x.createLinearGradient(0, 0, 240, 0);
  g.addColorStop(0, '#f60'); g.addColorStop(1, '#06c');
  x.fillStyle = g; x.fillRect(0, 0, 240, 60);
  x.font = '18px sans-serif'; x.fillStyle = '#fff';
  x.fillText('hiscrm 指纹 canvas', 8, 36);
  x.beginPath(); x.arc(200, 30, 20, 0, Math.PI * 1.5); x.stroke();
  const bytes = new TextEncoder().encode(c.toDataURL());
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  const canvasHash = [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('');
  const gl = document.createElement('canvas').getContext('webgl');
  const ext = gl && gl.getExtension('WEBGL_debug_renderer_info');
  return {
    ua: navigator.userAgent,
    platform: navigator.platform,
    cores: navigator.hardwareConcurrency,
    webdriver: navigator.webdriver,
    viewport: [innerWidth, innerHeight],
    screen: [screen.width, screen.height],
    dpr: devicePixelRatio,
    language: navigator.language,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    vendor: ext ? gl.getParameter(ext.UNMASKED_VENDOR_WEBGL) : null,
    renderer: ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : null,
    nativeLooking: String(WebGLRenderingContext.prototype.getParameter).includes('[native code]'),
    canvasHash,
  };
}"""


async def probe(pool: BrowserPool, account: str, base: str) -> dict[str, Any]:
    actx = await pool.context(account)
    page = await actx.new_page()
    try:
        await page.goto(base + "/")
        return await page.evaluate(PROBE_JS)
    finally:
        await page.close()


def two_distinct_accounts() -> tuple[str, str]:
    """Two account ids whose fingerprints differ in OS and screen (most pairs do)."""
    ids = [f"acct-{i}" for i in range(40)]
    fps = {i: Fingerprint.from_seed(i) for i in ids}
    for a in ids:
        for b in ids:
            fa, fb = fps[a], fps[b]
            if fa.os_name != fb.os_name and fa.viewport_width != fb.viewport_width:
                return a, b
    raise AssertionError("no two distinct fingerprints among 40 seeds")


# ------------------------------------------------------------------ units


def test_reaping_a_group_takes_the_members_it_did_not_list() -> None:
    """A launcher may fork between the listing and the kill: its child is no
    longer ours once the launcher dies, yet it must go with the group."""
    leader = subprocess.Popen(["sh", "-c", "(sleep 60 &); exec sleep 61"], start_new_session=True)
    try:
        pgid = leader.pid
        orphan = wait_for(
            lambda: [p for p in group_members(pgid) if p.pid != pgid and p.ppid() != pgid],
            what="the orphaned sleep",
        )[0]
        assert orphan not in psutil.Process().children(recursive=True)
        assert reap_group(pgid) == 1  # the leader, listed as ours
        wait_for(lambda: not group_members(pgid), what="the whole group gone")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, 9)
        leader.wait(10)


def test_fingerprint_is_deterministic_and_coherent() -> None:
    a1, a2 = Fingerprint.from_seed("acct-1", 150), Fingerprint.from_seed("acct-1", 150)
    assert a1 == a2 and a1.init_script() == a2.init_script()
    seen = {Fingerprint.from_seed(f"acct-{i}", 150) for i in range(50)}
    assert len({f.canvas_seed for f in seen}) == 50
    assert len({(f.viewport_width, f.viewport_height, f.webgl_renderer) for f in seen}) > 10
    for f in seen:
        assert "Chrome/150.0.0.0" in f.user_agent
        if f.platform == "Win32":
            assert "Windows NT 10.0" in f.user_agent and "Direct3D" in f.webgl_renderer
        else:
            assert f.platform == "MacIntel" and "Mac OS X" in f.user_agent
        assert f.viewport_width <= f.screen_width and f.viewport_height < f.screen_height
        assert (f.locale, f.timezone_id) == ("zh-CN", "Asia/Shanghai")
    proto = a1.to_proto()
    assert isinstance(proto, gateway_pb2.Fingerprint)
    assert (proto.seed, proto.user_agent, proto.viewport_width) == (
        "acct-1",
        a1.user_agent,
        a1.viewport_width,
    )


def test_session_blobs_are_bound_to_key_and_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HISCRM_SECRET_KEY", raising=False)
    monkeypatch.setenv("HISCRM_HOME", str(tmp_path / "home"))
    key = load_key()
    key_path = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert load_key() == key  # the master and workers sharing HISCRM_HOME agree

    cipher = StateCipher(key)
    state = {"cookies": [{"name": "s", "value": "TOPSECRET"}], "origins": []}
    blob = cipher.encrypt_state("acct-1", state)
    assert blob[0] == 1 and b"TOPSECRET" not in blob
    assert cipher.decrypt_state("acct-1", blob) == state
    with pytest.raises(SessionDecryptError, match="acct-2: wrong HISCRM_SECRET_KEY"):
        cipher.decrypt_state("acct-2", blob)  # swapped between accounts
    other = StateCipher(secrets.token_bytes(32))
    with pytest.raises(
        SessionDecryptError, match="cannot decrypt the session of account acct-1: wrong"
    ):
        other.decrypt_state("acct-1", blob)

    env_key = secrets.token_bytes(32)
    monkeypatch.setenv("HISCRM_SECRET_KEY", base64.urlsafe_b64encode(env_key).decode())
    assert load_key() == env_key
    monkeypatch.setenv("HISCRM_SECRET_KEY", "c2hvcnQ=")
    with pytest.raises(Exception, match="must be 32"):
        load_key()


def test_parse_proxy() -> None:
    spec = parse_proxy("socks5://user:p%40ss@10.0.0.1:1080")
    assert spec is not None
    assert spec.playwright() == {
        "server": "socks5://10.0.0.1:1080",
        "username": "user",
        "password": "p@ss",
    }
    assert spec.redacted() == "socks5://user:***@10.0.0.1:1080" and "p@ss" not in repr(spec)
    assert parse_proxy("") is None and parse_proxy("direct") is None
    assert parse_proxy("127.0.0.1:3128").server == "http://127.0.0.1:3128"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="not supported"):
        parse_proxy("ftp://h:1")


def test_chromium_choice_prefers_the_headless_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HISCRM_CHROMIUM", raising=False)
    assert DEFAULT_EXECUTABLES == (DEBIAN_HEADLESS_SHELL, DEBIAN_CHROMIUM)
    present = [path for path in DEFAULT_EXECUTABLES if os.access(path, os.X_OK)]
    assert chromium_executable() == (present[0] if present else None)
    monkeypatch.setenv("HISCRM_CHROMIUM", sys.executable)
    assert chromium_executable() == sys.executable
    monkeypatch.setenv("HISCRM_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(BrowserUnavailable, match="not an executable"):
        chromium_executable()


def test_pass_through_launchers_are_unwrapped(tmp_path: Path) -> None:
    binary = os.path.realpath(sys.executable)  # any executable that is no script

    def script(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        path.chmod(0o755)
        return str(path)

    assert unwrap_launcher(script("plain", f'#!/bin/sh -e\n\n{binary} "$@"\n')) == binary
    assert unwrap_launcher(script("exec", f'#!/bin/sh\n# why\nexec {binary} "$@"\n')) == binary
    for name, text in {
        "two": f'#!/bin/sh\n{binary} "$@"\nsleep 1\n',
        "flags": f'#!/bin/sh\n{binary} --flag "$@"\n',
        "env": f'#!/bin/sh\nexport A=1\n{binary} "$@"\n',
        "python": f'#!/usr/bin/env python3\n{binary} "$@"\n',
        "missing": '#!/bin/sh\n/nonexistent/chromium "$@"\n',
    }.items():
        path = script(name, text)
        assert unwrap_launcher(path) == path, name
    inner = script("inner", "#!/bin/sh\ntrue\n")
    nested = script("nested", f'#!/bin/sh\n{inner} "$@"\n')
    assert unwrap_launcher(nested) == nested
    assert unwrap_launcher(binary) == binary
    if os.access(DEBIAN_HEADLESS_SHELL, os.X_OK):
        assert unwrap_launcher(DEBIAN_HEADLESS_SHELL) == "/usr/lib/chromium/chromium-headless-shell"
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        assert unwrap_launcher(DEBIAN_CHROMIUM) == DEBIAN_CHROMIUM  # flags, env: kept


# ------------------------------------------------------------------ real Chromium


async def test_accounts_get_distinct_fingerprints_stable_across_launches(tmp_path: Path) -> None:
    a, b = two_distinct_accounts()
    seen: list[dict[str, str]] = []
    async with serve(probe_app(seen)) as base:
        async with open_pool(tmp_path) as pool:
            first = {acct: await probe(pool, acct, base) for acct in (a, b)}
            major = pool.chrome_major
        async with open_pool(tmp_path) as pool:
            again = {acct: await probe(pool, acct, base) for acct in (a, b)}

    assert first == again  # same seed, new browser: the very same fingerprint
    pa, pb = first[a], first[b]
    for key in ("ua", "viewport", "canvasHash", "renderer", "platform"):
        assert pa[key] != pb[key], key
    for acct, seen_fp in first.items():
        fp = Fingerprint.from_seed(acct, major)
        assert seen_fp["ua"] == fp.user_agent
        assert seen_fp["platform"] == fp.platform
        assert seen_fp["cores"] == fp.hardware_concurrency
        assert seen_fp["viewport"] == [fp.viewport_width, fp.viewport_height]
        assert seen_fp["screen"] == [fp.screen_width, fp.screen_height]
        assert seen_fp["dpr"] == fp.device_scale_factor
        assert (seen_fp["vendor"], seen_fp["renderer"]) == (fp.webgl_vendor, fp.webgl_renderer)
        assert seen_fp["webdriver"] is False and seen_fp["nativeLooking"] is True
        assert (seen_fp["language"], seen_fp["timezone"]) == ("zh-CN", "Asia/Shanghai")
    uas = {h["User-Agent"] for h in seen}
    assert uas == {pa["ua"], pb["ua"]}
    assert all(h["Accept-Language"].startswith("zh-CN") for h in seen)


# What a page of the old headless shell sees unlike the full Chromium (only
# values that are the same on every load).
TELLS_JS = """async () => {
  const hints = await navigator.userAgentData.getHighEntropyValues(
    ['architecture', 'bitness', 'model', 'platformVersion', 'fullVersionList', 'wow64']);
  const p = navigator.plugins;
  return {
    ua: navigator.userAgent,
    hints,
    brands: navigator.userAgentData.brands,
    plugins: [...p].map(x => [x.name, x.filename, x.description, [...x].map(m => m.type)]),
    pluginNames: Object.getOwnPropertyNames(p),
    pluginItem: [p.item(1).name, p.namedItem('Chrome PDF Viewer') === p[1], p.item(9)],
    mimeTypes: [...navigator.mimeTypes].map(m => [m.type, m.suffixes, m.enabledPlugin === p[0]]),
    ownMime: p[2][0].enabledPlugin === p[2] && p[2][0] !== navigator.mimeTypes[0],
    tags: [p, p[0], navigator.mimeTypes, navigator.mimeTypes[0]].map(
      o => Object.prototype.toString.call(o)),
    native: [
      Object.getOwnPropertyDescriptor(Navigator.prototype, 'plugins').get,
      Object.getOwnPropertyDescriptor(PluginArray.prototype, 'length').get,
      PluginArray.prototype.item,
    ].map(f => Function.prototype.toString.call(f).includes('[native code]')),
    pdfViewerEnabled: navigator.pdfViewerEnabled,
    chrome: typeof chrome === 'object' && Object.keys(chrome),
    loadTimes: Object.keys(chrome.loadTimes()),
    csi: Object.keys(chrome.csi()),
    app: [chrome.app.isInstalled, chrome.app.getDetails(), chrome.app.runningState(),
          String(chrome.loadTimes), String(chrome.app.getDetails)],
    notification: Notification.permission,
    rttNonZero: navigator.connection.rtt > 0,
    webdriver: navigator.webdriver,
  };
}"""


def sec_ch(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("sec-ch-ua")}


async def test_pages_show_no_headless_tells(tmp_path: Path) -> None:
    """The default browser (the headless shell where installed) looks like the full
    Chromium: brand lists without "HeadlessChrome" in headers and JavaScript, PDF
    plugins, window.chrome, Notification.permission, a non-zero rtt; with both
    Debian builds installed, a page sees the very same in either."""
    builds = [chromium_executable()]
    builds += [p for p in DEFAULT_EXECUTABLES if p not in builds and os.access(p, os.X_OK)]
    views: dict[str | None, tuple[dict[str, Any], dict[str, str]]] = {}
    for i, exe in enumerate(builds):
        seen: list[dict[str, str]] = []
        app = probe_app(seen, accept_ch="Sec-CH-UA-Full-Version-List, Sec-CH-UA-Platform-Version")
        async with serve(app) as base, open_pool(tmp_path / str(i), executable=exe) as pool:
            actx = await pool.context("acct-tells")
            page = await actx.new_page()
            await page.goto(base + "/")  # learns Accept-CH
            await page.goto(base + "/")
            found = await page.evaluate(TELLS_JS)
            brands, full = brand_lists(pool.chrome_version)
            fp = actx.fingerprint
        headers = sec_ch(seen[-1])
        assert "HeadlessChrome" not in repr(headers) + repr(found), exe
        assert found["brands"] == brands and found["hints"]["fullVersionList"] == full, exe
        expected = ", ".join(f'"{b["brand"]}";v="{b["version"]}"' for b in brands)
        assert headers["sec-ch-ua"] == expected, exe
        assert "sec-ch-ua-full-version-list" in headers, exe
        assert found["ua"] == fp.user_agent and found["webdriver"] is False
        assert len(found["plugins"]) == 5 and found["pdfViewerEnabled"] is True, exe
        assert found["mimeTypes"] == [["application/pdf", "pdf", True], ["text/pdf", "pdf", True]]
        assert found["ownMime"] is True and all(found["native"]), exe
        assert found["chrome"] == ["loadTimes", "csi", "app"], exe
        assert (found["notification"], found["rttNonZero"]) == ("default", True), exe
        views[exe] = (found, headers)
    if len(views) > 1:
        (first, first_view), *others = views.items()
        for exe, view in others:
            assert view == first_view, f"{first} and {exe} differ"


# What a page can tell about its size; a shrunk page must see the same.
LOOKS_JS = """() => [innerWidth, innerHeight, outerWidth, devicePixelRatio, screen.width,
  screen.height, visualViewport.scale, visualViewport.width, document.documentElement.clientWidth,
  matchMedia(`(min-width: ${innerWidth}px) and (max-width: ${innerWidth}px)`).matches,
  JSON.stringify(document.querySelector('#b').getBoundingClientRect())]"""
CLICK_PAGE = """<!doctype html><body style="margin:0">
<button id="b" style="position:absolute;left:600px;top:400px;width:120px;height:60px">b</button>
<script>window.hits = [];
document.addEventListener('click', e => hits.push(e.target.id || e.target.tagName), true)
</script>"""


async def test_a_shrunk_page_sees_no_change_and_clicks_at_full_size(tmp_path: Path) -> None:
    """render_scale paints a page small: the page's sizes, scale and media
    queries stay the fingerprint's. Input does not scale with it (a click at
    the button's place misses while shrunk), so full_size() paints it in full
    for clicks, and shrinks it again after."""
    async with open_pool(tmp_path) as pool:
        actx = await pool.context("acct-shrink")
        page = await actx.new_page()
        await page.set_content(CLICK_PAGE)
        full = await page.evaluate(LOOKS_JS)
        assert full[0] == actx.fingerprint.viewport_width
        await actx.render_scale(page, 0.25)
        assert actx.scale_of(page) == 0.25
        assert await page.evaluate(LOOKS_JS) == full
        # mouse.click returns once the page has handled the event
        await page.mouse.click(660, 430)
        assert "b" not in await page.evaluate("hits")
        async with actx.full_size(page):
            assert actx.scale_of(page) == 1.0
            await page.mouse.click(660, 430)
            assert (await page.evaluate("hits"))[-1] == "b"
            shot = await page.screenshot()
        assert actx.scale_of(page) == 0.25
        assert await page.evaluate(LOOKS_JS) == full
        hits = len(await page.evaluate("hits"))
        await page.mouse.click(660, 430)
        assert (await page.evaluate("hits"))[hits:] != ["b"]
        # the picture taken in full has the viewport's pixels
        width, height = int.from_bytes(shot[16:20], "big"), int.from_bytes(shot[20:24], "big")
        fp = actx.fingerprint
        assert (width, height) == (
            round(fp.viewport_width * fp.device_scale_factor),
            round(fp.viewport_height * fp.device_scale_factor),
        )
        await actx.render_scale(page, 1.0)
        await page.mouse.click(660, 430)
        assert (await page.evaluate("hits"))[-1] == "b"


async def test_contexts_share_no_cookies(tmp_path: Path) -> None:
    async with serve(probe_app([])) as base, open_pool(tmp_path) as pool:
        one = await pool.context("acct-one")
        two = await pool.context("acct-two")
        page = await one.new_page()
        await page.goto(base + "/set?v=only-for-one")
        await page.evaluate("localStorage.setItem('mark', 'one')")
        assert [c["value"] for c in await one.context.cookies()] == ["only-for-one"]
        assert await two.context.cookies() == []
        other = await two.new_page()
        await other.goto(base + "/")
        assert await other.evaluate("document.cookie") == ""
        assert await other.evaluate("localStorage.getItem('mark')") is None
        assert pool.get("acct-one") is one and await pool.context("acct-one") is one


async def test_login_survives_in_encrypted_storage_state(tmp_path: Path) -> None:
    cipher = StateCipher(secrets.token_bytes(32))
    store = SessionStore(tmp_path, cipher, WORKER)
    app = create_app(DemoConfig(seed=3, users=1))
    async with serve(app) as base, open_pool(tmp_path) as pool:
        actx = await pool.context("acct-demo")
        page = await actx.new_page()
        await page.goto(base + "/login")
        token = await page.get_attribute("#qr", "data-token")
        async with aiohttp.ClientSession() as phone:
            scan = await phone.post(
                base + "/api/login/scan", params={"token": token, "user": "demo1"}
            )
            assert scan.status == 200, await scan.text()
        await page.wait_for_url(base + "/creator")  # Playwright's 30 s bound
        cookie = next(c for c in await actx.context.cookies() if c["name"] == "demo_session")

        blob = await store.save_context("acct-demo", actx.context)
        on_disk = store.path("acct-demo").read_bytes()
        assert on_disk == blob
        assert cookie["value"].encode() not in on_disk and b"demo_session" not in on_disk
        assert stat.S_IMODE(store.path("acct-demo").stat().st_mode) == 0o600
        stranger = SessionStore(tmp_path, StateCipher(secrets.token_bytes(32)), WORKER)
        with pytest.raises(SessionDecryptError, match="wrong HISCRM_SECRET_KEY"):
            stranger.load("acct-demo")

        await pool.close_context("acct-demo")
        assert not actx.alive and pool.get("acct-demo") is None
        fresh = await pool.context("acct-demo", storage_state=store.load("acct-demo"))
        assert fresh is not actx
        page = await fresh.new_page()
        await page.goto(base + "/creator")
        assert page.url == base + "/creator"  # no bounce to /login
        await page.locator("body[data-loaded=true]").wait_for(state="attached")
        assert await page.evaluate("localStorage.getItem('demo_user_id')")

        # A brand-new context without the state is logged out.
        await pool.context("acct-demo", replace=True)
        blank = await pool.get("acct-demo").new_page()  # type: ignore[union-attr]
        await blank.goto(base + "/creator")
        assert urlsplit(blank.url).path == "/login"


async def test_relaunch_after_chromium_is_killed(tmp_path: Path) -> None:
    groups: list[int] = []
    async with serve(probe_app([])) as base, open_pool(tmp_path, screenshots_kept=2) as pool:
        actx = await pool.context("acct-k")
        page = await actx.new_page()
        await page.goto(base + "/")
        for reason in ("one", "two", "three"):
            assert await pool.screenshot("acct-k", page, reason) is not None
        shots = sorted(pool.screenshot_dir("acct-k").glob("*.png"))
        assert len(shots) == 2 and all(s.stat().st_size > 0 for s in shots)

        pid, pgid, generation = pool.browser_pid, pool.browser_pgid, pool.generation
        assert pid is not None and pgid is not None and len(pool.processes()) > 1
        main = psutil.Process(pid)
        assert "chrom" in main.name() and main in chromium_descendants()
        assert pid == pgid  # Playwright's child is the browser: no launcher in between
        groups.append(pgid)
        main.kill()
        await asyncio.wait_for(pool.browser_lost.wait(), SETTLE_S)
        assert not actx.alive and pool.get("acct-k") is None
        assert await pool.screenshot("acct-k", page, "after crash") is None

        again = await pool.context("acct-k")
        assert pool.generation == generation + 1 and pool.browser_pid not in (None, pid)
        assert not pool.browser_lost.is_set() and pool.crashes == 1
        page = await again.new_page()
        await page.goto(base + "/")
        assert await page.evaluate("navigator.platform") == again.fingerprint.platform
        # the killed browser's orphaned children are reaped too
        await gone(lambda: chromium_in_group(pgid), "the killed browser's processes")
    await no_chromium_left(groups)


def outliving_launcher(tmp_path: Path) -> Path:
    """A launcher script that runs Chromium without `exec` and then a minute more."""
    chosen = chromium_executable()
    if chosen is None:
        pytest.skip("no system Chromium (Playwright's own build needs no launcher)")
    launcher = tmp_path / "chromium-launcher"
    launcher.write_text(f'#!/bin/sh\n"{unwrap_launcher(chosen)}" "$@"\nsleep 60\n')
    launcher.chmod(0o755)
    return launcher


async def test_relaunch_when_a_launcher_script_outlives_chromium(tmp_path: Path) -> None:
    """A launcher that neither execs Chromium nor exits with it keeps Playwright's
    pipe open after Chromium dies, so Playwright never reports the loss: the pool
    watches the browser process itself, and clears the launcher away."""
    launcher = outliving_launcher(tmp_path)
    groups: list[int] = []
    async with (
        serve(probe_app([])) as base,
        open_pool(tmp_path / "data", executable=str(launcher)) as pool,
    ):
        assert pool.launch_path == str(launcher)
        pid, pgid = pool.browser_pid, pool.browser_pgid
        assert pid is not None and pgid is not None and pid != pgid  # the script leads
        main = psutil.Process(pid)
        assert main.ppid() == pgid and "--type" not in " ".join(main.cmdline())
        groups.append(pgid)
        actx = await pool.context("acct-l")
        page = await actx.new_page()
        await page.goto(base + "/")

        main.kill()
        await asyncio.wait_for(pool.browser_lost.wait(), SETTLE_S)
        assert not actx.alive and pool.crashes == 1
        again = await pool.context("acct-l")
        assert pool.generation == 2 and pool.browser_pgid != pgid
        page = await again.new_page()
        await page.goto(base + "/")
        # the launcher and its sleep went with the group
        await gone(lambda: group_members(pgid), "the launcher's group")
    await no_chromium_left(groups)


async def test_close_behind_a_launcher_that_outlives_chromium(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Playwright's close waits for the process it launched and its pipe: a
    launcher that outlives Chromium would hold close() for as long as it runs
    (here a minute); the pool ends it once Chromium has gone."""
    launcher = outliving_launcher(tmp_path)
    pool = BrowserPool(WORKER, tmp_path / "data", executable=str(launcher))
    await pool.start()
    pgid = pool.browser_pgid
    assert pgid is not None and pgid != pool.browser_pid
    actx = await pool.context("acct-c")
    await (await actx.new_page()).goto("about:blank")
    await pool.close()
    # closed, not given up on after the pool's own bound (nor the launcher's minute)
    assert "did not close cleanly" not in caplog.text
    await gone(lambda: group_members(pgid), "the launcher's group")


# ------------------------------------------------------------------ proxy


@pytest.fixture
def free_port() -> int:
    return harness_free_port()  # nothing listens here


async def test_proxy_per_context_and_health_check(tmp_path: Path, free_port: int) -> None:
    seen: list[dict[str, str]] = []
    async with serve(probe_app(seen)) as base:
        port = urlsplit(base).port
        proxy = ConnectProxy({"site.test": "127.0.0.1"}, "user", "p@ss:word")
        await proxy.start()
        good = f"http://user:p%40ss%3Aword@127.0.0.1:{proxy.port}"
        bad = f"http://user:WRONG-PASS@127.0.0.1:{proxy.port}"
        site = f"http://site.test:{port}/"
        try:
            async with open_pool(tmp_path) as pool:
                proxied = await pool.context("acct-px", proxy=good)
                direct = await pool.context("acct-direct")
                page = await proxied.new_page()
                response = await page.goto(site)
                assert response is not None and response.status == 200
                assert ("GET", site) in proxy.requests
                assert seen and seen[-1]["User-Agent"] == proxied.fingerprint.user_agent

                other = await direct.new_page()
                with pytest.raises(Exception, match="ERR_NAME_NOT_RESOLVED"):
                    await other.goto(site, timeout=10_000)

                health = await pool.check_proxy("acct-px", site, within=10)
                assert health.ok and health.latency_ms >= 0, health
                assert pool.get("acct-px").proxy_health is health  # type: ignore[union-attr]
                assert ("CONNECT", f"site.test:{port}") in proxy.requests

                # Changing the proxy rebuilds the context; the bad one fails its check.
                broken = await pool.context("acct-px", proxy=bad)
                assert broken is not proxied and not proxied.alive
                with pytest.raises(ProxyFailed, match="acct-px: bad proxy setting"):
                    await pool.context("acct-px", proxy="ftp://user:secret@h:1")
                failed = await pool.check_proxy("acct-px", site, within=10)
                assert (
                    not failed.ok and "407" in failed.detail and "WRONG-PASS" not in failed.detail
                )

            # The raw check, no browser involved.
            ok = await check_proxy(good, site, within=5)
            assert ok.ok and "200" in ok.detail, ok
            refused = await check_proxy(bad, site, within=5)
            assert not refused.ok and "407" in refused.detail and "WRONG" not in refused.detail
        finally:
            await proxy.close()
        down = await check_proxy(f"http://127.0.0.1:{free_port}", site, within=5)
        assert not down.ok and "cannot reach the proxy" in down.detail, down
