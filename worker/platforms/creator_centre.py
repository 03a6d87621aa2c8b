"""What the creator-centre adapters (Douyin, Xiaohongshu, the demo platform)
share: the account's context and page, capture of the JSON the platform's
own pages load, fetches through the page itself, paging a list up to the
cursor, screenshots on every error, the classification of browser failures
and the frame of a QR login. Platform facts live in *_api.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response

from hiscrm.v1 import common_pb2, gateway_pb2
from hiscrm_common import config_model
from hiscrm_common.timeutil import to_ts, utcnow
from worker.browser.account_context import AccountContext
from worker.browser.page_vitals import PageVitals
from worker.browser.proxy_check import is_proxy_failure
from worker.platforms.answers import Answer
from worker.platforms.base import Adapter, AdapterContext, FetchResult
from worker.platforms.errors import (
    NetworkError,
    PlatformError,
    PlatformTimeout,
    ProxyFailed,
    merge_failures,
)
from worker.platforms.page_renewal import PageRenewal
from worker.platforms.qr_login import LoginLimits, LoginProbe, qr_login
from worker.platforms.steps import CycleSteps

log = logging.getLogger(__name__)

# Answers the page-level fetch hands back: status, parsed JSON (or None), text,
# headers, and the bytes (base64) of a binary (protobuf) answer.
PAGE_FETCH_JS = """async ([url, method, body]) => {
  const init = {method, credentials: 'include', cache: 'no-store'};
  if (body !== null) {
    init.body = JSON.stringify(body);
    init.headers = {'content-type': 'application/json;charset=UTF-8'};
  }
  const r = await fetch(url, init);
  const headers = {};
  r.headers.forEach((v, k) => { headers[k.toLowerCase()] = v; });
  if ((headers['content-type'] || '').includes('protobuf')) {  // binary: base64 of the bytes
    const bytes = new Uint8Array(await r.arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return [r.status, null, '', headers, btoa(bin)];
  }
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) {}
  return [r.status, json, text.slice(0, 2000), headers, ''];
}"""


COMMENTS_STEP = "comments"
DMS_STEP = "direct messages"


class ListPage(NamedTuple):
    """One page of a list the platform pages newest first, as Items."""

    items: list[common_pb2.Item]
    next_url: str | None  # None: the list ends here
    # The page's oldest time when it holds records that are not Items (skipped
    # kinds); None: the oldest Item's.
    oldest: int | None = None


class CreatorCentreAdapter(Adapter):
    """Platform-neutral plumbing for adapters that read a platform's own pages."""

    # Paths (suffix match) whose JSON answers are captured from every page.
    CAPTURE_PATHS: tuple[str, ...] = ()
    PAGE_TIMEOUT_MS = 30_000
    # True when a cycle clicks, types or scrolls on the monitor page: it is
    # then painted in full (a shrunk page's input misses, see
    # AccountContext.render_scale); else it paints at HISCRM_RENDER_SCALE.
    CYCLE_CLICKS = False
    LOAD_TIMEOUT_S = 15.0  # for the JSON the page loads by itself
    MAX_PAGES = 10  # per list per cycle; the cursor catches up over cycles
    LOGIN_TIMEOUT_S = 300.0
    QR_FIND_TIMEOUT_S = 20.0
    MAX_QR = 6  # QR codes shown in one login before it is given up
    MAX_CODE_ATTEMPTS = 3
    POLL_S = 0.25
    MAX_RAW = 4 << 20  # bytes kept of one captured answer

    def __init__(self, config: common_pb2.AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self.page: Page | None = None
        self.actx: AccountContext | None = None
        self._answers: list[Answer] = []
        self._captures: set[asyncio.Task[None]] = set()
        # Bumped at every navigation: an answer whose body is read after the
        # next goto started belongs to the page before and is not kept.
        self._navigations = 0
        self._session_blob = b""
        # set once a cycle saved the context's state locally: from then on
        # that state, not the config's older copy, is what a rebuilt context
        # (after a browser crash) must start from, or a rotated cookie is lost
        self._saved_since_config = False
        settings = config_model.get()
        self.renewal = PageRenewal(settings.page_renew_min * 60, settings.page_max_heap_mib)
        # the open monitor page as measured after the last cycle; None once
        # that page is dropped (its successor is measured after its first cycle)
        self.page_vitals: PageVitals | None = None

    # ------------------------------------------------------------ basics

    def _log(self, msg: str, *args: object, level: int = logging.INFO) -> None:
        logging.getLogger(type(self).__module__).log(
            level, "account %s on worker %s: " + msg, self.account_id, self.ctx.worker_id, *args
        )

    def needs_login(self) -> bool:
        return not self.config.session

    def _wants(self) -> tuple[bool, bool]:
        """(comments, direct messages); neither set means both (proto defaults)."""
        spec = self.config.spec
        if not spec.monitor_comments and not spec.monitor_direct_messages:
            return True, True
        return spec.monitor_comments, spec.monitor_direct_messages

    async def apply_config(self, config: common_pb2.AccountConfig) -> None:
        old = self.config
        self.config = config
        if old.session != config.session:
            self._saved_since_config = False
        if (
            old.session != config.session
            or old.spec.proxy != config.spec.proxy
            or old.fingerprint_seed != config.fingerprint_seed
        ):
            await self._drop_page()  # the next cycle builds a context from the new config

    async def close(self) -> None:
        await self._drop_page()
        if self.ctx.browser is not None:
            await self.ctx.browser.close_context(self.account_id)

    # ------------------------------------------------------------ context and page

    async def _context(self, *, fresh: bool = False) -> AccountContext:
        pool = self.ctx.browser
        if pool is None:
            raise PlatformError("this worker has no browser pool")
        state = None
        sessions = self.ctx.sessions
        if not fresh and self.config.session and sessions is not None:
            blob = self.config.session
            if self._saved_since_config:
                saved = await asyncio.to_thread(sessions.load_blob, self.account_id)
                blob = saved or blob
            state = sessions.cipher.decrypt_state(self.account_id, blob)
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

    async def _new_page(self, actx: AccountContext) -> Page:
        page = await actx.new_page()
        page.set_default_timeout(self.PAGE_TIMEOUT_MS)
        page.on("response", self._on_response)
        return page

    async def _monitor_page(self) -> Page:
        if self.page is not None and not self.page.is_closed() and self.actx and self.actx.alive:
            return self.page
        self.actx = await self._context()
        if self.config.spec.proxy:
            await self._check_proxy()
        page = await self._new_page(self.actx)
        scale = config_model.get().render_scale
        if scale < 1 and not self.CYCLE_CLICKS:
            try:  # read through fetches: it needs no pixels (AccountContext.render_scale)
                await self.actx.render_scale(page, scale)
            except BaseException:
                await page.close()
                raise
        self.page = page
        self.renewal.opened(time.monotonic())
        self._monitor_page_opened(page)
        return page

    def monitor_page(self) -> common_pb2.MonitorPage:
        open_ = self.page is not None and not self.page.is_closed()
        vitals = self.page_vitals if open_ else None

        def u32(value: float) -> int:  # the field's range: a heartbeat never fails on one
            return min(max(int(value), 0), 2**32 - 1)

        return common_pb2.MonitorPage(
            js_heap_used_bytes=min(max(vitals.js_heap_used_bytes, 0), 2**63 - 1) if vitals else 0,
            dom_nodes=u32(vitals.dom_nodes) if vitals else 0,
            age_s=u32(self.renewal.age_s(time.monotonic())) if open_ else 0,
            renewals=u32(self.renewal.renewals),
        )

    def _monitor_page_opened(self, page: Page) -> None:
        """Hook for what only the long-lived monitor page listens to."""

    async def _measure_page(self) -> None:
        """The open monitor page's figures after a cycle: what heartbeats
        report and what the next cycle's renewal decision reads."""
        page, actx = self.page, self.actx
        self.page_vitals = None
        if page is None or page.is_closed() or actx is None or not actx.alive:
            return
        try:
            self.page_vitals = await actx.vitals(page)
        except PlaywrightError as exc:  # the next cycle meets the page's trouble itself
            self._log("could not measure the monitor page: %s", exc, level=logging.DEBUG)

    async def _renew_if_due(self) -> None:
        """Close the monitor page when it is due for renewal (PageRenewal);
        the cycle that follows opens a fresh one in the same context."""
        if self.page is None or self.page.is_closed():
            return
        vitals = self.page_vitals
        why = self.renewal.why(time.monotonic(), vitals)
        if not why:
            return
        self._log("renewing the monitor page (%s; %s)", why, vitals or "not measured")
        self.renewal.renewed()
        await self._drop_page()

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
        self.page_vitals = None
        if page is not None and not page.is_closed():
            try:
                await page.close()
            except PlaywrightError:
                pass

    async def _goto(self, page: Page, url: str) -> None:
        self._navigations += 1
        self._answers.clear()
        await page.goto(url, wait_until="domcontentloaded")

    # ------------------------------------------------------------ response capture

    def _captured(self, path: str) -> bool:
        return any(path == p or path.endswith(p) for p in self.CAPTURE_PATHS)

    def _on_response(self, response: Response) -> None:
        if not self._captured(urlsplit(response.url).path):
            return
        task = asyncio.get_running_loop().create_task(self._capture(response, self._navigations))
        self._captures.add(task)
        task.add_done_callback(self._captures.discard)

    async def _capture(self, response: Response, navigation: int) -> None:
        try:
            # The bytes, not text(): some answers are binary (Douyin's IM
            # answers are protobuf) and text() fails on them.
            raw = await response.body()
        except Exception as exc:  # the page navigated away and took the body with it
            self._log("response body unavailable: %s", type(exc).__name__, level=logging.DEBUG)
            return
        if navigation != self._navigations:
            # Cleared for a new page while its body was read: kept, it would
            # pass for the new page's own answer (a stale one, under load).
            return
        text = raw.decode("utf-8", errors="replace")
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in response.headers.items()}
        self._answers.append(
            Answer(response.url, response.status, body, text[:2000], headers, raw[: self.MAX_RAW])
        )

    async def _settle(self) -> None:
        while self._captures:
            await asyncio.gather(*list(self._captures), return_exceptions=True)

    def answers(self, *paths: str) -> list[Answer]:
        return [a for a in self._answers if any(a.path.endswith(p) for p in paths)]

    async def _wait_answer(self, paths: Iterable[str], within: float) -> Answer | None:
        wanted = tuple(paths)
        deadline = time.monotonic() + within
        while True:
            await self._settle()
            found = self.answers(*wanted)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.05)

    async def page_fetch(
        self, page: Page, url: str, method: str = "GET", body: Any = None
    ) -> Answer:
        """Fetch through the page itself: the account's cookies and the page's
        own request signing; the answer also passes response capture."""
        status, parsed, text, headers, b64 = await page.evaluate(PAGE_FETCH_JS, [url, method, body])
        raw = base64.b64decode(b64) if b64 else b""
        return Answer(url, int(status), parsed, str(text or ""), dict(headers or {}), raw)

    # ------------------------------------------------------------ errors

    async def _screenshot(self, reason: str, page: Page | None = None) -> str:
        page = page or self.page
        if page is None or self.ctx.browser is None or page.is_closed():
            return ""
        try:
            path = await self.ctx.browser.screenshot(self.account_id, page, reason)
        except Exception:
            return ""
        return str(path or "")

    async def _guarded(self, work: Callable[[], Any], what: str) -> Any:
        """Run page work; every failure leaves typed, with a screenshot."""
        try:
            return await work()
        except PlatformError as exc:
            if not exc.screenshot:
                exc.screenshot = await self._screenshot(f"{what}: {type(exc).__name__}")
            down = self.ctx.browser.proxy_down(self.account_id) if self.ctx.browser else ""
            if down and exc.kind in (common_pb2.ERROR_KIND_NETWORK, common_pb2.ERROR_KIND_TIMEOUT):
                raise ProxyFailed(f"{what}: {down}", screenshot=exc.screenshot) from None
            raise
        except PlaywrightError as exc:
            shot = await self._screenshot(f"{what}: browser error")
            await self._drop_page()
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            # the proxy (or the worker's relay to it) failed, not the site
            down = self.ctx.browser.proxy_down(self.account_id) if self.ctx.browser else ""
            if down or is_proxy_failure(text):
                raise ProxyFailed(f"{what}: {down or text}", screenshot=shot) from None
            if "Timeout" in type(exc).__name__ or "Timeout" in text:
                raise PlatformTimeout(f"{what}: {text}", screenshot=shot) from None
            raise NetworkError(f"{what}: {text}", screenshot=shot) from None

    # ------------------------------------------------------------ monitoring

    async def fetch_new(self, cursor: str) -> FetchResult:
        marks = {"c": 0, "m": 0}
        if cursor:
            try:
                marks.update({k: int(v) for k, v in json.loads(cursor).items()})
            except (ValueError, AttributeError):
                self._log("unreadable cursor %r: starting over", cursor, level=logging.WARNING)
        steps = CycleSteps(self._guarded)
        async with self.ctx.page_slots:
            await self._renew_if_due()
            await self._guarded(lambda: self._cycle(marks, steps), "cycle")
            await self._measure_page()
        if steps.failures and not steps.done:
            raise merge_failures(steps.failures)
        # A failed step's mark stays where it was: its list is read again.
        for item in steps.items:
            key = "c" if item.kind == common_pb2.ITEM_KIND_COMMENT else "m"
            marks[key] = max(marks[key], item.created_at.seconds)
        if self.ctx.sessions is not None and self.actx is not None:
            await self.ctx.sessions.save_context(self.account_id, self.actx.context)
            self._saved_since_config = True
        return FetchResult(
            items=steps.items, cursor=json.dumps(marks, sort_keys=True), failures=steps.failures
        )

    async def _cycle(self, marks: dict[str, int], steps: CycleSteps) -> None:
        """Comments and DMs as separate steps: one failing keeps the other's items."""
        comments, dms = self._wants()

        async def read_comments() -> list[common_pb2.Item]:
            return await self._comments(await self._monitor_page(), marks["c"])

        async def read_dms() -> list[common_pb2.Item]:
            # the comment step proved the session already when it ran through
            check_user = COMMENTS_STEP not in steps.done
            return await self._dms(await self._monitor_page(), marks["m"], check_user=check_user)

        if comments:
            await steps.run(COMMENTS_STEP, read_comments)
        if dms:
            await steps.run(DMS_STEP, read_dms)

    async def _comments(self, page: Page, mark: int) -> list[common_pb2.Item]:
        raise NotImplementedError

    async def _dms(self, page: Page, mark: int, *, check_user: bool) -> list[common_pb2.Item]:
        raise NotImplementedError

    async def _pages(
        self,
        page: Page,
        first: Answer,
        read: Callable[[Answer], ListPage],
        mark: int,
        what: str,
    ) -> list[common_pb2.Item]:
        """The Items at or after `mark` of a list paged newest first.

        `first` is its first page (the one the page loaded, or fetched);
        `read` checks a page and maps it. Further pages are fetched through
        the page until a page reaches items older than the mark: those were
        delivered before, and the cursor catches up over cycles when
        MAX_PAGES cuts a long backlog.
        """
        out: list[common_pb2.Item] = []
        answer = first
        for pages in range(1, self.MAX_PAGES + 1):
            listed = read(answer)
            out += [i for i in listed.items if i.created_at.seconds >= mark]
            oldest = listed.oldest
            if oldest is None and listed.items:
                oldest = min(i.created_at.seconds for i in listed.items)
            if listed.next_url is None or oldest is None or oldest < mark:
                break
            if pages == self.MAX_PAGES:
                self._log("%s: stopped after %d pages", what, pages)
                break
            answer = await self.page_fetch(page, listed.next_url)
        return out

    async def send_reply(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        async with self.ctx.page_slots:
            if target.kind == common_pb2.ITEM_KIND_COMMENT:
                write = lambda: self._reply_comment(target, text)  # noqa: E731
            else:
                write = lambda: self._reply_dm(target, text)  # noqa: E731

            async def work() -> str:
                # replies click and type: the monitor page paints in full meanwhile
                page = await self._monitor_page()
                assert self.actx is not None
                async with self.actx.full_size(page):
                    result: str = await write()
                return result

            reply: str = await self._guarded(work, "reply")
        self._log("reply sent to %s (%s)", target.platform_item_id or target.conversation_id, reply)
        return reply

    async def _reply_comment(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        raise NotImplementedError

    async def _reply_dm(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------ login

    async def login(
        self, session_id: str, codes: asyncio.Queue[str]
    ) -> AsyncGenerator[gateway_pb2.LoginEvent, None]:
        """A fresh context (no old cookies), a page of its own, and a
        screenshot of that page when the login fails."""
        actx = await self._context(fresh=True)
        self.actx = actx
        await self._drop_page()
        page = await self._new_page(actx)
        succeeded = False
        try:
            async for event in self._login_flow(page, actx, codes):
                succeeded = succeeded or event.HasField("success")
                yield event
        except PlatformError as exc:
            if not exc.screenshot:
                exc.screenshot = await self._screenshot(f"login: {type(exc).__name__}", page)
            raise
        finally:
            await page.close()
            if not succeeded:
                # the next cycle rebuilds the context from the account's
                # session instead of monitoring in the abandoned login's one
                self._session_blob = b""

    def _login_probe(self, actx: AccountContext) -> LoginProbe:
        """The platform's probe of its QR login page (see qr_login.py)."""
        raise NotImplementedError

    async def _login_flow(
        self, page: Page, actx: AccountContext, codes: asyncio.Queue[str]
    ) -> AsyncIterator[gateway_pb2.LoginEvent]:
        limits = LoginLimits(
            timeout_s=self.LOGIN_TIMEOUT_S,
            qr_find_timeout_s=self.QR_FIND_TIMEOUT_S,
            max_qr=self.MAX_QR,
            max_code_attempts=self.MAX_CODE_ATTEMPTS,
            poll_s=self.POLL_S,
        )

        async def succeed(user: common_pb2.UserInfo) -> gateway_pb2.LoginEvent:
            return await self._success_event(actx, user)

        probe = self._login_probe(actx)
        async for event in qr_login(probe, page, codes, limits, succeed, self._log):
            yield event

    async def _success_event(self, actx: AccountContext, user: common_pb2.UserInfo) -> Any:
        sessions = self.ctx.sessions
        if sessions is None:
            raise PlatformError("this worker has no session store")
        blob = await sessions.save_context(self.account_id, actx.context)
        self._session_blob = blob
        self._log("logged in as %s (%s)", user.nickname, user.platform_user_id)
        return gateway_pb2.LoginEvent(
            at=to_ts(utcnow()),
            success=gateway_pb2.LoginSuccess(
                session=blob, user=user, fingerprint=actx.fingerprint.to_proto()
            ),
        )
