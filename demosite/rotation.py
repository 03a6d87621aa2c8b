"""A rotating session cookie, switched on through the admin API.

    POST /admin/session_rotation {"every_s": 2, "grace_s": 20}   (every_s 0: off)
    GET  /admin/sessions?username=demo1

With rotation on, a browser's session cookie gets a new value on its first
request after `every_s` seconds (Set-Cookie on that response), and the old
value stops working `grace_s` seconds later. A client that restores an old
copy of its cookies after that is not logged in, as on platforms that rotate
theirs. The values are secrets: the admin API shows them, logs never do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from demosite.guards import SESSION_COOKIE, ApiError, body_of, state_of

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def rotate_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/admin/") or response.prepared:
        return response  # a prepared response (a WebSocket) can set no cookie
    if SESSION_COOKIE in response.cookies:
        return response  # the handler set one itself (login, logout)
    fresh = state_of(request).sessions.cookie_for(request.cookies.get(SESSION_COOKIE))
    if fresh is not None:
        response.set_cookie(SESSION_COOKIE, fresh, httponly=True, samesite="Lax", path="/")
    return response


def _seconds(data: dict[str, object], name: str, default: float) -> float:
    raw = data.get(name, default)
    try:
        # raw is any JSON value; float() refuses the wrong ones (TypeError, below).
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ApiError("bad_request", f"{name} must be a number of seconds") from None
    if value < 0:
        raise ApiError("bad_request", f"{name} must not be negative")
    return value


@routes.post("/admin/session_rotation")
async def session_rotation(request: web.Request) -> web.Response:
    sessions = state_of(request).sessions
    data = await body_of(request)
    sessions.rotate_every = _seconds(data, "every_s", 0.0)
    sessions.grace = _seconds(data, "grace_s", sessions.grace)
    log.info(
        "session rotation %s",
        f"every {sessions.rotate_every:g}s, old values work {sessions.grace:g}s"
        if sessions.rotate_every
        else "off",
    )
    return web.json_response(
        {
            "every_s": sessions.rotate_every,
            "grace_s": sessions.grace,
            "rotations": sessions.rotations,
        }
    )


@routes.get("/admin/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    state = state_of(request)
    user = state.user(request.query.get("username"))
    return web.json_response(
        {"username": user.username, "rotations": state.sessions.rotations}
        | state.sessions.describe(user.username)
    )
