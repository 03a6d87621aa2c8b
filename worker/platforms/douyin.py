"""Douyin (抖音), driven through the creator centre in the real browser.

Monitoring opens the creator centre's own pages in the account's context and
reads the JSON those pages load (response interception): the comment page
loads the account's works and the comment list of a work, the chat page loads
the direct-message list. Further pages are fetched through the page itself
(same cookies, same signing the page applies to its own fetches), using the
URL the page used as the template, until the cursor. Replies go through the
page UI. Login drives the QR page, including the post-scan identity check.

Everything the adapter assumes about Douyin's URLs, selectors and JSON is in
douyin_api.py; docs/platforms.md says where each fact came from.

The platform-neutral part (context, page, response capture, paging,
screenshots, error classification, the login frame) is creator_centre.py,
shared with Xiaohongshu and the demo platform.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.browser.account_context import AccountContext
from worker.platforms import douyin_api as api
from worker.platforms.answers import Answer, query_param, with_params
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
        api.COMMENT_REPLY_PATH,
        *api.DM_PATHS,
    )
    MAX_WORKS = 20

    def __init__(self, config: common_pb2.AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self._self_uid = config.user.platform_user_id
        # comment id -> (text, author nickname, work), for replies through the UI
        self._known_comments: dict[str, tuple[str, str, api.Work]] = {}
        self._dm_peers: dict[str, str] = {}  # conversation id -> peer nickname

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
        user = api.user_info(api.check_answer(answer, "user info"))
        self._self_uid = user.platform_user_id
        return user

    async def _comments(self, page: Page, mark: int) -> list[common_pb2.Item]:
        await self._open(page, api.COMMENT_PAGE_URL)
        await self._check_user(page)  # every cycle proves the session first
        works_answer = await self._wait_answer([api.WORK_LIST_PATH], self.LOAD_TIMEOUT_S)
        if works_answer is None:
            raise LayoutChanged("the comment page loaded no work list (" + api.WORK_LIST_PATH + ")")
        works, _, _ = api.works_page(api.check_answer(works_answer, "work list"))
        with_comments = [w for w in works if w.comment_count > 0][: self.MAX_WORKS]
        if not with_comments:
            return []
        first = await self._wait_answer(api.COMMENT_LIST_PATHS, self.LOAD_TIMEOUT_S)
        if first is None:
            raise LayoutChanged("the comment page loaded no comment list for the works")
        items: list[common_pb2.Item] = []
        for work in with_comments:
            items += await self._work_comments(page, first.url, work, mark)
        return items

    async def _work_comments(
        self, page: Page, template: str, work: api.Work, mark: int
    ) -> list[common_pb2.Item]:
        answer = self._loaded_comments(work) or await self.page_fetch(
            page, api.comment_list_url(template, work, 0)
        )

        def read(answer: Answer) -> ListPage:
            result = api.comments_page(api.check_answer(answer, "comment list"))
            items = [api.comment_item(self.account_id, r, work) for r in result.records]
            for item in items:  # replies find the comment in the page by these
                self._known_comments[item.platform_item_id] = (item.content, item.author_name, work)
            more = api.comment_list_url(template, work, result.cursor)
            return ListPage(items, more if result.has_more else None)

        return await self._pages(page, answer, read, mark, f"comments of work {work.post_id}")

    def _loaded_comments(self, work: api.Work) -> Answer | None:
        """The first comment page the creator page loaded itself, for this work."""
        for answer in self.answers(*api.COMMENT_LIST_PATHS):
            ids = (query_param(answer.url, "item_id"), query_param(answer.url, "aweme_id"))
            if work.item_id in ids or work.post_id in ids:
                if query_param(answer.url, "cursor") in ("", "0"):
                    return answer
        return None

    async def _dms(self, page: Page, mark: int, *, check_user: bool) -> list[common_pb2.Item]:
        await self._open(page, api.CHAT_PAGE_URL)
        if check_user:
            await self._check_user(page)
        answer = await self._wait_answer(api.DM_PATHS, self.LOAD_TIMEOUT_S)
        if answer is None:
            raise LayoutChanged(
                "the chat page loaded no JSON message list (" + ", ".join(api.DM_PATHS) + ")"
            )

        def read(answer: Answer) -> ListPage:
            records, has_more, cursor = api.dm_page(api.check_answer(answer, "message list"))
            items = [api.dm_item(self.account_id, r, self._self_uid) for r in records]
            for item in items:  # replies find the conversation by its peer's name
                if not item.outgoing and item.author_name:
                    self._dm_peers[item.conversation_id] = item.author_name
            return ListPage(items, with_params(answer.url, cursor=cursor) if has_more else None)

        return await self._pages(page, answer, read, mark, "direct messages")

    # ------------------------------------------------------------ replies

    async def _reply_comment(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        page = await self._monitor_page()
        if target.platform_item_id not in self._known_comments:
            await self._comments(page, 0)  # learn the comment's text and author
        known = self._known_comments.get(target.platform_item_id)
        if known is None:
            raise PlatformError(
                f"comment {target.platform_item_id} is not on the creator centre any more"
            )
        content, author, work = known
        if urlsplit(page.url).path != urlsplit(api.COMMENT_PAGE_URL).path:
            await self._open(page, api.COMMENT_PAGE_URL)
        if not await page.evaluate(MARK_COMMENT_JS, [content, author, api.REPLY_BUTTON_TEXT]):
            await self._select_work(page, work)  # the page shows one work's comments at a time
            if not await page.evaluate(MARK_COMMENT_JS, [content, author, api.REPLY_BUTTON_TEXT]):
                raise LayoutChanged(
                    f"cannot find comment {target.platform_item_id} with a "
                    f"'{api.REPLY_BUTTON_TEXT}' button on the comment page"
                )
        box = page.locator("[data-hiscrm-target]")
        await box.get_by_text(api.REPLY_BUTTON_TEXT, exact=True).first.click()
        editor = box.locator('[contenteditable="true"], textarea, input[type="text"]').first
        await editor.wait_for(state="visible", timeout=10_000)
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
        await self._wait_answer(api.COMMENT_LIST_PATHS, self.LOAD_TIMEOUT_S)
        await page.wait_for_timeout(300)

    async def _reply_dm(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        page = await self._monitor_page()
        if target.conversation_id not in self._dm_peers:
            await self._dms(page, 0, check_user=False)
        peer = self._dm_peers.get(target.conversation_id)
        if peer is None:
            raise PlatformError(f"conversation {target.conversation_id} is not on the chat page")
        if urlsplit(page.url).path != urlsplit(api.CHAT_PAGE_URL).path:
            await self._open(page, api.CHAT_PAGE_URL)
        conversation = page.locator(api.DM_CONVERSATION_ITEM).filter(has_text=peer)
        if not await conversation.count():
            raise LayoutChanged(f"no conversation item ({api.DM_CONVERSATION_ITEM}) for {peer}")
        await conversation.first.click()
        editor = page.locator(api.DM_EDITOR).last
        await editor.wait_for(state="visible", timeout=10_000)
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
            timeout=10_000,
        )
        return ""

    # ------------------------------------------------------------ login

    def _login_probe(self, actx: AccountContext) -> DouyinLoginProbe:
        return DouyinLoginProbe(self, actx)
