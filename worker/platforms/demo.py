"""The demo platform, driven by the real browser.

Monitoring keeps the creator centre open in the account's context. The page
is loaded once, and again only when needed (see `_needs_load`); on every
other cycle the adapter asks the platform's JSON APIs from inside the open
page (`fetch()` in the page: the page's cookies and origin, and the answers
pass the page's response capture like the page's own loads). Reloading on
every cycle would close and reopen the page's live WebSocket, and a DM
pushed in that gap waits for the reloaded page instead of arriving at once.

Every cycle still proves the session (the me API) before reading the lists;
the platform's refusals come back through the same fetches: 401 is an expired
session, 403 a captcha, a renamed comments shape a changed layout. Replies go
through the page UI. Login drives the QR page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response, WebSocket

from hiscrm.v1 import common_pb2, gateway_pb2
from hiscrm_common import settings
from worker.browser.account_context import AccountContext
from worker.platforms import demo_api as api
from worker.platforms.answers import Answer, with_params
from worker.platforms.base import AdapterContext
from worker.platforms.creator_centre import (
    COMMENTS_STEP,
    DMS_STEP,
    CreatorCentreAdapter,
    ListPage,
)
from worker.platforms.errors import (
    AuthExpired,
    LayoutChanged,
    PlatformTimeout,
    VerificationRequired,
)
from worker.platforms.qr_login import LoginLook, LoginProbe, verification_event
from worker.platforms.steps import CycleSteps

log = logging.getLogger(__name__)

CREATOR_PATH = "/creator"
LIST_PATHS = (api.COMMENTS_PATH, api.MESSAGES_PATH)
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
# Where the creator page is and whether its script has finished loading its data
# ("true", or "error" when an API refused; the script may then leave the page).
PAGE_STATE = """() => [location.pathname,
  document.body ? document.body.dataset.loaded || '' : '']"""


class DemoAdapter(CreatorCentreAdapter):
    platform = common_pb2.PLATFORM_DEMO
    # The page's whole load is captured, so a refusal of any of its calls is seen.
    CAPTURE_PATHS = (
        api.ME_PATH,
        api.POSTS_PATH,
        api.COMMENTS_PATH,
        api.CONVERSATIONS_PATH,
        api.MESSAGES_PATH,
    )
    # The page reconnects a dropped live channel by itself (1 s, then backing
    # off); a channel down longer than this is reopened by a reload.
    LIVE_GRACE_S = 10.0
    FETCH_COUNT = 50  # the platform's largest page

    def __init__(self, config: common_pb2.AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self._reload = True  # the next cycle loads the page first
        self._live: WebSocket | None = None  # the monitor page's live channel
        self._live_down_since = time.monotonic()
        self.loads = 0  # page loads by the monitor (for logs and tests)
        self._me = common_pb2.UserInfo()  # from the me API, every cycle
        self._peers: dict[str, str] = {}  # conversation id -> peer name (binary DMs)

    @property
    def base_url(self) -> str:
        return (
            self.config.spec.demo.base_url or settings.get().demosite_url or "http://127.0.0.1:8300"
        ).rstrip("/")

    def _api_url(self, path: str, **params: object) -> str:
        return with_params(self.base_url + path, **params) if params else self.base_url + path

    # ------------------------------------------------------------ live channel

    def _monitor_page_opened(self, page: Page) -> None:
        self._reload = True
        page.on("websocket", self._on_websocket)

    def _live_open(self) -> bool:
        return self._live is not None and not self._live.is_closed()

    def _on_websocket(self, ws: WebSocket) -> None:
        if api.LIVE_PATH not in ws.url:
            return

        def frame(payload: str | bytes) -> None:
            self._live = ws  # it speaks: this is the open channel
            text = payload.decode() if isinstance(payload, bytes) else payload
            try:
                item = api.live_item(self.account_id, text)
            except AuthExpired:
                # The page leaves for the login page; the next cycle's session
                # check reports it (once).
                self._log("live channel says the session ended", level=logging.WARNING)
                return
            except LayoutChanged as exc:
                self._log("live push not understood: %s", exc, level=logging.ERROR)
                return
            if item is not None and self.live_sink is not None:
                self.live_sink([item])

        def closed(_: object = None) -> None:
            # Only the open channel going down starts the grace period: failed
            # reconnects must not keep extending it.
            if self._live is ws:
                self._live = None
                self._live_down_since = time.monotonic()
                self._log("live channel closed", level=logging.DEBUG)

        ws.on("framereceived", frame)
        ws.on("close", closed)
        ws.on("socketerror", closed)

    # ------------------------------------------------------------ monitoring

    def _needs_load(self, page: Page) -> str:
        """Why the page must be (re)loaded before this cycle; "" when it need not."""
        if self._reload:
            return "first cycle or after an error"
        if urlsplit(page.url).path != CREATOR_PATH:
            return f"the page went to {urlsplit(page.url).path}"  # e.g. its script saw a 401
        down = time.monotonic() - self._live_down_since
        if not self._live_open() and down > self.LIVE_GRACE_S:
            return f"live channel down for {down:.0f}s"
        return ""

    async def _cycle(self, marks: dict[str, int], steps: CycleSteps) -> None:
        page = await self._monitor_page()
        try:
            await self._read(page, marks, steps)
        except Exception:
            self._reload = True  # whatever went wrong, start from a fresh page
            raise
        if steps.failures:
            self._reload = True

    async def _read(self, page: Page, marks: dict[str, int], steps: CycleSteps) -> None:
        comments, dms = self._wants()
        why = self._needs_load(page)
        on_site = page.url.startswith(self.base_url + "/")
        if on_site:
            # Every cycle proves the session first, through the open page; any
            # page of the platform can ask (one its script took to /login too),
            # so an expired session or a captcha needs no reload to be seen.
            self._session(await self._ask(page, self._api_url(api.ME_PATH)))
        loaded: list[Answer] | None = None
        if why:
            self._log("loading the creator centre (%s)", why, level=logging.DEBUG)
            loaded = await self._load(page)
            for answer in self._of(loaded, api.ME_PATH):
                self._session(answer)
            if not on_site and not self._of(loaded, api.ME_PATH):
                self._session(await self.page_fetch(page, self._api_url(api.ME_PATH)))
        self._answers.clear()  # the page lives on: keep the capture from growing

        async def first_pages(path: str) -> list[Answer]:
            """The list's first page: the one the page load brought, else asked for."""
            if loaded is None:
                url = self._api_url(path, cursor=0, count=self.FETCH_COUNT)
                return [await self._ask(page, url)]
            found = self._of(loaded, path)
            if not found:  # e.g. comments shown only once a post is picked: ask
                url = self._api_url(path, cursor=0, count=self.FETCH_COUNT)
                return [await self._ask(page, url)]
            return found

        async def read_comments() -> list[common_pb2.Item]:
            items: list[common_pb2.Item] = []
            for answer in await first_pages(api.COMMENTS_PATH):
                items += await self._pages(page, answer, self._comment_page, marks["c"], "comments")
            return items

        async def read_dms() -> list[common_pb2.Item]:
            items: list[common_pb2.Item] = []
            firsts = await first_pages(api.MESSAGES_PATH)
            if any(api.is_binary(a.headers) for a in firsts):
                # Binary messages carry no names: the conversations API has the peers'.
                convs = self._of(loaded or [], api.CONVERSATIONS_PATH)
                if not convs:
                    convs = [await self._ask(page, self._api_url(api.CONVERSATIONS_PATH))]
                self._check(convs[0], "conversations API")
                self._peers = api.conversation_peers(convs[0].body)
            for answer in firsts:
                items += await self._pages(page, answer, self._message_page, marks["m"], "DMs")
            return items

        if comments:
            await steps.run(COMMENTS_STEP, read_comments)
        if dms:
            await steps.run(DMS_STEP, read_dms)

    async def _ask(self, page: Page, url: str) -> Answer:
        """A fetch through the page, tried once more when a navigation the
        page's own script started (it leaves for /login or /captcha on a
        refusal, or on the live channel's session_expired) destroyed it."""
        try:
            return await self.page_fetch(page, url)
        except PlaywrightError as exc:
            if "destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            await page.wait_for_load_state("domcontentloaded")
            return await self.page_fetch(page, url)

    @staticmethod
    def _of(answers: list[Answer], path: str) -> list[Answer]:
        return [a for a in answers if a.path == path]

    @staticmethod
    def _check(answer: Answer, where: str) -> None:
        api.check_status(answer.status, answer.body, where)

    def _comment_page(self, answer: Answer) -> ListPage:
        self._check(answer, "comments API")
        records, has_more, cursor = api.comments_page(answer.body)
        items = [api.comment_item(self.account_id, c) for c in records]
        return ListPage(items, with_params(answer.url, cursor=cursor) if has_more else None)

    def _message_page(self, answer: Answer) -> ListPage:
        if answer.status == 200 and api.is_binary(answer.headers):
            items, has_more, cursor = api.binary_messages(
                self.account_id, answer.raw, self._me, self._peers
            )
        else:
            self._check(answer, "messages API")
            records, has_more, cursor = api.messages_page(answer.body)
            items = [api.message_item(self.account_id, m) for m in records]
        return ListPage(items, with_params(answer.url, cursor=cursor) if has_more else None)

    def _session(self, answer: Answer) -> None:
        """The me API's answer, checked; who the account is (binary DMs need it)."""
        self._check(answer, "me API")
        self._me = api.user_info(answer.body)

    async def _load(self, page: Page) -> list[Answer]:
        """Load the creator centre; the JSON answers it loaded itself, each
        checked (a refused call raises its typed error)."""
        await self._goto(page, self.base_url + CREATOR_PATH)
        self.loads += 1
        self._live_down_since = time.monotonic()  # its live channel starts now
        await self._landed(page)
        await self._wait_loaded(page)
        await self._settle()
        loaded = list(self._answers)
        for answer in loaded:  # whichever API the page was refused by says why;
            if answer.path not in LIST_PATHS:  # a list's refusal is its own step's
                self._check(answer, answer.path)
        self._reload = False
        return loaded

    async def _landed(self, page: Page) -> None:
        """The platform answers a page load with the login page or a captcha
        instead of the creator centre when the session is gone or checked."""
        if "/login" in page.url:
            raise AuthExpired("the creator centre sent us to the login page")
        if "/captcha" in page.url or await page.locator("[data-testid=captcha]").count():
            raise VerificationRequired("the platform shows a captcha")

    async def _wait_loaded(self, page: Page) -> None:
        """Until the page's script has loaded its data, or failed, or left the
        page (its script goes to /login or /captcha on a refusal; the
        captured answers say which)."""
        limit = self.PAGE_TIMEOUT_MS / 1000
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                path, loaded = await page.evaluate(PAGE_STATE)
            except PlaywrightError:  # navigating: look again
                path, loaded = "", ""
            if loaded in ("true", "error") or (path and path != CREATOR_PATH):
                return
            await asyncio.sleep(0.05)
        raise PlatformTimeout(f"the creator centre did not load within {limit:.0f}s")

    # ------------------------------------------------------------ replies

    async def _reply_comment(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        selector = f'[data-testid=comment-item][data-comment-id="{target.platform_item_id}"]'
        pick = f'[data-testid=post-item][data-post-id="{target.post_id}"] [data-testid=post-pick]'
        return await self._reply(selector, target.platform_item_id, text, pick)

    async def _reply_dm(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        selector = (
            f'[data-testid=conversation-item][data-conversation-id="{target.conversation_id}"]'
        )
        return await self._reply(selector, target.conversation_id, text)

    async def _reply(self, selector: str, what: str, text: str, pick: str = "") -> str:
        page = await self._monitor_page()
        if self._reload or urlsplit(page.url).path != CREATOR_PATH:
            await self._load(page)
        scope = page.locator(selector)
        if await scope.count() == 0:
            # The page is not reloaded every cycle: an item the live channel
            # did not push is not rendered yet. The page's refresh loads it.
            await page.locator("[data-testid=refresh]").click()
            await self._wait_loaded(page)
        if await scope.count() == 0 and pick and await page.locator(pick).count():
            # The page shows a post's comments only once the post is picked.
            await page.locator(pick).first.click()
            with contextlib.suppress(PlaywrightError):
                await scope.first.wait_for(state="attached", timeout=self.PAGE_TIMEOUT_MS / 3)
        if await scope.count() == 0:
            raise LayoutChanged(f"cannot find the item to reply to ({what})")
        box = scope.locator("[data-testid=reply-input]").first
        async with page.expect_response(lambda r: api.REPLY_PATH in r.url) as waiter:
            await box.fill(text)
            await scope.locator("[data-testid=reply-send]").first.click()
        response = await waiter.value
        body = await response.json()
        api.check_status(response.status, body, "reply API")
        # the id of the comment or message the reply became: the monitor finds it
        # under that id later, so the master stores both as one item
        reply = body.get("reply") or {}
        return str(reply.get("item_id") or reply.get("reply_id", ""))

    # ------------------------------------------------------------ login

    def _login_probe(self, actx: AccountContext) -> DemoLoginProbe:
        return DemoLoginProbe(self)

    async def _login_user(self, page: Page) -> common_pb2.UserInfo:
        """The user info the creator page asks for once the login lands there."""
        await self._wait_loaded(page)
        answer = await self._wait_answer([api.ME_PATH], self.LOAD_TIMEOUT_S / 3)
        if answer is None or answer.status != 200:  # e.g. a login page's own check
            answer = await self.page_fetch(page, self._api_url(api.ME_PATH))
        self._check(answer, "me API")
        return api.user_info(answer.body)


class DemoLoginProbe(LoginProbe):
    """The demo login page: a QR (its token in #qr), a status the page
    keeps in #login-status (waiting, scanned, verify, failed), an SMS form,
    and the creator centre once logged in. The page renews its own QR and
    refuses the login itself after too many wrong codes."""

    qr_selectors = ("#qr",)
    qr_lifetime_s = None
    counts_code_attempts = True

    def __init__(self, adapter: DemoAdapter) -> None:
        self.adapter = adapter
        self.pngs: dict[str, bytes] = {}  # token -> the QR image the page loaded
        self._listening = False

    async def open(self, page: Page) -> None:
        async def grab(response: Response) -> None:
            try:
                if "/api/login/qr.png" in response.url:
                    token = response.url.split("token=", 1)[1].split("&", 1)[0]
                    self.pngs[token] = await response.body()
            except Exception as exc:
                self.adapter._log("QR capture failed: %s", type(exc).__name__, level=logging.DEBUG)

        if not self._listening:  # once per page
            self._listening = True
            page.on("response", lambda r: asyncio.get_running_loop().create_task(grab(r)))
        await self.adapter._goto(page, f"{self.adapter.base_url}/login?force=1")

    async def look(self, page: Page) -> LoginLook:
        where, token, status = await page.evaluate(LOGIN_PROBE)
        if where.startswith(CREATOR_PATH):
            return LoginLook(success=True)
        return LoginLook(
            qr=token if status in ("waiting", "") else "",
            qr_selector="#qr",
            qr_content=f"{self.adapter.base_url}/api/login/scan?token={token}",
            scanned=status == "scanned",
            sms=status == "verify",
            failed="the platform refused the login (too many wrong codes?)"
            if status == "failed"
            else "",
        )

    async def qr_png(self, page: Page, look: LoginLook) -> bytes:
        return self.pngs.get(look.qr) or await page.locator("#qr").screenshot()

    async def sms_step(
        self, page: Page, look: LoginLook, codes: asyncio.Queue[str], deadline: float
    ) -> AsyncIterator[gateway_pb2.LoginEvent]:
        hint = await page.locator("#sms-form").inner_text()
        yield verification_event(gateway_pb2.VERIFICATION_METHOD_SMS_CODE, hint.strip()[:80])
        code = await asyncio.wait_for(codes.get(), deadline - time.monotonic())
        await page.fill("#sms-code", code)
        await page.click("#sms-submit")
        await page.wait_for_function(CODE_ANSWERED)

    async def user(self, page: Page) -> common_pb2.UserInfo:
        return await self.adapter._login_user(page)
