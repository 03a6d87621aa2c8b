"""Douyin (抖音), driven through the creator centre in the real browser.

Monitoring opens the creator centre's own pages in the account's context.
Comments: the comment page loads the account's works (response capture);
for works whose comment_count moved, the adapter builds the select list URL
itself and fetches it through the page (the account's cookies; never a
signature the page computed for another query), down to the cursor, then the
reply lists of comments whose reply count grew. DMs: the chat page loads the
IM host's answers, which are protobuf (douyin_im.py decodes them); when
their shape moves, the page's own IM store is read instead. Replies go
through the page UI only, a DM after checking the open conversation's title.
Login is the shared QR loop (qr_login.py) with Douyin's probe
(douyin_login.py).

Everything the adapter assumes about Douyin's URLs, selectors and answers is
in douyin_api.py and douyin_im.py; docs/platforms.md says where each fact
came from. The platform-neutral part (context, page, response capture,
paging, screenshots, error classification, the cycle's steps) is
creator_centre.py, shared with Xiaohongshu and the demo platform.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.browser.account_context import AccountContext
from worker.platforms import douyin_api as api
from worker.platforms import douyin_im as im
from worker.platforms.answers import Answer, raise_for_http_status
from worker.platforms.base import AdapterContext
from worker.platforms.creator_centre import CreatorCentreAdapter, ListPage
from worker.platforms.douyin_login import DouyinLoginProbe
from worker.platforms.errors import AuthExpired, LayoutChanged, PlatformError, VerificationRequired

log = logging.getLogger(__name__)

# True when a page shows the login form instead of the creator centre.
LOGGED_OUT_PROBE = """([qrSelectors, texts]) => {
  const visible = (el) => !!el && el.getClientRects().length > 0;
  if (qrSelectors.some((s) => visible(document.querySelector(s)))) return true;
  const body = document.body ? document.body.innerText : '';
  return texts.some((t) => body.includes(t));
}"""

# Marks the smallest element holding a comment's text, its author and a reply
# button, so a locator can address it (the DOM carries no comment ids).
MARK_COMMENT_JS = """([text, author, replyText]) => {
  for (const e of document.querySelectorAll('[data-hiscrm-target]')) {
    e.removeAttribute('data-hiscrm-target');
  }
  let best = null;
  for (const el of document.querySelectorAll('div, li, section, article')) {
    const t = el.innerText || '';
    if (!t.includes(text) || !t.includes(author)) continue;
    const hasReply = [...el.querySelectorAll('*')].some(
      (c) => (c.textContent || '').trim() === replyText);
    if (!hasReply) continue;
    if (!best || t.length < (best.innerText || '').length) best = el;
  }
  if (best) best.setAttribute('data-hiscrm-target', '1');
  return !!best;
}"""


class DouyinAdapter(CreatorCentreAdapter):
    platform = common_pb2.PLATFORM_DOUYIN
    CAPTURE_PATHS = (
        api.USER_INFO_PATH,
        api.WORK_LIST_PATH,
        *api.COMMENT_LIST_PATHS,
        api.COMMENT_REPLY_LIST_PATH,
        api.COMMENT_REPLY_PATH,
        *im.IM_PATHS,
        im.IM_USER_INFO_PATH,
    )
    MAX_WORKS = 20  # works whose comments are read in one cycle
    MAX_REPLY_LISTS = 20  # comments whose replies are read in one cycle; the rest wait
    HISTORY_WAIT_S = 1.0  # for the open conversation's history after the first IM answer

    def __init__(self, config: common_pb2.AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self._self_uid = config.user.platform_user_id
        # comment id -> (text, author nickname, work), for replies through the UI
        self._known_comments: dict[str, tuple[str, str, api.Work]] = {}
        self._dm_peers: dict[str, str] = {}  # conversation id -> peer nickname
        # What was read already: a work is read again only when its
        # comment_count moved, a comment's replies when its reply count grew.
        self._comment_counts: dict[str, int] = {}  # work post id -> comment_count
        self._reply_totals: dict[str, int] = {}  # comment id -> reply_comment_total

    # ------------------------------------------------------------ monitoring

    async def _open(self, page: Page, url: str) -> None:
        await self._goto(page, url)
        path = urlsplit(page.url).path
        if not path.startswith(api.HOME_PATH_PREFIX):
            raise AuthExpired(f"the creator centre sent us to {path} (the login page)")
        if await page.evaluate(
            LOGGED_OUT_PROBE, [list(api.QR_IMAGE_SELECTORS), list(api.LOGGED_OUT_TEXTS)]
        ):
            raise AuthExpired(f"{path} shows the login page (QR / '扫码登录'): session expired")
        if api.CAPTCHA_PAGE_TITLE in await page.title() or await self._slider_visible(page):
            raise VerificationRequired("the creator centre shows a captcha (slider)")

    async def _slider_visible(self, page: Page) -> bool:
        for selector in api.SLIDER_SELECTORS:
            if await page.locator(selector).count():
                return True
        return False

    async def _check_user(self, page: Page) -> common_pb2.UserInfo:
        """Every cycle proves the session: the user-info answer must be a success."""
        answer = await self._wait_answer([api.USER_INFO_PATH], self.LOAD_TIMEOUT_S / 3)
        if answer is None:
            answer = await self.page_fetch(page, api.CREATOR_ORIGIN + api.USER_INFO_PATH)
        user = api.user_info(api.check_answer(answer, "user info", proves_session=True))
        self._self_uid = user.platform_user_id
        return user

    async def _comments(self, page: Page, mark: int) -> list[common_pb2.Item]:
        await self._open(page, api.COMMENT_PAGE_URL)
        await self._check_user(page)  # every cycle proves the session first
        works_answer = await self._wait_answer([api.WORK_LIST_PATH], self.LOAD_TIMEOUT_S)
        if works_answer is None:
            raise LayoutChanged("the comment page loaded no work list (" + api.WORK_LIST_PATH + ")")
        works, _, _ = api.works_page(api.check_answer(works_answer, "work list"))
        moved = [
            w
            for w in works
            if w.comment_count > 0 and self._comment_counts.get(w.post_id) != w.comment_count
        ][: self.MAX_WORKS]
        items: list[common_pb2.Item] = []
        counts: dict[str, int] = {}
        totals: dict[str, int] = {}
        for work in moved:
            items += await self._work_comments(page, work, mark, totals)
            counts[work.post_id] = work.comment_count
        # Remembered only once the whole step succeeded: a failed step is read again.
        self._comment_counts.update(counts)
        self._reply_totals.update(totals)
        return items

    async def _work_comments(
        self, page: Page, work: api.Work, mark: int, totals: dict[str, int]
    ) -> list[common_pb2.Item]:
        """A work's comments down to the mark (the select list, built here and
        fetched in the page), then the replies of comments whose count grew."""
        grown: list[tuple[str, int]] = []

        def read(answer: Answer) -> ListPage:
            result = api.comments_page(api.check_answer(answer, "comment list"))
            uid = self._self_uid
            items = [api.comment_item(self.account_id, r, work, uid) for r in result.records]
            for record, item in zip(result.records, items, strict=True):
                self._remember(item, work)
                total = api.reply_count(record)
                if total > self._reply_totals.get(item.platform_item_id, 0):
                    grown.append((item.platform_item_id, total))
            more = api.comment_list_url(work, result.cursor) if result.has_more else None
            return ListPage(items, more)

        first = await self.page_fetch(page, api.comment_list_url(work, 0))
        what = f"comments of work {work.post_id}"
        items = await self._pages(page, first, read, mark, what)
        for parent, total in grown[: self.MAX_REPLY_LISTS - len(totals)]:
            items += await self._replies(page, work, parent, mark)
            totals[parent] = total
        return items

    async def _replies(
        self, page: Page, work: api.Work, parent: str, mark: int
    ) -> list[common_pb2.Item]:
        """Every page of one comment's replies (their order is not known to be
        newest first, so the mark filters instead of ending the paging)."""
        items: list[common_pb2.Item] = []
        url: str | None = api.reply_list_url(work, parent, 0)
        for _ in range(self.MAX_PAGES):
            if url is None:
                break
            result = api.comments_page(
                api.check_answer(await self.page_fetch(page, url), "reply list")
            )
            for record in result.records:
                item = api.comment_item(self.account_id, record, work, self._self_uid, parent)
                self._remember(item, work)
                if item.created_at.seconds >= mark:
                    items.append(item)
            url = api.reply_list_url(work, parent, result.cursor) if result.has_more else None
        return items

    def _remember(self, item: common_pb2.Item, work: api.Work) -> None:
        """Replies find the comment in the page by its text and author."""
        self._known_comments[item.platform_item_id] = (item.content, item.author_name, work)

    async def _dms(self, page: Page, mark: int, *, check_user: bool) -> list[common_pb2.Item]:
        await self._open(page, api.CHAT_PAGE_URL)
        if check_user:
            await self._check_user(page)
        await self._wait_answer([im.INIT_PATH], self.LOAD_TIMEOUT_S)
        # The conversation the page opens by itself loads its history just after.
        await self._wait_answer([im.BY_CONVERSATION_PATH], self.HISTORY_WAIT_S)
        names: dict[str, str] = {}
        for answer in self.answers(im.IM_USER_INFO_PATH):
            names.update(im.user_names(answer.body))
        store = await page.evaluate(im.IM_STORE_JS)
        try:
            messages = self._wire_messages()
        except LayoutChanged as wire_error:
            # The wire shape moved: the page's own IM store is the second source.
            self._log("IM answers not readable (%s); reading the IM store", wire_error)
            try:
                messages, store_names = im.store_messages(store)
            except LayoutChanged as store_error:
                raise LayoutChanged(f"{wire_error}; {store_error}") from None
            names.update(store_names)
        else:
            if store is not None:
                with contextlib.suppress(LayoutChanged):
                    names.update(im.store_messages(store)[1])
        items: dict[str, common_pb2.Item] = {}
        for message in messages:
            item = im.dm_item(self.account_id, message, self._self_uid, names)
            if not item.outgoing and item.author_name:
                self._dm_peers[item.conversation_id] = item.author_name
            if item.created_at.seconds >= mark:
                items.setdefault(item.platform_item_id, item)
        return list(items.values())

    def _wire_messages(self) -> list[im.ImMessage]:
        """The messages of every IM answer the chat page loaded."""
        answers = self.answers(*im.IM_PATHS)
        if not answers:
            paths = ", ".join(im.IM_PATHS)
            raise LayoutChanged(f"the chat page loaded no IM answer ({paths})")
        messages: list[im.ImMessage] = []
        for answer in answers:
            raise_for_http_status(answer, "IM answer")
            own, found = im.decode_answer(answer.raw)
            self._self_uid = self._self_uid or own
            messages += found
        return messages

    # ------------------------------------------------------------ replies

    async def _reply_comment(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        page = await self._monitor_page()
        if target.platform_item_id not in self._known_comments:
            # learn the comment's text and author: every work, moved or not
            self._comment_counts.clear()
            self._reply_totals.clear()
            await self._comments(page, 0)
        known = self._known_comments.get(target.platform_item_id)
        if known is None:
            raise PlatformError(
                f"comment {target.platform_item_id} is not on the creator centre any more"
            )
        content, author, work = known
        if urlsplit(page.url).path != urlsplit(api.COMMENT_PAGE_URL).path:
            await self._open(page, api.COMMENT_PAGE_URL)
        marked = [content, author, api.REPLY_BUTTON_TEXT]
        if not await page.evaluate(MARK_COMMENT_JS, marked):
            await self._select_work(page, work)  # the page shows one work's comments at a time
            try:
                # the list renders some time after its answer: wait for the
                # comment itself, not for a guessed delay
                await page.wait_for_function(
                    MARK_COMMENT_JS, arg=marked, polling=100, timeout=self.LOAD_TIMEOUT_S * 1000
                )
            except PlaywrightTimeoutError:
                raise LayoutChanged(
                    f"cannot find comment {target.platform_item_id} with a "
                    f"'{api.REPLY_BUTTON_TEXT}' button on the comment page"
                ) from None
        box = page.locator("[data-hiscrm-target]")
        await box.get_by_text(api.REPLY_BUTTON_TEXT, exact=True).first.click()
        editor = box.locator('[contenteditable="true"], textarea, input[type="text"]').first
        await editor.wait_for(state="visible", timeout=self.LOAD_TIMEOUT_S * 1000)
        await editor.fill(text)
        async with page.expect_response(
            lambda r: urlsplit(r.url).path.endswith(api.COMMENT_REPLY_PATH)
        ) as waiter:
            await box.get_by_text(api.SEND_BUTTON_TEXT, exact=True).first.click()
        response = await waiter.value
        raw = await response.text()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        answer = Answer(response.url, response.status, body, raw[:2000])
        return api.reply_id(api.check_answer(answer, "comment reply"))

    async def _select_work(self, page: Page, work: api.Work) -> None:
        """Open the work picker ('选择作品') and pick the work by its title."""
        picker = page.get_by_text("选择作品", exact=True)
        if not await picker.count() or not work.title:
            return
        await picker.first.click()
        await page.get_by_text(work.title, exact=True).last.click()

    async def _reply_dm(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        """Through the chat page's UI, never the IM API (accounts were logged
        out for sending through it): open the peer's conversation, check the
        open conversation's title is exactly the peer's name, then type."""
        page = await self._monitor_page()
        if target.conversation_id not in self._dm_peers:
            await self._dms(page, 0, check_user=False)
        peer = self._dm_peers.get(target.conversation_id)
        if peer is None:
            raise PlatformError(f"conversation {target.conversation_id} is not on the chat page")
        if urlsplit(page.url).path != urlsplit(api.CHAT_PAGE_URL).path:
            await self._open(page, api.CHAT_PAGE_URL)
        named = page.get_by_text(peer, exact=True)
        conversation = page.locator(api.DM_CONVERSATION_ITEM).filter(has=named)
        # the list renders after the page's own IM answers: wait for it, bounded
        with contextlib.suppress(PlaywrightTimeoutError):
            await conversation.first.wait_for(state="attached", timeout=self.LOAD_TIMEOUT_S * 1000)
        found = await conversation.count()
        if not found:
            raise LayoutChanged(f"no conversation item ({api.DM_CONVERSATION_ITEM}) for {peer}")
        if found > 1:
            raise PlatformError(f"{found} conversations are named {peer!r}: not guessing which")
        await conversation.first.click()
        title = page.locator(api.DM_CHAT_TITLE).first
        try:
            await title.wait_for(state="visible", timeout=self.LOAD_TIMEOUT_S * 1000)
        except PlaywrightError:
            raise LayoutChanged(f"no open conversation title ({api.DM_CHAT_TITLE})") from None
        shown = (await title.inner_text()).strip()
        if shown != peer:
            raise PlatformError(f"the open conversation is {shown!r}, not {peer!r}: nothing typed")
        editor = page.locator(api.DM_EDITOR).last
        await editor.wait_for(state="visible", timeout=self.LOAD_TIMEOUT_S * 1000)
        await editor.fill(text)
        await editor.press("Enter")
        # Sent when the text shows in the conversation and the editor is empty again.
        await page.wait_for_function(
            """([sel, text]) => {
                const eds = document.querySelectorAll(sel);
                const ed = eds[eds.length - 1];
                return ed && !(ed.innerText || ed.value || '').trim()
                    && document.body.innerText.includes(text);
            }""",
            arg=[api.DM_EDITOR, text],
            timeout=self.LOAD_TIMEOUT_S * 1000,
        )
        return ""

    # ------------------------------------------------------------ login

    def _login_probe(self, actx: AccountContext) -> DouyinLoginProbe:
        return DouyinLoginProbe(self, actx)
