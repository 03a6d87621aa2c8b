"""Xiaohongshu (小红书), driven through www.xiaohongshu.com in the real browser.

Monitoring opens the platform's own pages in the account's context and reads
the JSON they load (response interception); every request is the page's own
(signed as the page signs them), never an unsigned fetch of ours for a list:
the notification page (/notification, 评论和@) loads the comments on the
account's notes from /api/sns/web/v1/you/mentions, and scrolled to its end,
the next page; the chat page is read in xiaohongshu_chat.py (only the
conversations that moved since they were last read are opened; their
per-chat marks ride in the account's cursor). Comments and DMs fail
separately with typed errors. Replies go through the page UI. Login drives
the QR on the explore page and reads the states the page polls
(/api/qrcode/userinfo).

Everything assumed about the platform is in xiaohongshu_api.py and
xiaohongshu_im.py; docs/platforms.md says where each fact came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.browser.account_context import AccountContext
from worker.platforms import xiaohongshu_api as api
from worker.platforms import xiaohongshu_im as im
from worker.platforms.answers import Answer, query_param, seconds
from worker.platforms.base import AdapterContext, FetchResult
from worker.platforms.creator_centre import CreatorCentreAdapter
from worker.platforms.errors import AuthExpired, LayoutChanged, PlatformError, VerificationRequired
from worker.platforms.qr_login import FIND_QR_JS, LoginLook, LoginProbe
from worker.platforms.xiaohongshu_chat import ChatPage

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
    # a cycle opens the chats that moved (xiaohongshu_chat.py) and scrolls
    # for mentions: the monitor page is painted in full
    CYCLE_CLICKS = True
    CAPTURE_PATHS = (
        api.QR_CREATE_PATH,
        api.QR_STATUS_PATH,
        api.QR_USERINFO_PATH,
        api.ME_PATH,
        api.MENTIONS_PATH,
        api.COMMENT_POST_PATH,
        im.HISTORY_PATH,
    )  # and the chat list, matched by pattern (im.is_chats_path)
    SETTLE_S = 2.0  # how long an empty first mentions answer may be followed by another

    def __init__(self, config: common_pb2.AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self._self_id = config.user.platform_user_id
        self._self_name = config.user.nickname
        self._mention_order: list[str] = []  # comment ids in the page's display order
        self._mention_authors: dict[str, str] = {}
        self.chat = ChatPage(self)
        self._chat_marks: dict[str, int] = {}  # per chat: its mark when last read
        self._chat_marks_read: dict[str, int] | None = None  # set by a DM step that ran through

    # ------------------------------------------------------------ capture

    def _captured(self, path: str) -> bool:
        return super()._captured(path) or im.is_chats_path(path)

    async def _wait_for(
        self, wanted: Callable[[Answer], bool], within: float, after: Answer | None = None
    ) -> Answer | None:
        """The first captured answer `wanted` picks that came after `after`
        (since the page loaded when None): pages the page loaded one after
        the other are each taken once, in order. None when none came."""
        deadline = time.monotonic() + within
        while True:
            await self._settle()
            start = 0 if after is None else self._position(after) + 1
            found = [a for a in self._answers[start:] if wanted(a)]
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.05)

    def _position(self, answer: Answer) -> int:
        """Where `answer` is among those captured; -1 once a new page load dropped it."""
        return next((i for i, a in enumerate(self._answers) if a is answer), -1)

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

    async def fetch_new(self, cursor: str) -> FetchResult:
        """The base cycle, plus the per-chat marks of the DM step in the cursor
        (kept as they were when that step failed: its chats are read again)."""
        try:
            marks = {k: int(v) for k, v in json.loads(cursor or "{}").items()}
        except (ValueError, TypeError, AttributeError):
            marks = {}
        self._chat_marks = im.chat_marks(marks)
        self._chat_marks_read = None
        result = await super().fetch_new(cursor)
        if self._chat_marks_read is not None:
            merged = im.with_chat_marks(json.loads(result.cursor), self._chat_marks_read)
            result.cursor = json.dumps(merged, sort_keys=True)
        return result

    async def _comments(self, page: Page, mark: int, until: str = "") -> list[common_pb2.Item]:
        """The comments at or after `mark`; with `until`, stops paging once
        that comment is rendered (a reply looks for its entry with mark 0)."""
        await self._open(page, api.NOTIFICATION_URL)
        await self._check_user(page)  # the page asks user/me first; a guest is logged out
        answer = await self._first_mentions()
        self._mention_order = []
        out: list[common_pb2.Item] = []
        for pages in range(1, self.MAX_PAGES + 1):
            result = api.mentions_page(api.check_answer(answer, "mentions"))
            # What the page renders, in order: replies find their entry by it.
            self._mention_order += [api.mention_comment_id(r) for r in result.records]
            for record in result.records:
                if api.is_comment(record):
                    item = api.comment_item(self.account_id, record)
                    self._mention_authors[item.platform_item_id] = item.author_name
                    if item.created_at.seconds >= mark:
                        out.append(item)
            # Entries that are not comments (mention/item, deleted) still date the page.
            times = [seconds(r["time"]) for r in result.records]
            if until and until in self._mention_order:
                break
            if not result.has_more or not times or min(times) < mark:
                break
            if pages == self.MAX_PAGES:
                self._log("mentions: stopped after %d pages", pages)
                break
            answer = await self._scroll_for_mentions(page, answer)
        return out

    async def _first_mentions(self) -> Answer:
        """The page's own first mentions page (see api.first_mentions): once
        one came, a little longer for a fuller one when it was empty."""
        deadline = time.monotonic() + self.LOAD_TIMEOUT_S
        while (answer := api.first_mentions(self.answers(api.MENTIONS_PATH))) is None:
            if time.monotonic() >= deadline:
                raise LayoutChanged("the notification page loaded no " + api.MENTIONS_PATH)
            await asyncio.sleep(0.05)
            await self._settle()
        deadline = time.monotonic() + self.SETTLE_S
        while True:
            answer = api.first_mentions(self.answers(api.MENTIONS_PATH)) or answer
            body = answer.body if isinstance(answer.body, dict) else {}
            data = body.get("data")
            if not isinstance(data, dict) or data.get("message_list"):
                return answer  # entries, or an error or odd shape for check_answer
            if time.monotonic() >= deadline:
                return answer
            await asyncio.sleep(0.1)
            await self._settle()

    async def _scroll_for_mentions(self, page: Page, last: Answer) -> Answer:
        """The mentions page after `last`, loaded by the page itself when
        scrolled to its end (its own request, signed as the page signs them)."""
        await page.evaluate(api.SCROLL_TO_END_JS)

        def more(a: Answer) -> bool:
            return a.path.endswith(api.MENTIONS_PATH) and bool(query_param(a.url, "cursor"))

        answer = await self._wait_for(more, self.LOAD_TIMEOUT_S, after=last)
        if answer is None:
            raise LayoutChanged(
                "the notification page said has_more, but scrolling to its end loaded no "
                "further " + api.MENTIONS_PATH
            )
        return answer

    async def _dms(self, page: Page, mark: int, *, check_user: bool) -> list[common_pb2.Item]:
        items, self._chat_marks_read = await self.chat.read(
            page, mark, self._chat_marks, check_user=check_user
        )
        return items

    # ------------------------------------------------------------ replies

    async def _reply_comment(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        page = await self._monitor_page()
        if (
            urlsplit(page.url).path != urlsplit(api.NOTIFICATION_URL).path
            or target.platform_item_id not in self._mention_order
        ):
            await self._comments(page, 0, until=target.platform_item_id)  # learn its order
        if target.platform_item_id not in self._mention_order:
            raise PlatformError(
                f"comment {target.platform_item_id} is not on the notification page"
            )
        index = self._mention_order.index(target.platform_item_id)
        entries = page.locator(api.NOTIFICATION_ITEM)
        # rendered some time after the answer that listed them: wait, bounded
        with contextlib.suppress(PlaywrightTimeoutError):
            await entries.nth(index).wait_for(state="attached", timeout=self.LOAD_TIMEOUT_S * 1000)
        if await entries.count() <= index:
            raise LayoutChanged(
                f"the notification page renders {await entries.count()} entries "
                f"({api.NOTIFICATION_ITEM}); the answer has {len(self._mention_order)}"
            )
        entry = entries.nth(index)
        await entry.locator(api.REPLY_ACTION).first.click()
        box = entry.locator(api.REPLY_INPUT).first
        await box.wait_for(state="visible", timeout=self.LOAD_TIMEOUT_S * 1000)
        author = self._mention_authors.get(target.platform_item_id, "")
        hint = await box.get_attribute("placeholder") or ""
        if author and author not in hint:  # never answer the wrong person
            raise LayoutChanged(f"the reply box says {hint!r}, expected a reply to {author!r}")
        await box.fill(text)
        await entry.locator(api.REPLY_SUBMIT).first.click()
        try:  # the box closes once the platform took the reply
            await entry.locator(api.REPLY_INPUT).first.wait_for(
                state="detached", timeout=self.LOAD_TIMEOUT_S * 1000
            )
        except PlaywrightTimeoutError:
            raise PlatformError(
                "the reply box did not close: the reply was not confirmed"
            ) from None
        await self._settle()
        posted = self.answers(api.COMMENT_POST_PATH)
        if not posted:
            return ""
        return api.reply_comment_id(api.check_answer(posted[-1], "comment post"))

    async def _reply_dm(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        return await self.chat.reply(await self._monitor_page(), target.conversation_id, text)

    # ------------------------------------------------------------ login

    async def _session_cookie(self, actx: AccountContext) -> str:
        for cookie in await actx.context.cookies(api.WWW_ORIGIN):
            if cookie["name"] == api.SESSION_COOKIE:
                return str(cookie["value"])
        return ""

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
    """The QR on the explore page; scanned/expired from the QR state the page
    polls (/api/qrcode/userinfo codeStatus, or an older page's qrcode/status
    code_status; a state outside 0-3 fails the login as LayoutChanged) and
    the page's expiry text; logged in when the logged-in marker shows and the
    session cookie is no longer the guest's."""

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
        status = api.latest_qr_status(
            self.adapter.answers(api.QR_USERINFO_PATH, api.QR_STATUS_PATH)
        )
        return LoginLook(
            qr=state["qr"],
            qr_selector=state["qrSel"],
            qr_content=self.adapter._latest_qr_content(),
            scanned=status == api.QR_SCANNED,
            expired=status == api.QR_EXPIRED or state["expired"],
        )

    async def user(self, page: Page) -> common_pb2.UserInfo:
        return await self.adapter._login_user(page)
