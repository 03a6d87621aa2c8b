"""Plumbing shared by the browser-platform adapter tests: the worker's real
BrowserPool (optionally with every request routed to an in-test fixture
site), a SessionStore with a random key, the frame of a fixture site, and
small helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from playwright.async_api import Route

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.browser.account_context import AccountContext
from worker.browser.crypto import StateCipher
from worker.browser.pool import BrowserPool
from worker.browser.storage import SessionStore
from worker.platforms.base import AdapterContext
from worker.platforms.creator_centre import CreatorCentreAdapter
from worker.platforms.errors import PlatformError, merge_failures

Handler = Callable[[Route], Awaitable[None]]
Request = tuple[str, str, str, dict[str, str]]  # method, host, path, query


def cors_for(origin: str) -> dict[str, str]:
    """What a page on `origin` needs to read a credentialed answer from another host."""
    return {
        "access-control-allow-origin": origin,
        "access-control-allow-credentials": "true",
        "access-control-allow-headers": "content-type",
        "access-control-allow-methods": "GET, POST, OPTIONS",
    }


def fixture_loader(directory: Path) -> Callable[[str], Any]:
    """load(name): a JSON fixture of `directory`, parsed afresh each time."""

    def load(name: str) -> Any:
        return json.loads((directory / name).read_text(encoding="utf-8"))

    return load


class FixtureSite:
    """A platform as the browser sees it. Every routed request is recorded;
    one whose path a test put in `override` gets that answer, any other is
    answered by `answer`, which a platform's site implements."""

    cors: ClassVar[dict[str, str]] = {}  # added to overridden answers

    def __init__(self) -> None:
        # path -> (status, raw body, extra headers)
        self.override: dict[str, tuple[int, str, dict[str, str]]] = {}
        self.requests: list[Request] = []

    async def handle(self, route: Route) -> None:
        request = route.request
        url = urlsplit(request.url)
        query = dict(parse_qsl(url.query))
        self.requests.append((request.method, url.hostname or "", url.path, query))
        if url.path in self.override:
            status, raw, headers = self.override[url.path]
            await route.fulfill(
                status=status,
                body=raw,
                content_type="application/json",
                headers=self.cors | headers,
            )
            return
        cookies = cookies_of(await request.all_headers())
        await self.answer(route, url.hostname or "", url.path, query, cookies)

    async def answer(
        self, route: Route, host: str, path: str, query: dict[str, str], cookies: dict[str, str]
    ) -> None:
        raise NotImplementedError

    @staticmethod
    async def json_answer(route: Route, body: Any, status: int = 200, **headers: str) -> None:
        await route.fulfill(
            status=status,
            body=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
            headers=headers,
        )


class RoutedPool(BrowserPool):
    """The worker's real pool, with every context routed to the fixture site."""

    def __init__(self, handler: Handler, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.handler = handler
        self.routed: set[int] = set()

    async def context(self, *args: Any, **kwargs: Any) -> AccountContext:
        actx = await super().context(*args, **kwargs)
        if id(actx.context) not in self.routed:
            self.routed.add(id(actx.context))
            await actx.context.route("**/*", self.handler)
        return actx


@contextlib.asynccontextmanager
async def adapter_context(
    tmp_path: Path, worker_id: str, handler: Handler | None = None
) -> AsyncIterator[AdapterContext]:
    """What a worker lends an adapter, with a started browser; routed to
    `handler` when given, else the browser reaches loopback for real."""
    pool = RoutedPool(handler, worker_id, tmp_path) if handler else BrowserPool(worker_id, tmp_path)
    await pool.start()
    store = SessionStore(tmp_path, StateCipher(secrets.token_bytes(32)), worker_id)
    ctx = AdapterContext(
        worker_id=worker_id,
        data_dir=tmp_path,
        page_slots=asyncio.Semaphore(2),
        browser=pool,
        sessions=store,
    )
    try:
        yield ctx
    finally:
        await pool.close()


def monitor_config(
    account_id: str, platform: int, session: bytes = b"", **spec: Any
) -> common_pb2.AccountConfig:
    """An enabled account watching comments and DMs every second."""
    return common_pb2.AccountConfig(
        account_id=account_id,
        config_version=1,
        session=session,
        fingerprint_seed=account_id,
        spec=common_pb2.AccountSpec(
            platform=platform,
            enabled=True,
            monitor_interval_ms=1000,
            monitor_comments=True,
            monitor_direct_messages=True,
            **spec,
        ),
    )


def quick(adapter: CreatorCentreAdapter) -> None:
    """Shorter waits than production: fixture pages answer at once."""
    adapter.LOAD_TIMEOUT_S = 6.0
    adapter.QR_FIND_TIMEOUT_S = 10.0
    adapter.LOGIN_TIMEOUT_S = 60.0
    adapter.POLL_S = 0.1


def cookies_of(headers: dict[str, str]) -> dict[str, str]:
    """A request's cookies by name, from its Cookie header."""
    return dict(
        part.strip().split("=", 1) for part in headers.get("cookie", "").split(";") if "=" in part
    )


def screenshot_taken(path: str) -> bool:
    return bool(path) and Path(path).is_file() and Path(path).stat().st_size > 0


async def next_event(events: AsyncIterator[gateway_pb2.LoginEvent]) -> gateway_pb2.LoginEvent:
    return await asyncio.wait_for(anext(events), 20)


def by_id(items: Iterable[common_pb2.Item]) -> dict[str, common_pb2.Item]:
    return {i.platform_item_id: i for i in items}


async def cycle_failure(adapter: CreatorCentreAdapter, cursor: str = "") -> PlatformError:
    """How a cycle failed: the error it raised when no list delivered, else
    the failed steps' error (what the monitor shows as the account state)."""
    try:
        result = await adapter.fetch_new(cursor)
    except PlatformError as exc:
        return exc
    assert result.failures, "the cycle did not fail"
    return merge_failures(result.failures)
