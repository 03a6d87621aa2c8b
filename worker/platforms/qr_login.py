"""The one QR-login loop every browser platform shares.

A platform says what its login page shows through a small probe object
(`LoginProbe`): how to open the page, one `look` at it (which QR is shown,
scanned, expired, a captcha, an SMS identity check, refused, logged in), how
to get the QR as PNG bytes, how to answer the SMS check and who logged in.
The loop turns the looks into LoginEvents: a QR each time the shown QR
changes, "scanned" once per QR, a verification request once per captcha,
a new page when the QR expired (a bounded number of times), and the success
event once the probe sees the account logged in.
"""

from __future__ import annotations

import asyncio
import base64
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.platforms.errors import LayoutChanged

# The start of a probe's look at its login page: `visible`, and the first
# visible image of `qrSelectors` with a src (`qr`, and its selector `qrSel`).
FIND_QR_JS = """
  const visible = (el) => !!el && el.getClientRects().length > 0;
  let qr = '', qrSel = '';
  for (const sel of qrSelectors) {
    const el = document.querySelector(sel);
    if (visible(el) && el.getAttribute('src')) { qr = el.getAttribute('src'); qrSel = sel; break; }
  }
"""


@dataclass
class LoginLook:
    """One look at the login page."""

    qr: str = ""  # what identifies the QR on show (image src, token); "" when none is
    qr_selector: str = ""  # where it is, for a screenshot of it
    qr_content: str = ""  # the URL the QR encodes, when the platform tells
    scanned: bool = False
    expired: bool = False  # the page says the QR expired: a new page brings a new one
    captcha: str = ""  # not empty: a captcha only a person can pass (the hint for them)
    sms: bool = False  # the identity check asks for an SMS code (see LoginProbe.sms_step)
    failed: str = ""  # not empty: the platform refused the login (why)
    success: bool = False  # logged in: the loop asks the probe for the user
    extra: dict[str, Any] = field(default_factory=dict)  # the probe's own, for its sms_step


class LoginProbe(ABC):
    """What one platform's QR login page shows; the loop does the rest."""

    # Named in the LayoutChanged raised when no QR shows up.
    qr_selectors: tuple[str, ...] = ()
    # A QR older than this is replaced by opening the page again; None when
    # the page renews its own QR.
    qr_lifetime_s: float | None = 150.0
    # True when the platform itself refuses the login after its own number of
    # wrong codes (a look then says failed): the loop does not count them.
    counts_code_attempts: bool = False

    @abstractmethod
    async def open(self, page: Page) -> None:
        """Go to the login page (also to get a new QR after an expiry)."""

    @abstractmethod
    async def look(self, page: Page) -> LoginLook:
        """What the page shows now. A PlaywrightError means it is navigating."""

    @abstractmethod
    async def user(self, page: Page) -> common_pb2.UserInfo:
        """Who logged in, once a look said success."""

    async def qr_png(self, page: Page, look: LoginLook) -> bytes:
        """The QR as PNG bytes: decoded from a data: URL, else a screenshot of it."""
        src = look.qr
        if src.startswith("data:image") and ";base64," in src:
            try:
                return base64.b64decode(src.split(",", 1)[1])
            except ValueError:
                pass
        return await page.locator(look.qr_selector).first.screenshot()

    def sms_step(
        self, page: Page, look: LoginLook, codes: asyncio.Queue[str], deadline: float
    ) -> AsyncIterator[gateway_pb2.LoginEvent]:
        """Ask for the code (a verification event), wait for it, enter it."""
        raise LayoutChanged(f"{type(self).__name__}: an SMS check this platform never showed")


@dataclass(frozen=True)
class LoginLimits:
    timeout_s: float = 300.0
    qr_find_timeout_s: float = 20.0  # no QR by then: the page changed
    max_qr: int = 6  # QR codes shown in one login before it is given up
    max_code_attempts: int = 3
    poll_s: float = 0.25


def expired_event(reason: str) -> gateway_pb2.LoginEvent:
    return gateway_pb2.LoginEvent(expired=gateway_pb2.LoginExpired(reason=reason))


def verification_event(
    method: gateway_pb2.VerificationMethod, hint: str = ""
) -> gateway_pb2.LoginEvent:
    return gateway_pb2.LoginEvent(
        verification_required=gateway_pb2.LoginVerificationRequired(method=method, hint=hint)
    )


def failed_event(reason: str) -> gateway_pb2.LoginEvent:
    return gateway_pb2.LoginEvent(
        failed=gateway_pb2.LoginFailed(kind=common_pb2.ERROR_KIND_VERIFICATION, reason=reason)
    )


async def qr_login(
    probe: LoginProbe,
    page: Page,
    codes: asyncio.Queue[str],
    limits: LoginLimits,
    succeed: Callable[[common_pb2.UserInfo], Awaitable[gateway_pb2.LoginEvent]],
    log: Callable[[str], None],
) -> AsyncIterator[gateway_pb2.LoginEvent]:
    """The login's events, ending with success, expired or failed."""
    await probe.open(page)
    started = time.monotonic()
    deadline = started + limits.timeout_s
    shown, shown_at, qr_count, scanned, captcha, attempts = "", 0.0, 0, False, False, 0
    while True:
        if time.monotonic() >= deadline:
            yield expired_event(f"no login within {limits.timeout_s:.0f}s")
            return
        try:
            look = await probe.look(page)
        except PlaywrightError:  # navigating: look again
            await asyncio.sleep(limits.poll_s)
            continue
        if look.success:
            break
        if look.failed:
            yield failed_event(look.failed)
            return
        if look.captcha:
            if not captcha:
                captcha = True
                yield verification_event(gateway_pb2.VERIFICATION_METHOD_SLIDER, look.captcha)
            await asyncio.sleep(limits.poll_s)
            continue
        captcha = False
        if look.sms:
            if attempts >= limits.max_code_attempts and not probe.counts_code_attempts:
                yield failed_event(f"the SMS code was refused {attempts} times")
                return
            attempts += 1
            async for event in probe.sms_step(page, look, codes, deadline):
                yield event
            continue
        lifetime = probe.qr_lifetime_s
        stale = bool(shown) and lifetime is not None and time.monotonic() - shown_at > lifetime
        if look.expired or stale:
            if qr_count >= limits.max_qr:
                yield expired_event(f"{qr_count} QR codes expired without a scan")
                return
            log("QR expired; opening the login page again for a new one")
            await probe.open(page)
            shown = ""
            continue
        if look.qr and look.qr != shown:
            png = await probe.qr_png(page, look)
            yield gateway_pb2.LoginEvent(
                qr=gateway_pb2.LoginQr(png=png, content=look.qr_content, refresh_count=qr_count)
            )
            shown, shown_at, scanned = look.qr, time.monotonic(), False
            qr_count += 1
        elif look.scanned and not scanned:
            scanned = True
            yield gateway_pb2.LoginEvent(scanned=gateway_pb2.LoginScanned())
        elif not shown and time.monotonic() - started > limits.qr_find_timeout_s:
            raise LayoutChanged(
                "no QR image on the login page (" + ", ".join(probe.qr_selectors) + ")"
            )
        await asyncio.sleep(limits.poll_s)
    yield await succeed(await probe.user(page))
