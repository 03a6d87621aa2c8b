"""Shared request plumbing: app keys, the session cookie, typed API errors, params."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from demosite.config import DemoConfig
from demosite.layout import Serializer
from demosite.models import User
from demosite.state import DemoState

STATE_KEY = web.AppKey("demosite_state", DemoState)
CONFIG_KEY = web.AppKey("demosite_config", DemoConfig)

SESSION_COOKIE = "demo_session"
UID_COOKIE = "demo_uid"

# slug -> (HTTP status, platform status_code, message)
ERRORS: dict[str, tuple[int, int, str]] = {
    "bad_request": (400, 1, "bad request"),
    "not_found": (404, 4, "not found"),
    "not_logged_in": (401, 8, "请先登录 (login required)"),
    "captcha_required": (403, 2154, "请完成安全验证 (captcha required)"),
    "rate_limited": (429, 2053, "操作太频繁，请稍后再试 (rate limited)"),
    "unauthorized": (401, 9, "admin token missing or wrong"),
    "server_error": (500, 5, "服务繁忙 (server error)"),
}
# The refusals the admin API can queue for one creator API (rotating error codes).
QUEUEABLE_ERRORS = ("not_logged_in", "captcha_required", "rate_limited", "server_error")
RETRY_AFTER_SECONDS = 30


class ApiError(Exception):
    """Raised by handlers; the app's middleware turns it into a JSON error answer."""

    def __init__(
        self, slug: str, message: str | None = None, http: int | None = None, **extra: Any
    ) -> None:
        super().__init__(message or ERRORS.get(slug, (0, 0, slug))[2])
        self.slug = slug
        self.message = message
        self.http = http
        self.extra = extra

    def response(self) -> web.Response:
        http, code, default = ERRORS.get(self.slug, (400, 1, self.slug))
        body = {
            "status_code": code,
            "status_msg": self.message or default,
            "error": self.slug,
            **self.extra,
        }
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if self.slug == "rate_limited" else None
        return web.json_response(body, status=self.http or http, headers=headers)


def state_of(request: web.Request) -> DemoState:
    return request.app[STATE_KEY]


def origin(request: web.Request) -> str:
    public = request.app[CONFIG_KEY].public_url
    return public.rstrip("/") if public else f"{request.scheme}://{request.host}"


def serializer(request: web.Request, user: User | None = None, admin: bool = False) -> Serializer:
    state = state_of(request)
    layout = "v1" if admin or user is None else state.layout_for(user)
    return Serializer(layout, origin(request))


def session_user(request: web.Request) -> User | None:
    state = state_of(request)
    session = state.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    return state.users.get(session.username)


def api_user(request: web.Request) -> User:
    """The logged-in user of a creator API call, or the typed refusal."""
    user = session_user(request)
    if user is None:
        raise ApiError("not_logged_in")
    user.counters[request.path] += 1
    if user.captcha:
        raise ApiError("captcha_required", verify_url="/captcha")
    if user.rate_limited:
        raise ApiError("rate_limited")
    queued = user.error_codes.get(request.path)
    if queued:  # the next of the codes queued for this API, one per call
        raise ApiError(queued.pop(0))
    return user


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError("bad_request", f"{name} must be an integer") from None
    return max(low, min(high, value))


async def body_of(request: web.Request) -> dict[str, Any]:
    """The request's JSON object or form fields, merged over its query string."""
    data: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                payload = await request.json()
            except ValueError:
                raise ApiError("bad_request", "body is not valid JSON") from None
            if not isinstance(payload, dict):
                raise ApiError("bad_request", "body must be a JSON object")
            data.update(payload)
        else:
            data.update(await request.post())
    return data


def flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
