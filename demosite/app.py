"""Wiring: one aiohttp application from a DemoConfig."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from demosite import admin, creator, live, login, rotation
from demosite.config import DemoConfig
from demosite.guards import CONFIG_KEY, STATE_KEY, ApiError
from demosite.live import HUB_KEY, LiveHub
from demosite.pages import STATIC_DIR
from demosite.state import DemoState, NotFound
from demosite.traffic import TRAFFIC_KEY, TrafficGenerator

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_ADMIN_PATHS = frozenset({"/admin/health"})


@web.middleware
async def typed_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """ApiError, unknown ids and bad values become JSON answers with an error slug."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except NotFound as exc:
        return ApiError("not_found", str(exc.args[0] if exc.args else exc)).response()
    except ValueError as exc:
        return ApiError("bad_request", str(exc)).response()


@web.middleware
async def admin_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.app[CONFIG_KEY].admin_token
    path = request.path
    if token and path.startswith("/admin/") and path not in OPEN_ADMIN_PATHS:
        given = request.headers.get("X-Admin-Token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError("unauthorized")
    return await handler(request)


def build_state(config: DemoConfig, clock: Callable[[], float] = time.time) -> DemoState:
    state = DemoState(
        seed=config.seed,
        clock=clock,
        qr_ttl=config.qr_ttl,
        sms_max_attempts=config.sms_max_attempts,
    )
    for i in range(1, config.users + 1):
        name = f"demo{i}"
        state.create_user(name, needs_sms=name in config.sms_users)
    return state


def create_app(
    config: DemoConfig | None = None,
    clock: Callable[[], float] = time.time,
    state: DemoState | None = None,
) -> web.Application:
    config = config or DemoConfig()
    state = state or build_state(config, clock)
    app = web.Application(middlewares=[typed_errors, admin_guard, rotation.rotate_session])
    app[CONFIG_KEY] = config
    app[STATE_KEY] = state
    hub = LiveHub(state)
    traffic = TrafficGenerator(state)
    app[HUB_KEY] = hub
    app[TRAFFIC_KEY] = traffic

    async def close_live(_: web.Application) -> None:
        await hub.close_all()

    async def stop_traffic(_: web.Application) -> None:
        await traffic.stop()

    app.on_shutdown.append(close_live)
    app.on_cleanup.append(stop_traffic)
    for table in (login.routes, creator.routes, live.routes, admin.routes, rotation.routes):
        app.router.add_routes(table)
    app.router.add_static("/static", STATIC_DIR)
    return app
