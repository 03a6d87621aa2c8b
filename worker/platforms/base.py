"""What every platform adapter provides.

An adapter never swallows a failure: anything that goes wrong is raised as a
PlatformError (worker/platforms/errors.py) with an ErrorKind, which the
monitor turns into an account state the operator sees (invariant 3).
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.platforms.errors import PlatformError

if TYPE_CHECKING:
    from worker.browser.pool import BrowserPool
    from worker.browser.storage import SessionStore


@dataclass
class FetchResult:
    items: list[common_pb2.Item]
    cursor: str
    # Steps of the cycle that failed (step name, typed error) while others
    # delivered: their items are in `items`, the cursor advanced only for
    # what was read, and the monitor shows the failures as the account state.
    failures: list[tuple[str, PlatformError]] = field(default_factory=list)


@dataclass
class AdapterContext:
    """What the worker lends an adapter."""

    worker_id: str
    data_dir: Path
    page_slots: asyncio.Semaphore  # bounds concurrent page work on this worker
    browser: BrowserPool | None = None
    sessions: SessionStore | None = None
    extras: dict[str, object] = field(default_factory=dict)


class Adapter(ABC):
    """One account on one platform. Created on Assign, closed on Revoke."""

    platform: int = common_pb2.PLATFORM_UNSPECIFIED

    def __init__(self, config: common_pb2.AccountConfig, ctx: AdapterContext) -> None:
        self.config = config
        self.ctx = ctx
        # Set by the monitor: items that arrive between cycles (live channels).
        self.live_sink: Callable[[list[common_pb2.Item]], None] | None = None
        # Set by the monitor: a proxy check's result, for the operator to see.
        self.proxy_sink: Callable[[common_pb2.ProxyHealth], None] | None = None
        # Set by the login runner while a login owns the account's browser
        # context: the monitor holds its cycles meanwhile.
        self.logging_in = False

    @property
    def account_id(self) -> str:
        return self.config.account_id

    async def apply_config(self, config: common_pb2.AccountConfig) -> None:
        """Take a new config without restarting (proxy, session, options)."""
        self.config = config

    @staticmethod
    def newer_cursor(local: str, carried: str) -> str:
        """The further of this worker's cursor and the one the master carried
        over from the account's previous worker. Cursors are a number or a
        JSON object of numbers (compared key by key); anything else prefers
        the local one."""
        if not carried:
            return local
        if not local:
            return carried
        try:
            return str(max(int(local), int(carried)))
        except ValueError:
            pass
        try:
            a, b = json.loads(local), json.loads(carried)
            merged = {k: max(a.get(k, 0), b.get(k, 0)) for k in {*a, *b}}
            return json.dumps(merged, sort_keys=True)
        except (ValueError, TypeError, AttributeError):
            return local

    def needs_login(self) -> bool:
        """True when there is no session to monitor with."""
        return False

    def monitor_page(self) -> common_pb2.MonitorPage:
        """The account's monitor page as last measured (Heartbeat, the
        master's page figures); all 0 for an adapter without one."""
        return common_pb2.MonitorPage()

    @abstractmethod
    async def fetch_new(self, cursor: str) -> FetchResult:
        """Items newer than cursor, and the cursor to use next time."""

    async def login(
        self, session_id: str, codes: asyncio.Queue[str]
    ) -> AsyncGenerator[gateway_pb2.LoginEvent, None]:
        raise PlatformError(f"{type(self).__name__} has no login")
        yield  # pragma: no cover  (makes this an async generator)

    async def send_reply(self, target: gateway_pb2.ReplyTarget, text: str) -> str:
        raise PlatformError(f"{type(self).__name__} cannot reply")

    async def close(self) -> None:
        return None
