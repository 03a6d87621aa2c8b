"""The demo platform, driven by the real browser.

Monitoring keeps the creator centre open in the account's context: each
cycle reloads it and reads the JSON the page itself loads (response
interception), paging further through the page's own API when a page is
full of items newer than the cursor; between cycles the page's live
WebSocket delivers new DMs at once. Login drives the QR page.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response, WebSocket

from hiscrm.v1 import common_pb2, gateway_pb2
from hiscrm_common.timeutil import to_ts, utcnow
from worker.browser.pool import AccountContext
from worker.platforms import demo_api as api
from worker.platforms.base import (
    Adapter,
    AdapterContext,
    AuthExpired,
    FetchResult,
    LayoutChanged,
    NetworkError,
    PlatformError,
    PlatformTimeout,
    ProxyFailed,
    VerificationRequired,
)

log = logging.getLogger(__name__)

LOGIN_TIMEOUT_S = 300.0
PAGE_TIMEOUT_MS = 30_000
MAX_PAGES = 10  # per list per cycle; the cursor catches up over cycles
CODE_ANSWERED = """() => {
  const st = document.querySelector('#login-status');
  if (!st) return true;
  const err = document.querySelector('#sms-error');
  return st.dataset.status !== 'verify' || (err && !err.hidden && err.dataset.error);
}"""
# Never waits for elements: the page may be leaving for the creator centre.
LOGIN_PROBE = """() => {
  const qr = document.querySelector('#qr');
  const st = document.querySelector('#login-status');
  const token = qr ? qr.dataset.token || '' : '';
  return [location.pathname, token, st ? st.dataset.status || '' : ''];
}"""


class DemoAdapter(Adapter):
    platform = common_pb2.PLATFORM_DEMO

    def __init__(self, config: common_pb2.AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self.page: Page | None = None
        self.actx: AccountContext | None = None
        self._responses: list[tuple[str, int, Any]] = []
        self._captures: set[asyncio.Task[None]] = set()
        self._session_blob = b""

    @property
    def base_url(self) -> str:
        return (
            self.config.spec.demo.base_url
            or os.environ.get("HISCRM_DEMOSITE_URL", "")
            or "http://127.0.0.1:8300"
        ).rstrip("/")

    def _log(self, msg: str, *args: object, level: int = logging.INFO) -> None:
        log.log(
            level, "account %s on worker %s: " + msg, self.account_id, self.ctx.worker_id, *args
        )

    def needs_login(self) -> bool:
        return not self.config.session

    async def apply_config(self, config: common_pb2.AccountConfig) -> None:
        old = self.config
        self.config = config
        if (
            old.session != config.session
            or old.spec.proxy != config.spec.proxy
            or old.fingerprint_seed != config.fingerprint_seed
        ):
            await self._drop_page()  # the next cycle builds a context from the new config

    # ------------------------------------------------------------ page

    async def _context(self, *, fresh: bool = False) -> AccountContext:
        pool = self.ctx.browser
        if pool is None:
            raise PlatformError("this worker has no browser pool")
        state = None
        if not fresh and self.config.session and self.ctx.sessions is not None:
            state = self.ctx.sessions.cipher.decrypt_state(self.account_id, self.config.session)
        try:
            return await pool.context(
                self.account_id,
                self.config.fingerprint_seed,
                self.config.spec.proxy,
                state,
                replace=fresh or (state is not None and self.config.session != self._session_blob),
            )
        finally:
            self._session_blob = self.config.session

    async def _monitor_page(self) -> Page:
        if self.page is not None and not self.page.is_closed() and self.actx and self.actx.alive:
            return self.page
        self.actx = await self._context()
        if self.config.spec.proxy:
            await self._check_proxy()
        page = await self.actx.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.on("response", self._on_response)
        page.on("websocket", self._on_websocket)
        self.page = page
        return page

    async def _check_proxy(self) -> None:
        """Through the proxy itself, once per context: the operator sees the
        result on the account; a dead proxy fails the cycle as PROXY."""
        pool = self.ctx.browser
        if pool is None:
            return
        # Chromium never proxies loopback, so the check goes to the public
        # check URL (HISCRM_PROXY_CHECK_URL), not to a local demo platform.
        health = await pool.check_proxy(self.account_id)
        if self.proxy_sink is not None:
            msg = common_pb2.ProxyHealth(
                ok=health.ok, detail=health.detail, latency_ms=int(health.latency_ms)
            )
            msg.checked_at.FromSeconds(int(health.checked_at))
            self.proxy_sink(msg)
        if not health.ok:
            raise ProxyFailed(f"proxy check failed: {health.detail}")

    async def _drop_page(self) -> None:
        page, self.page = self.page, None
        if page is not None and not page.is_closed():
            try:
                await page.close()
            except PlaywrightError:
                pass

    def _on_response(self, response: Response) -> None:
        if _path(response.url) in (api.COMMENTS_PATH, api.MESSAGES_PATH, api.ME_PATH):
            task = asyncio.get_running_loop().create_task(self._capture(response))
            self._captures.add(task)
            task.add_done_callback(self._captures.discard)

    async def _capture(self, response: Response) -> None:
        try:
            body = await response.json()
        except Exception:
            body = None
        self._responses.append((response.url, response.status, body))

    def _on_websocket(self, ws: WebSocket) -> None:
        if api.LIVE_PATH not in ws.url:
            return

        def frame(payload: str | bytes) -> None:
            text = payload.decode() if isinstance(payload, bytes) else payload
            try:
                item = api.live_item(self.account_id, text)
            except AuthExpired:
                self._log("live channel says the session ended", level=logging.WARNING)
                return
            except LayoutChanged as exc:
                self._log("live push not understood: %s", exc, level=logging.ERROR)
                return
            if item is not None and self.live_sink is not None:
                self.live_sink([item])

        ws.on("framereceived", frame)

    async def _screenshot(self, reason: str) -> str:
        if self.page is None or self.ctx.browser is None or self.page.is_closed():
            return ""
        try:
            path = await self.ctx.browser.screenshot(self.account_id, self.page, reason)
        except Exception:
            return ""
        return str(path or "")

    # ------------------------------------------------------------ monitoring

    async def fetch_new(self, cursor: str) -> FetchResult:
        marks = json.loads(cursor) if cursor else {"c": 0, "m": 0}
        async with self.ctx.page_slots:
            try:
                items = await self._cycle(marks)
            except PlatformError as exc:
                if not exc.screenshot:
                    exc.screenshot = await self._screenshot(type(exc).__name__)
                raise
            except PlaywrightError as exc:
                shot = await self._screenshot("browser error")
                await self._drop_page()
                text = str(exc).splitlines()[0]
                if "Timeout" in type(exc).__name__ or "Timeout" in text:
                    raise PlatformTimeout(text, screenshot=shot) from None
                raise NetworkError(text, screenshot=shot) from None
        for item in items:
            key = "c" if item.kind == common_pb2.ITEM_KIND_COMMENT else "m"
            marks[key] = max(marks[key], item.created_at.seconds)
        if self.ctx.sessions is not None and self.actx is not None:
            await self.ctx.sessions.save_context(self.account_id, self.actx.context)
        return FetchResult(items=items, cursor=json.dumps(marks, sort_keys=True))

    async def _cycle(self, marks: dict[str, int]) -> list[common_pb2.Item]:
        page = await self._monitor_page()
        self._responses.clear()
        await page.goto(f"{self.base_url}/creator", wait_until="domcontentloaded")
        if "/login" in page.url:
            raise AuthExpired("the creator centre sent us to the login page")
        if "/captcha" in page.url or await page.locator("[data-testid=captcha]").count():
            raise VerificationRequired("the platform shows a captcha")
        await page.wait_for_function(
            "document.body.dataset.loaded === 'true' || document.body.dataset.loaded === 'error'"
        )
        # every response event has fired by now; wait for their bodies
        while self._captures:
            await asyncio.gather(*list(self._captures), return_exceptions=True)
        items: list[common_pb2.Item] = []
        for url, status, body in list(self._responses):
            path = _path(url)
            if path == api.ME_PATH:
                api.check_status(status, body, "me API")
            elif path == api.COMMENTS_PATH:
                api.check_status(status, body, "comments API")
                items += await self._comments(page, url, body, marks["c"])
            elif path == api.MESSAGES_PATH:
                api.check_status(status, body, "messages API")
                items += await self._messages(page, url, body, marks["m"])
        if not any(_path(u) == api.COMMENTS_PATH for u, _, _ in self._responses):
            raise LayoutChanged("the creator centre loaded no comments from the comments API")
        return items

    async def _comments(
        self, page: Page, url: str, body: dict[str, Any], mark: int
    ) -> list[common_pb2.Item]:
        records, has_more, next_cursor = api.comments_page(body)
        out = [api.comment_item(self.account_id, c) for c in records]
        pages = 1
        while has_more and records and min(int(c["create_time"]) for c in records) >= mark:
            if pages >= MAX_PAGES:
                break
            more = _with_param(url, "cursor", next_cursor)
            status, body = await _page_fetch(page, more)
            api.check_status(status, body, "comments API")
            records, has_more, next_cursor = api.comments_page(body)
            out += [api.comment_item(self.account_id, c) for c in records]
            pages += 1
        return out

    async def _messages(
        self, page: Page, url: str, body: dict[str, Any], mark: int
    ) -> list[common_pb2.Item]:
        records, has_more, next_cursor = api.messages_page(body)
        out = [api.message_item(self.account_id, m) for m in records]
        pages = 1
        while has_more and records and min(int(m["create_time"]) for m in records) >= mark:
            if pages >= MAX_PAGES:
                break
            status, body = await _page_fetch(page, _with_param(url, "cursor", next_cursor))
            api.check_status(status, body, "messages API")
            records, has_more, next_cursor = api.messages_page(body)
            out += [api.message_item(self.account_id, m) for m in records]
            pages += 1
        return out

    # ------------------------------------------------------------ replies

    async def send_reply(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        async with self.ctx.page_slots:
            page = await self._monitor_page()
            if "/creator" not in page.url:
                await page.goto(f"{self.base_url}/creator", wait_until="domcontentloaded")
            await page.wait_for_function("document.body.dataset.loaded === 'true'")
            if target.kind == common_pb2.ITEM_KIND_COMMENT:
                scope = page.locator(
                    f'[data-testid=comment-item][data-comment-id="{target.platform_item_id}"]'
                )
            else:
                scope = page.locator(
                    f'[data-testid=conversation-item][data-conversation-id="{target.conversation_id}"]'
                )
            if await scope.count() == 0:
                raise LayoutChanged(
                    "cannot find the item to reply to "
                    f"({target.platform_item_id or target.conversation_id})",
                    screenshot=await self._screenshot("reply target missing"),
                )
            box = scope.locator("[data-testid=reply-input]").first
            async with page.expect_response(lambda r: api.REPLY_PATH in r.url) as waiter:
                await box.fill(text)
                await scope.locator("[data-testid=reply-send]").first.click()
            response = await waiter.value
            body = await response.json()
            api.check_status(response.status, body, "reply API")
            return str((body.get("reply") or {}).get("reply_id", ""))

    # ------------------------------------------------------------ login

    async def login(
        self, session_id: str, codes: asyncio.Queue[str]
    ) -> AsyncIterator[gateway_pb2.LoginEvent]:
        actx = await self._context(fresh=True)
        self.actx = actx
        await self._drop_page()
        page = await actx.new_page()
        pngs: dict[str, bytes] = {}
        me: dict[str, Any] = {}

        async def grab(response: Response) -> None:
            try:
                if "/api/login/qr.png" in response.url:
                    token = response.url.split("token=", 1)[1].split("&", 1)[0]
                    pngs[token] = await response.body()
                elif _path(response.url) == api.ME_PATH:
                    me.update(await response.json())
            except Exception as exc:
                self._log("login capture failed: %s", type(exc).__name__, level=logging.DEBUG)

        page.on("response", lambda r: asyncio.get_running_loop().create_task(grab(r)))
        try:
            await page.goto(f"{self.base_url}/login?force=1", wait_until="domcontentloaded")
            deadline = time.monotonic() + LOGIN_TIMEOUT_S
            shown, refreshes, scanned = "", 0, False
            while time.monotonic() < deadline:
                try:
                    where, token, status = await page.evaluate(LOGIN_PROBE)
                except PlaywrightError:  # navigating: look again
                    await asyncio.sleep(0.2)
                    continue
                if where.startswith("/creator"):
                    break
                if token and token != shown and status in ("waiting", ""):
                    png = pngs.get(token) or await page.locator("#qr").screenshot()
                    yield gateway_pb2.LoginEvent(
                        qr=gateway_pb2.LoginQr(
                            png=png,
                            content=f"{self.base_url}/api/login/scan?token={token}",
                            refresh_count=refreshes,
                        )
                    )
                    shown, refreshes, scanned = token, refreshes + 1, False
                elif status == "scanned" and not scanned:
                    scanned = True
                    yield gateway_pb2.LoginEvent(scanned=gateway_pb2.LoginScanned())
                elif status == "verify":
                    hint = await page.locator("#sms-form").inner_text()
                    yield gateway_pb2.LoginEvent(
                        verification_required=gateway_pb2.LoginVerificationRequired(
                            method=gateway_pb2.VERIFICATION_METHOD_SMS_CODE, hint=hint.strip()[:80]
                        )
                    )
                    code = await asyncio.wait_for(codes.get(), deadline - time.monotonic())
                    await page.fill("#sms-code", code)
                    await page.click("#sms-submit")
                    await page.wait_for_function(CODE_ANSWERED)
                    continue
                elif status == "failed":
                    yield gateway_pb2.LoginEvent(
                        failed=gateway_pb2.LoginFailed(
                            kind=common_pb2.ERROR_KIND_VERIFICATION,
                            reason="the platform refused the login (too many wrong codes?)",
                        )
                    )
                    return
                await asyncio.sleep(0.2)
            else:
                yield gateway_pb2.LoginEvent(
                    expired=gateway_pb2.LoginExpired(
                        reason=f"no scan within {LOGIN_TIMEOUT_S:.0f}s"
                    )
                )
                return
            await page.wait_for_function("document.body.dataset.loaded === 'true'")
            for _ in range(50):
                if me:
                    break
                await asyncio.sleep(0.05)
            api.check_status(200 if me else 0, me, "me API")
            user = api.user_info(me)
            sessions = self.ctx.sessions
            if sessions is None:
                raise PlatformError("this worker has no session store")
            blob = await sessions.save_context(self.account_id, actx.context)
            self._session_blob = blob
            yield gateway_pb2.LoginEvent(
                at=to_ts(utcnow()),
                success=gateway_pb2.LoginSuccess(
                    session=blob, user=user, fingerprint=actx.fingerprint.to_proto()
                ),
            )
        finally:
            await page.close()

    async def close(self) -> None:
        await self._drop_page()
        if self.ctx.browser is not None:
            await self.ctx.browser.close_context(self.account_id)


def _path(url: str) -> str:
    return urlsplit(url).path


def _with_param(url: str, key: str, value: object) -> str:
    base, _, query = url.partition("?")
    parts = [p for p in query.split("&") if p and not p.startswith(f"{key}=")]
    parts.append(f"{key}={value}")
    return f"{base}?{'&'.join(parts)}"


async def _page_fetch(page: Page, url: str) -> tuple[int, Any]:
    """Fetch through the page itself: same cookies, same origin, and the
    response passes the same interception as the page's own loads."""
    return await page.evaluate(
        """async (url) => {
            const r = await fetch(url, {credentials: 'same-origin', cache: 'no-store'});
            let body = null;
            try { body = await r.json(); } catch (e) {}
            return [r.status, body];
        }""",
        url,
    )
