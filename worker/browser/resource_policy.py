"""What a monitoring context does not download: images, media, fonts and
telemetry hosts.

Monitoring reads JSON (captured responses, fetches made inside the page) and
the live WebSocket; pictures, video, fonts and analytics beacons only cost
renderer memory, decode CPU and bandwidth per account. A login is different:
its QR code is an image the operator must see, so while a login runs on an
account (the pool's `logins`), nothing of that account's context is blocked.

    install_policy(context, account_id, login_running=lambda: account_id in pool.logins)

Routing is per BrowserContext; a request is decided when Chromium asks, so
the same context blocks again as soon as its login ended and the monitor
page opens. Blocked requests fail with net::ERR_BLOCKED_BY_CLIENT, the error
an ad blocker gives, which pages already handle. WebSockets are not routed.

HISCRM_RESOURCE_POLICY=off turns blocking off (a platform whose monitoring
turns out to need one of these; a bench comparing both); the telemetry host
list is extended with HISCRM_BLOCK_HOSTS (comma-separated host suffixes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Request, Route
from playwright.async_api import Error as PlaywrightError

from hiscrm_common import config_model

log = logging.getLogger(__name__)

# Playwright's request.resource_type values monitoring never needs.
BLOCKED_TYPES = frozenset({"image", "media", "font"})
# Performance and analytics beacons only (host suffixes). Hosts that carry
# risk-control or request signing (Xiaohongshu's t2 collector, Douyin's
# security SDK hosts) are deliberately left alone: a session that stops
# sending those may look like a bot. The hosts are those public ad-block and
# proxy rule lists name as log/APM/analytics endpoints of these sites.
TELEMETRY_HOSTS = (
    "mcs.snssdk.com",
    "log.snssdk.com",
    "mon.snssdk.com",
    "mon.zijieapi.com",
    "apm-fe.xiaohongshu.com",
    "apm-track.xiaohongshu.com",
    "google-analytics.com",
    "googletagmanager.com",
    "hm.baidu.com",
)


def enabled() -> bool:
    return config_model.get().resource_policy


def telemetry_hosts() -> tuple[str, ...]:
    extra = config_model.get().block_hosts
    return TELEMETRY_HOSTS + tuple(h.strip().lower() for h in extra.split(",") if h.strip())


def is_telemetry(url: str, hosts: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in hosts)


def blocked(resource_type: str, url: str, hosts: tuple[str, ...]) -> bool:
    """True when a monitoring page does not need this request."""
    if url.startswith("data:"):
        return False  # inline, nothing is fetched
    return resource_type in BLOCKED_TYPES or is_telemetry(url, hosts)


class ResourcePolicy:
    """The route handler of one account's context; counts what it blocked."""

    def __init__(self, account_id: str, login_running: Callable[[], bool]) -> None:
        self.account_id = account_id
        self.login_running = login_running
        self.hosts = telemetry_hosts()
        self.blocked = 0
        self.passed = 0

    async def handle(self, route: Route, request: Request) -> None:
        try:
            if not self.login_running() and blocked(request.resource_type, request.url, self.hosts):
                self.blocked += 1
                await route.abort("blockedbyclient")
                return
            self.passed += 1
            # fallback, not continue_: a route another part of the worker
            # adds later (a test's, a platform's) still sees the request
            await route.fallback()
        except PlaywrightError:
            # the page or context closed while the request was in flight
            log.debug("account %s: route for a closed page", self.account_id)


async def install_policy(
    context: BrowserContext, account_id: str, login_running: Callable[[], bool]
) -> ResourcePolicy | None:
    """Route the context's requests through a ResourcePolicy (None when off)."""
    if not enabled():
        return None
    policy = ResourcePolicy(account_id, login_running)
    await context.route("**/*", policy.handle)
    return policy
