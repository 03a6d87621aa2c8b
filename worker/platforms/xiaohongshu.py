"""Xiaohongshu (小红书), driven through www.xiaohongshu.com in the real browser.

Monitoring opens the platform's own pages in the account's context and reads
the JSON they load (response interception): the notification page
(/notification, 评论和@) loads the comments on the account's notes from
/api/sns/web/v1/you/mentions; the web chat page (/chat) loads the
conversation list, whose histories are read through the page itself (the page
signs its own fetches). Paging follows the cursor the answers carry until the
last seen item. Replies go through the page UI. Login drives the QR on the
explore page and reads the qrcode create/status answers the page polls.

Everything assumed about the platform is in xiaohongshu_api.py;
docs/platforms.md says where each fact came from.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.browser.account_context import AccountContext
from worker.platforms import xiaohongshu_api as api
from worker.platforms.answers import Answer, seconds, with_params
from worker.platforms.base import AdapterContext
from worker.platforms.creator_centre import CreatorCentreAdapter, ListPage
from worker.platforms.errors import AuthExpired, LayoutChanged, PlatformError, VerificationRequired
from worker.platforms.qr_login import FIND_QR_JS, LoginLook, LoginProbe

XHS_LOGIN_PROBE = (
    """([qrSelectors, loggedIn, captchaTexts, expiredTexts]) => {
"""
    + FIND_QR_JS
    + """  const body = document.body ? document.body.innerText : '';
  return {
    path: location.pathname, qr, qrSel,
    loggedIn: visible(document.querySelector(loggedIn)),
    captcha: captchaTexts.some((t) => body.includes(t)),
    expired: expiredTexts.some((t) => body.includes(t)),
  };
}"""
)


class XiaohongshuAdapter(CreatorCentreAdapter):
    platform = common_pb2.PLATFORM_XIAOHONGSHU
    CAPTURE_PATHS = (
        api.QR_CREATE_PATH,
        api.QR_STATUS_PATH,
        api.ME_PATH,
        api.MENTIONS_PATH,
        api.COMMENT_POST_PATH,
        api.CHATS_PATH,
        api.HISTORY_PATH,
    )
    MAX_CHATS = 20

    def __init__(self, config: common_pb2.AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self._self_id = config.user.platform_user_id
        self._self_name = config.user.nickname
        self._mention_order: list[str] = []  # comment ids in the page's display order
        self._mention_authors: dict[str, str] = {}
        self._chats: dict[str, api.Chat] = {}

    # ------------------------------------------------------------ monitoring

    @staticmethod
    async def _probe(page: Page) -> dict[str, Any]:
        """What the page shows (QR, logged-in marker, captcha, expiry), in one go."""
        state: dict[str, Any] = await page.evaluate(
            XHS_LOGIN_PROBE,
            [
                list(api.QR_IMAGE_SELECTORS),
                api.LOGGED_IN_SELECTOR,
                list(api.CAPTCHA_TEXTS),
                list(api.QR_EXPIRED_TEXTS),
            ],
        )
        return state

    async def _open(self, page: Page, url: str) -> None:
        await self._goto(page, url)
        state = await self._probe(page)
        if state["captcha"]:
            raise VerificationRequired(f"{urlsplit(url).path} shows a captcha ('请通过验证')")
        if state["qr"]:
            raise AuthExpired(f"{urlsplit(url).path} shows the login QR: session expired")

    async def _check_user(self, page: Page) -> None:
        answer = await self._wait_answer([api.ME_PATH], self.LOAD_TIMEOUT_S / 3)
        if answer is None:
            answer = await self.page_fetch(page, api.EDITH_ORIGIN + api.ME_PATH)
        user = api.user_me(api.check_answer(answer, "user/me"))
        self._self_id, self._self_name = user.platform_user_id, user.nickname

    async def _comments(self, page: Page, mark: int) -> list[common_pb2.Item]:
        await self._open(page, api.NOTIFICATION_URL)
        await self._check_user(page)  # the page asks user/me first; a guest is logged out
        answer = await self._wait_answer([api.MENTIONS_PATH], self.LOAD_TIMEOUT_S)
        if answer is None:
            raise LayoutChanged("the notification page loaded no " + api.MENTIONS_PATH)
        # What the page renders, in order: replies find their entry by it.
        first = api.mentions_page(api.check_answer(answer, "mentions"))
        self._mention_order = [api.mention_comment_id(r) for r in first.records]

        def read(answer: Answer) -> ListPage:
            result = api.mentions_page(api.check_answer(answer, "mentions"))
            items = [
                api.comment_item(self.account_id, r) for r in result.records if api.is_comment(r)
            ]
            for item in items:
                self._mention_authors[item.platform_item_id] = item.author_name
            # Entries that are not comments (mention/item) still date the page.
            times = [seconds(r["time"]) for r in result.records]
            more = with_params(answer.url, cursor=result.cursor) if result.has_more else None
            return ListPage(items, more, min(times) if times else None)

        return await self._pages(page, answer, read, mark, "mentions")

    async def _dms(self, page: Page, mark: int, *, check_user: bool) -> list[common_pb2.Item]:
        await self._open(page, api.CHAT_URL)
        if check_user:
            await self._check_user(page)
        answer = await self._wait_answer([api.CHATS_PATH], self.LOAD_TIMEOUT_S)
        if answer is None:
            raise LayoutChanged("the chat page loaded no conversation list " + api.CHATS_PATH)
        out: list[common_pb2.Item] = []
        for chat in api.chats(api.check_answer(answer, "chats"))[: self.MAX_CHATS]:
            if chat.group:
                continue
            self._chats[chat.peer] = chat
            out += await self._history(page, chat, mark)
        return out

    async def _history(self, page: Page, chat: api.Chat, mark: int) -> list[common_pb2.Item]:
        def read(answer: Answer) -> ListPage:
            rows = api.history_rows(api.check_answer(answer, "message history"))
            items = [
                api.dm_item(self.account_id, r, chat, self._self_id, self._self_name) for r in rows
            ]
            stores = [int(r["store_id"]) for r in rows if str(r.get("store_id", "")).isdigit()]
            times = [api.message_time(r) for r in rows]
            # A short page is the last one; older pages are asked for by last_id.
            full = len(rows) >= api.HISTORY_LIMIT
            more = api.history_url(chat.peer, min(stores)) if full and stores else None
            return ListPage(items, more, min(times) if times else None)

        first = await self.page_fetch(page, api.history_url(chat.peer, 0))
        return await self._pages(page, first, read, mark, f"history with {chat.peer}")

    # ------------------------------------------------------------ replies

    async def _reply_comment(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        page = await self._monitor_page()
        if (
            urlsplit(page.url).path != urlsplit(api.NOTIFICATION_URL).path
            or target.platform_item_id not in self._mention_order
        ):
            await self._comments(page, 2**40)  # render the list, learn its order
        if target.platform_item_id not in self._mention_order:
            raise PlatformError(
                f"comment {target.platform_item_id} is not on the notification page"
            )
        index = self._mention_order.index(target.platform_item_id)
        entries = page.locator(api.NOTIFICATION_ITEM)
        if await entries.count() <= index:
            raise LayoutChanged(
                f"the notification page renders {await entries.count()} entries "
                f"({api.NOTIFICATION_ITEM}); the answer has {len(self._mention_order)}"
            )
        entry = entries.nth(index)
        await entry.locator(api.REPLY_ACTION).first.click()
        box = entry.locator(api.REPLY_INPUT).first
        await box.wait_for(state="visible", timeout=10_000)
        author = self._mention_authors.get(target.platform_item_id, "")
        hint = await box.get_attribute("placeholder") or ""
        if author and author not in hint:  # never answer the wrong person
            raise LayoutChanged(f"the reply box says {hint!r}, expected a reply to {author!r}")
        await box.fill(text)
        await entry.locator(api.REPLY_SUBMIT).first.click()
        for _ in range(80):  # the box closes once the platform took the reply
            if not await entry.locator(api.REPLY_INPUT).count():
                break
            await asyncio.sleep(0.1)
        else:
            raise PlatformError("the reply box did not close: the reply was not confirmed")
        await self._settle()
        posted = self.answers(api.COMMENT_POST_PATH)
        if not posted:
            return ""
        return api.reply_comment_id(api.check_answer(posted[-1], "comment post"))

    async def _reply_dm(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        page = await self._monitor_page()
        peer = target.conversation_id
        if peer not in self._chats:
            await self._dms(page, 2**40, check_user=False)
        chat = self._chats.get(peer)
        if chat is None:
            raise PlatformError(f"conversation {peer} is not in the chat list")
        await self._goto(page, api.chat_url(peer))
        before = {i.platform_item_id for i in await self._history(page, chat, 0)}
        editor = page.locator(api.CHAT_EDITOR)
        await editor.first.wait_for(state="visible", timeout=10_000)
        if await editor.count() != 1:
            raise LayoutChanged(f"{await editor.count()} chat editors ({api.CHAT_EDITOR})")
        await editor.fill(text)
        await editor.press("Enter")
        for _ in range(12):  # confirmed by the history: a new outgoing message with the text
            await asyncio.sleep(0.5)
            for item in await self._history(page, chat, 0):
                if item.outgoing and item.content == text and item.platform_item_id not in before:
                    return item.platform_item_id
        raise PlatformError("the message was sent but did not show in the history")

    # ------------------------------------------------------------ login

    async def _session_cookie(self, actx: AccountContext) -> str:
        for cookie in await actx.context.cookies(api.WWW_ORIGIN):
            if cookie["name"] == api.SESSION_COOKIE:
                return str(cookie["value"])
        return ""

    def _latest_status(self) -> int | None:
        statuses = self.answers(api.QR_STATUS_PATH)
        if not statuses:
            return None
        return api.qr_status(api.check_answer(statuses[-1], "qrcode/status"))

    def _latest_qr_content(self) -> str:
        created = self.answers(api.QR_CREATE_PATH)
        return api.qr_content(api.check_answer(created[-1], "qrcode/create")) if created else ""

    def _login_probe(self, actx: AccountContext) -> XiaohongshuLoginProbe:
        return XiaohongshuLoginProbe(self, actx)

    async def _login_user(self, page: Page) -> common_pb2.UserInfo:
        # After the login the page reloads and asks user/me itself; an answer from
        # before the login (a guest) does not count.
        deadline = time.monotonic() + self.LOAD_TIMEOUT_S
        while time.monotonic() < deadline:
            await self._settle()
            for answer in reversed(self.answers(api.ME_PATH)):
                data: Any = answer.body.get("data") if isinstance(answer.body, dict) else None
                if isinstance(data, dict) and not data.get("guest"):
                    return self._remember(api.user_me(api.check_answer(answer, "user/me")))
            await asyncio.sleep(0.1)
        answer = await self.page_fetch(page, api.EDITH_ORIGIN + api.ME_PATH)
        return self._remember(api.user_me(api.check_answer(answer, "user/me")))

    def _remember(self, user: common_pb2.UserInfo) -> common_pb2.UserInfo:
        self._self_id, self._self_name = user.platform_user_id, user.nickname
        return user


class XiaohongshuLoginProbe(LoginProbe):
    """The QR on the explore page; scanned/expired from the qrcode/status
    answers the page polls (and the page's expiry text); logged in when the
    logged-in marker shows and the session cookie is no longer the guest's."""

    qr_selectors = api.QR_IMAGE_SELECTORS

    def __init__(self, adapter: XiaohongshuAdapter, actx: AccountContext) -> None:
        self.adapter = adapter
        self.actx = actx
        self.guest: str | None = None  # the session cookie before the login

    async def open(self, page: Page) -> None:
        await self.adapter._goto(page, api.LOGIN_URL)
        if self.guest is None:
            self.guest = await self.adapter._session_cookie(self.actx)

    async def look(self, page: Page) -> LoginLook:
        state = await self.adapter._probe(page)
        await self.adapter._settle()
        session = await self.adapter._session_cookie(self.actx)
        if state["loggedIn"] and session and session != self.guest:
            return LoginLook(success=True)
        if state["captcha"]:
            return LoginLook(
                captcha="the platform shows '请通过验证': an operator must pass the captcha"
            )
        status = self.adapter._latest_status()
        return LoginLook(
            qr=state["qr"],
            qr_selector=state["qrSel"],
            qr_content=self.adapter._latest_qr_content(),
            scanned=status == api.QR_SCANNED,
            expired=status == api.QR_EXPIRED or state["expired"],
        )

    async def user(self, page: Page) -> common_pb2.UserInfo:
        return await self.adapter._login_user(page)
