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

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.browser.account_context import AccountContext
from worker.platforms import douyin_api as api
from worker.platforms.answers import Answer, query_param, with_params
from worker.platforms.base import (
    AdapterContext,
    AuthExpired,
    LayoutChanged,
    PlatformError,
    VerificationRequired,
)
from worker.platforms.creator_centre import (
    CreatorCentreAdapter,
    ListPage,
    expired_event,
    verification_event,
)

log = logging.getLogger(__name__)

DOUYIN_LOGIN_PROBE = """([qrSelectors, expiredTexts, scannedTexts, verifySel, verifyTitle,
                         smsOption, smsInput, sliders]) => {
  const visible = (el) => !!el && el.getClientRects().length > 0;
  const body = document.body ? document.body.innerText : '';
  let qr = '', qrSel = '';
  for (const sel of qrSelectors) {
    const el = document.querySelector(sel);
    if (visible(el) && el.getAttribute('src')) { qr = el.getAttribute('src'); qrSel = sel; break; }
  }
  const verifyBox = document.querySelector(verifySel);
  const verify = visible(verifyBox) || body.includes(verifyTitle);
  return {
    path: location.pathname, title: document.title, qr, qrSel,
    expired: expiredTexts.some((t) => body.includes(t)),
    scanned: scannedTexts.some((t) => body.includes(t)),
    verify,
    smsOption: verify && body.includes(smsOption),
    smsInput: visible(document.querySelector(smsInput)),
    slider: sliders.some((s) => visible(document.querySelector(s))),
    verifyText: verifyBox ? verifyBox.innerText.slice(0, 200) : '',
  };
}"""

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

    async def _login_flow(
        self, page: Page, actx: AccountContext, codes: asyncio.Queue[str]
    ) -> AsyncIterator[gateway_pb2.LoginEvent]:
        await self._goto(page, api.LOGIN_URL)
        started = time.monotonic()
        deadline = started + self.LOGIN_TIMEOUT_S
        shown, shown_at, qr_count, scanned, slider, attempts = "", 0.0, 0, False, False, 0
        while True:
            if time.monotonic() >= deadline:
                yield expired_event(f"no login within {self.LOGIN_TIMEOUT_S:.0f}s")
                return
            try:
                state = await page.evaluate(
                    DOUYIN_LOGIN_PROBE,
                    [
                        list(api.QR_IMAGE_SELECTORS),
                        list(api.QR_EXPIRED_TEXTS),
                        list(api.QR_SCANNED_TEXTS),
                        api.VERIFY_CONTAINER,
                        api.VERIFY_TITLE_TEXT,
                        api.SMS_OPTION_TEXT,
                        api.SMS_INPUT_SELECTOR,
                        list(api.SLIDER_SELECTORS),
                    ],
                )
            except PlaywrightError:  # navigating: look again
                await asyncio.sleep(self.POLL_S)
                continue
            if state["path"].startswith(api.HOME_PATH_PREFIX) and await self._has_session(actx):
                break
            if state["slider"] or api.CAPTCHA_PAGE_TITLE in state["title"]:
                if not slider:
                    slider = True
                    yield verification_event(
                        gateway_pb2.VERIFICATION_METHOD_SLIDER,
                        "slider captcha on the login page: an operator must solve it",
                    )
                await asyncio.sleep(self.POLL_S)
                continue
            slider = False
            if state["verify"]:
                if attempts >= self.MAX_CODE_ATTEMPTS:
                    yield gateway_pb2.LoginEvent(
                        failed=gateway_pb2.LoginFailed(
                            kind=common_pb2.ERROR_KIND_VERIFICATION,
                            reason=f"the SMS code was refused {attempts} times",
                        )
                    )
                    return
                attempts += 1
                async for event in self._sms_step(page, state, codes, deadline):
                    yield event
                continue
            stale = shown and time.monotonic() - shown_at > self.QR_LIFETIME_S
            if state["expired"] or stale:
                if qr_count >= self.MAX_QR:
                    yield expired_event(f"{qr_count} QR codes expired without a scan")
                    return
                self._log("QR expired; reloading the login page for a new one")
                await self._goto(page, api.LOGIN_URL)
                shown = ""
                continue
            if state["qr"] and state["qr"] != shown:
                png = await self._qr_png(page, state["qrSel"], state["qr"])
                yield gateway_pb2.LoginEvent(
                    qr=gateway_pb2.LoginQr(png=png, refresh_count=qr_count)
                )
                shown, shown_at, scanned = state["qr"], time.monotonic(), False
                qr_count += 1
            elif state["scanned"] and not scanned:
                scanned = True
                yield gateway_pb2.LoginEvent(scanned=gateway_pb2.LoginScanned())
            elif not shown and time.monotonic() - started > self.QR_FIND_TIMEOUT_S:
                raise LayoutChanged(
                    "no QR image on the login page (" + ", ".join(api.QR_IMAGE_SELECTORS) + ")"
                )
            await asyncio.sleep(self.POLL_S)
        # After the login the creator page asks for the user info itself.
        yield await self._success_event(actx, await self._check_user(page))

    async def _sms_step(
        self, page: Page, state: dict[str, Any], codes: asyncio.Queue[str], deadline: float
    ) -> AsyncIterator[gateway_pb2.LoginEvent]:
        box = page.locator(api.VERIFY_CONTAINER)
        if state["smsOption"] and not state["smsInput"]:
            await box.get_by_text(api.SMS_OPTION_TEXT).first.click()
        code_input = page.locator(api.SMS_INPUT_SELECTOR).first
        try:
            await code_input.wait_for(state="visible", timeout=10_000)
        except PlaywrightError:
            raise LayoutChanged(
                f"identity check without an SMS code input ({api.SMS_INPUT_SELECTOR})"
            ) from None
        send = box.get_by_text(api.SMS_SEND_TEXT, exact=True)
        if await send.count():
            await send.first.click()
        hint = " ".join((await box.inner_text()).split())[:80]
        yield verification_event(gateway_pb2.VERIFICATION_METHOD_SMS_CODE, hint)
        code = await asyncio.wait_for(codes.get(), max(1.0, deadline - time.monotonic()))
        await code_input.fill(code)
        await box.get_by_text(api.SMS_SUBMIT_TEXT, exact=True).last.click()
        # Wait for the answer: the box goes away (accepted) or the input empties/errs.
        for _ in range(40):
            await asyncio.sleep(self.POLL_S)
            try:
                if not await box.is_visible() or await code_input.input_value() != code:
                    break
            except PlaywrightError:
                break

    async def _has_session(self, actx: AccountContext) -> bool:
        cookies = await actx.context.cookies(api.CREATOR_ORIGIN)
        return any(c["name"] in api.SESSION_COOKIES and c["value"] for c in cookies)
