"""Douyin's QR login page, as a probe for the shared loop (qr_login.py).

The creator centre's login page shows the QR; after the scan it may ask for
an identity check (SMS code, chosen in a second-verify box) or show a slider
captcha; the login has landed when the page is a creator-centre page and the
session cookies are set. Selectors and texts are in douyin_api.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.browser.account_context import AccountContext
from worker.platforms import douyin_api as api
from worker.platforms.errors import LayoutChanged
from worker.platforms.qr_login import FIND_QR_JS, LoginLook, LoginProbe, verification_event

if TYPE_CHECKING:
    from worker.platforms.douyin import DouyinAdapter

LOGIN_PAGE_JS = (
    """([qrSelectors, expiredTexts, scannedTexts, verifySel, verifyTitle,
                         smsOption, smsInput, sliders]) => {
"""
    + FIND_QR_JS
    + """  const body = document.body ? document.body.innerText : '';
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
  };
}"""
)


class DouyinLoginProbe(LoginProbe):
    qr_selectors = api.QR_IMAGE_SELECTORS

    def __init__(self, adapter: DouyinAdapter, actx: AccountContext) -> None:
        self.adapter = adapter
        self.actx = actx

    async def open(self, page: Page) -> None:
        await self.adapter._goto(page, api.LOGIN_URL)

    async def look(self, page: Page) -> LoginLook:
        state = await page.evaluate(
            LOGIN_PAGE_JS,
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
        if state["path"].startswith(api.HOME_PATH_PREFIX) and await self._has_session():
            return LoginLook(success=True)
        captcha = ""
        if state["slider"] or api.CAPTCHA_PAGE_TITLE in state["title"]:
            captcha = "slider captcha on the login page: an operator must solve it"
        return LoginLook(
            qr=state["qr"],
            qr_selector=state["qrSel"],
            scanned=state["scanned"],
            expired=state["expired"],
            captcha=captcha,
            sms=state["verify"],
            extra={"smsOption": state["smsOption"], "smsInput": state["smsInput"]},
        )

    async def user(self, page: Page) -> common_pb2.UserInfo:
        # After the login the creator page asks for the user info itself.
        return await self.adapter._check_user(page)

    async def sms_step(
        self, page: Page, look: LoginLook, codes: asyncio.Queue[str], deadline: float
    ) -> AsyncIterator[gateway_pb2.LoginEvent]:
        box = page.locator(api.VERIFY_CONTAINER)
        if look.extra["smsOption"] and not look.extra["smsInput"]:
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
            await asyncio.sleep(self.adapter.POLL_S)
            try:
                if not await box.is_visible() or await code_input.input_value() != code:
                    break
            except PlaywrightError:
                break

    async def _has_session(self) -> bool:
        cookies = await self.actx.context.cookies(api.CREATOR_ORIGIN)
        return any(c["name"] in api.SESSION_COOKIES and c["value"] for c in cookies)
