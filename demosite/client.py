"""The one client of the demo platform's admin API.

What a phone does there (scan a QR as a user, read the SMS code) and what
the demo, the tests and the benchmarks do (health, inject comments and DMs,
traffic) go through DemoAdmin; `call_sync` serves synchronous callers. The
admin token is sent as X-Admin-Token: the one given, else this host's
(demosite/token.py).
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from demosite import token as admin_token

TIMEOUT_S = 15.0


class DemoSiteError(RuntimeError):
    """The admin API answered with an error status."""

    def __init__(self, path: str, status: int, body: str) -> None:
        super().__init__(f"demo platform said {status} to {path}: {body[:200]}")
        self.path = path
        self.status = status


def qr_token(content: str) -> str:
    """The one-time token in a demo QR's confirm URL."""
    query = parse_qs(urlsplit(content).query)
    if query.get("token"):
        return query["token"][0]
    return content.split("token=", 1)[-1]


class DemoAdmin:
    def __init__(self, base: str, token: str | None = None, *, timeout_s: float = TIMEOUT_S):
        """token None: this host's admin token, if it has one; "" sends none
        (a site started with --open-admin)."""
        self.base = base.rstrip("/")
        if token is None:
            self.headers = admin_token.headers()
        else:
            self.headers = {admin_token.HEADER: token} if token else {}
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """GET path, or POST body as JSON; the decoded JSON answer."""
        async with (
            aiohttp.ClientSession(timeout=self.timeout, headers=self.headers) as http,
            http.request("GET" if body is None else "POST", self.base + path, json=body) as resp,
        ):
            text = await resp.text()
            if resp.status >= 400:
                raise DemoSiteError(path, resp.status, text)
            return json.loads(text) if text else None

    async def health(self) -> Any:
        return await self.call("/admin/health")

    async def wait_up(self, within_s: float = 30.0) -> None:
        """Raises TimeoutError when the site does not answer within within_s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            try:
                await self.health()
                return
            except (aiohttp.ClientError, OSError, DemoSiteError):
                if loop.time() > deadline:
                    message = f"the demo platform at {self.base} did not come up"
                    raise TimeoutError(message) from None
                await asyncio.sleep(0.3)

    async def scan(self, username: str, qr_content: str) -> Any:
        """What the phone does: confirm the QR's login as the user."""
        return await self.call("/admin/scan", {"username": username, "token": qr_token(qr_content)})

    async def sms_code(self, username: str) -> str:
        """The verification code the platform 'texted' to the user."""
        answer = await self.call(f"/admin/sms_code?username={username}")
        return str(answer["code"])

    async def traffic(self, per_minute: int) -> Any:
        return await self.call("/admin/traffic", {"on": per_minute > 0, "per_minute": per_minute})


def call_sync(
    base: str, path: str, body: dict[str, Any] | None = None, *, token: str | None = None
) -> Any:
    """DemoAdmin.call for synchronous code: run on a loop of its own thread,
    so it works whether or not the calling thread runs an event loop."""
    client = DemoAdmin(base, token)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-admin") as pool:
        return pool.submit(asyncio.run, client.call(path, body)).result()
