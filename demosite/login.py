"""QR login: the login page, the QR PNG, the status poll, the phone's scan, SMS verify."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from demosite import pages, qr
from demosite.guards import (
    CONFIG_KEY,
    SESSION_COOKIE,
    UID_COOKIE,
    ApiError,
    body_of,
    flag,
    origin,
    serializer,
    session_user,
    state_of,
)
from demosite.models import LoginToken, User
from demosite.sessions import LoginError
from demosite.state import DemoState

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def new_token(request: web.Request) -> LoginToken:
    base = origin(request)
    return state_of(request).logins.new(lambda t: f"{base}/api/login/scan?token={t}")


def token_json(state: DemoState, token: LoginToken) -> dict[str, Any]:
    return {
        "status_code": 0,
        "token": token.token,
        "status": token.status,
        "qr_url": f"/api/login/qr.png?token={token.token}",
        "confirm_url": token.confirm_url,
        "expires_at": token.expires_at,
        "expires_in": round(max(0.0, token.expires_at - state.clock()), 3),
    }


def _login_error(exc: LoginError, **extra: Any) -> ApiError:
    return ApiError(exc.code, exc.message, http=exc.http, **extra)


def _set_session(response: web.Response, session_id: str, user: User) -> None:
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="Lax", path="/")
    response.set_cookie(UID_COOKIE, user.user_id, samesite="Lax", path="/")


def _confirmed_response(request: web.Request, token: LoginToken) -> web.Response:
    state = state_of(request)
    user = state.user(token.username)
    body = token_json(state, token) | {
        "user": serializer(request).user(user),
        "redirect": "/creator",
    }
    response = web.json_response(body)
    if token.session_id:
        _set_session(response, token.session_id, user)
    return response


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/creator")


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    if session_user(request) is not None and not flag(request.query.get("force", "")):
        raise web.HTTPFound("/creator")
    state = state_of(request)
    token = new_token(request)
    info = token_json(state, token)
    config = info | {"poll_ms": request.app[CONFIG_KEY].login_poll_ms, "ttl": state.logins.ttl}
    return pages.html_response(
        "login.html",
        config,
        TOKEN=token.token,
        QR_SRC=info["qr_url"],
        EXPIRES_AT=str(token.expires_at),
    )


@routes.get("/logout")
async def logout(request: web.Request) -> web.Response:
    """Ends this browser's session only (admin expire_session ends them all)."""
    state_of(request).sessions.drop(request.cookies.get(SESSION_COOKIE))
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(UID_COOKIE, path="/")
    raise response


@routes.post("/api/login/qr")
async def new_qr(request: web.Request) -> web.Response:
    """A fresh token; the login page calls this when its QR expired."""
    return web.json_response(token_json(state_of(request), new_token(request)))


@routes.get("/api/login/qr.png")
async def qr_png(request: web.Request) -> web.Response:
    token = state_of(request).logins.get(request.query.get("token"))
    if token is None:
        raise ApiError("not_found", "unknown login token")
    return web.Response(
        body=qr.render_png(token.confirm_url),
        content_type="image/png",
        headers={"Cache-Control": "no-store"},
    )


@routes.get("/api/login/status")
async def status(request: web.Request) -> web.Response:
    state = state_of(request)
    try:
        token = state.logins.require(request.query.get("token"))
    except LoginError as exc:
        raise _login_error(exc) from None
    if token.status == "confirmed":
        return _confirmed_response(request, token)
    body = token_json(state, token)
    if token.status == "verify" and token.username:
        body["phone"] = state.user(token.username).masked_phone
        body["attempts_left"] = state.logins.max_attempts - token.attempts
    return web.json_response(body)


@routes.get("/api/login/scan")
async def phone_page(request: web.Request) -> web.Response:
    """What a phone sees when it opens the QR's URL: pick the account, confirm."""
    return pages.html_response("scan.html", TOKEN=request.query.get("token", ""))


@routes.post("/api/login/scan")
async def scan(request: web.Request) -> web.Response:
    state = state_of(request)
    data = await body_of(request)
    user = state.user(str(data.get("user") or data.get("username") or ""))
    try:
        token = state.logins.scan(data.get("token"), user, confirm=flag(data.get("confirm", "1")))
    except LoginError as exc:
        raise _login_error(exc) from None
    return web.json_response(token_json(state, token))


@routes.post("/api/login/confirm")
async def confirm(request: web.Request) -> web.Response:
    """The phone's second step after a scan made with confirm=0."""
    state = state_of(request)
    data = await body_of(request)
    token = state.logins.get(data.get("token"))
    try:
        if token is None or token.username is None:
            raise LoginError("unknown_token", 404, "unknown or unscanned login token")
        state.logins.confirm(token.token, state.user(token.username))
    except LoginError as exc:
        raise _login_error(exc) from None
    return web.json_response(token_json(state, token))


@routes.post("/api/login/verify")
async def verify(request: web.Request) -> web.Response:
    state = state_of(request)
    data = await body_of(request)
    token = state.logins.get(data.get("token"))
    try:
        if token is None or token.username is None:
            raise LoginError("unknown_token", 404, "unknown login token")
        state.logins.verify(token.token, state.user(token.username), str(data.get("code", "")))
    except LoginError as exc:
        left = state.logins.max_attempts - token.attempts if token else 0
        raise _login_error(exc, status=token.status if token else "", attempts_left=left) from None
    return _confirmed_response(request, token)
