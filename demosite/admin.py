"""The admin API: make users, inject items, read replies, switch faults on and off.

JSON in, JSON out, always in v1 shapes. Guarded by X-Admin-Token when the
site runs with --admin-token (see app.py); /admin/health is always open.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from demosite import seed as content
from demosite.guards import (
    QUEUEABLE_ERRORS,
    ApiError,
    body_of,
    flag,
    int_param,
    serializer,
    state_of,
)
from demosite.layout import Serializer
from demosite.live import HUB_KEY
from demosite.login import new_token, token_json
from demosite.models import User
from demosite.sessions import LoginError
from demosite.state import page_newest_first
from demosite.traffic import TRAFFIC_KEY

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def _user_json(ser: Serializer, user: User) -> dict[str, Any]:
    return ser.user(user) | {
        "needs_sms": user.needs_sms,
        "captcha": user.captcha,
        "rate_limited": user.rate_limited,
        "layout": user.layout,
        "posts": [ser.post(p) for p in reversed(user.posts)],
        "conversations": [c.conversation_id for c in user.conversations],
        "comment_count": len(user.all_comments),
        "message_count": len(user.all_messages),
        "reply_count": len(user.replies),
        "counters": dict(user.counters),
    }


async def _user_from_body(request: web.Request) -> tuple[User, dict[str, Any]]:
    data = await body_of(request)
    return state_of(request).user(str(data.get("username") or "")), data


async def _toggle(request: web.Request, attr: str, what: str) -> web.Response:
    """Switch one of a user's flags from {"username", "on"} (default on)."""
    user, data = await _user_from_body(request)
    setattr(user, attr, flag(data.get("on", True)))
    on = bool(getattr(user, attr))
    log.info("%s %s for %s", what, "on" if on else "off", user.username)
    return web.json_response({"username": user.username, attr: on})


@routes.get("/admin/health")
async def health(request: web.Request) -> web.Response:
    state = state_of(request)
    return web.json_response(
        {
            "ok": True,
            "seed": state.seed,
            "users": len(state.users),
            "sessions": len(state.sessions),
            "live_connections": request.app[HUB_KEY].count(),
            "layout": state.layout,
            "traffic": request.app[TRAFFIC_KEY].status(),
            "uptime": round(state.clock() - state.started_at, 3),
        }
    )


@routes.get("/admin/users")
async def list_users(request: web.Request) -> web.Response:
    ser = serializer(request, admin=True)
    users = state_of(request).users.values()
    return web.json_response({"users": [_user_json(ser, u) for u in users]})


@routes.get("/admin/users/{username}")
async def get_user(request: web.Request) -> web.Response:
    user = state_of(request).user(request.match_info["username"])
    return web.json_response(_user_json(serializer(request, admin=True), user))


@routes.post("/admin/users")
async def create_user(request: web.Request) -> web.Response:
    state = state_of(request)
    data = await body_of(request)
    username = str(data.get("username") or "").strip()
    if not username:
        raise ApiError("bad_request", "username is required")
    if username in state.users:
        raise ApiError("bad_request", f"user {username!r} exists", http=409)
    user = state.create_user(
        username,
        nickname=str(data["nickname"]) if data.get("nickname") else None,
        needs_sms=flag(data.get("needs_sms", False)),
        sms_code=str(data["sms_code"]) if data.get("sms_code") else None,
        posts=int(data.get("posts", 3)),
        conversations=int(data.get("conversations", 3)),
    )
    return web.json_response(_user_json(serializer(request, admin=True), user), status=201)


@routes.post("/admin/comments")
async def inject_comment(request: web.Request) -> web.Response:
    user, data = await _user_from_body(request)
    state = state_of(request)
    item = state.add_comment(
        user,
        str(data.get("text") or state.rng.choice(content.COMMENT_TEXTS)),
        post_id=str(data["post_id"]) if data.get("post_id") else None,
        author_name=str(data["author_name"]) if data.get("author_name") else None,
    )
    return web.json_response({"comment": serializer(request, admin=True).comment(item)}, status=201)


@routes.get("/admin/comments")
async def list_comments(request: web.Request) -> web.Response:
    state = state_of(request)
    user = state.user(request.query.get("username"))
    post_id = request.query.get("post_id")
    items = state.post(user, post_id).comments if post_id else user.all_comments
    chunk, cursor, more = page_newest_first(
        items, int_param(request, "cursor", 0, 0, 2**62), int_param(request, "count", 50, 1, 1000)
    )
    return web.json_response(
        serializer(request, admin=True).comments_page(chunk, cursor, more, len(items))
    )


@routes.post("/admin/messages")
async def inject_message(request: web.Request) -> web.Response:
    user, data = await _user_from_body(request)
    state = state_of(request)
    item = state.add_message(
        user,
        str(data.get("text") or state.rng.choice(content.MESSAGE_TEXTS)),
        conversation_id=str(data["conversation_id"]) if data.get("conversation_id") else None,
        from_name=str(data["from_name"]) if data.get("from_name") else None,
    )
    return web.json_response({"message": serializer(request, admin=True).message(item)}, status=201)


@routes.get("/admin/messages")
async def list_messages(request: web.Request) -> web.Response:
    state = state_of(request)
    user = state.user(request.query.get("username"))
    conversation_id = request.query.get("conversation_id")
    items = (
        state.conversation(user, conversation_id).messages if conversation_id else user.all_messages
    )
    chunk, cursor, more = page_newest_first(
        items, int_param(request, "cursor", 0, 0, 2**62), int_param(request, "count", 50, 1, 1000)
    )
    ser = serializer(request, admin=True)
    return web.json_response(
        {
            "messages": [ser.message(m) for m in chunk],
            "cursor": cursor,
            "has_more": more,
            "total": len(items),
        }
    )


@routes.get("/admin/replies")
async def list_replies(request: web.Request) -> web.Response:
    state = state_of(request)
    name = request.query.get("username")
    users = [state.user(name)] if name else list(state.users.values())
    rows = [Serializer.reply(r) for u in users for r in u.replies]
    rows.sort(key=lambda r: r["create_time"])  # stable: creation order per user
    return web.json_response({"replies": rows})


@routes.post("/admin/expire_session")
async def expire_session(request: web.Request) -> web.Response:
    user, _ = await _user_from_body(request)
    return web.json_response(
        {"username": user.username, "expired": state_of(request).expire_sessions(user.username)}
    )


@routes.post("/admin/live/drop")
async def drop_live(request: web.Request) -> web.Response:
    """Cut the user's live channels (the pages are expected to reconnect)."""
    user, _ = await _user_from_body(request)
    dropped = await request.app[HUB_KEY].drop(user.username)
    return web.json_response({"username": user.username, "dropped": dropped})


@routes.post("/admin/captcha")
async def captcha(request: web.Request) -> web.Response:
    return await _toggle(request, "captcha", "captcha")


@routes.post("/admin/rate_limit")
async def rate_limit(request: web.Request) -> web.Response:
    return await _toggle(request, "rate_limited", "rate limit")


@routes.post("/admin/comments_on_pick")
async def comments_on_pick(request: web.Request) -> web.Response:
    """The creator page shows a post's comments only once the post is picked."""
    return await _toggle(request, "comments_on_pick", "comments on pick")


@routes.post("/admin/im_binary")
async def im_binary(request: web.Request) -> web.Response:
    """The messages API answers protobuf (demosite/protowire.py) instead of JSON."""
    return await _toggle(request, "im_binary", "binary IM answers")


@routes.post("/admin/error_codes")
async def error_codes(request: web.Request) -> web.Response:
    """Queue refusals for one creator API: its next calls answer them in turn
    (e.g. ["server_error", "rate_limited"]), then it answers normally again.
    An empty list clears the queue."""
    user, data = await _user_from_body(request)
    path = str(data.get("path") or "")
    codes = data.get("codes")
    if not path.startswith("/api/creator/"):
        raise ApiError("bad_request", "path must be a creator API path (/api/creator/...)")
    if not isinstance(codes, list) or len(codes) > 100:
        raise ApiError("bad_request", "codes must be a list of at most 100 error names")
    unknown = [c for c in codes if c not in QUEUEABLE_ERRORS]
    if unknown:
        raise ApiError("bad_request", f"unknown codes {unknown}; known: {list(QUEUEABLE_ERRORS)}")
    user.error_codes[path] = [str(c) for c in codes]
    log.info("error codes for %s %s: %s", user.username, path, codes)
    return web.json_response({"username": user.username, "path": path, "codes": codes})


@routes.post("/admin/layout")
async def layout(request: web.Request) -> web.Response:
    state = state_of(request)
    data = await body_of(request)
    username = str(data.get("username") or "") or None
    state.set_layout(str(data.get("variant") or ""), username)
    return web.json_response(
        {
            "layout": state.layout,
            "username": username,
            "effective": state.layout_for(state.user(username)) if username else state.layout,
        }
    )


@routes.get("/admin/sms_code")
async def sms_code(request: web.Request) -> web.Response:
    user = state_of(request).user(request.query.get("username"))
    return web.json_response(
        {"username": user.username, "code": user.sms_code, "phone": user.masked_phone}
    )


@routes.post("/admin/scan")
async def admin_scan(request: web.Request) -> web.Response:
    """Scan `token`, or the newest waiting QR when none is given, as `username`."""
    state = state_of(request)
    user, data = await _user_from_body(request)
    token = state.logins.get(data.get("token")) if data.get("token") else state.logins.latest()
    if token is None:
        raise ApiError("not_found", "no such login token / no QR is waiting")
    try:
        state.logins.scan(token.token, user, confirm=flag(data.get("confirm", True)))
    except LoginError as exc:
        raise ApiError(exc.code, exc.message, http=exc.http) from None
    return web.json_response(token_json(state, token))


@routes.get("/admin/login_tokens")
async def login_tokens(request: web.Request) -> web.Response:
    state = state_of(request)
    tokens = state.logins.listing(include_finished=flag(request.query.get("all", "")))
    rows = [
        token_json(state, t) | {"username": t.username, "created_at": t.created_at} for t in tokens
    ]
    return web.json_response({"tokens": rows})


@routes.post("/admin/login_tokens")
async def make_login_token(request: web.Request) -> web.Response:
    """A token without a login page, for tests that drive the phone side only."""
    return web.json_response(token_json(state_of(request), new_token(request)), status=201)


@routes.get("/admin/traffic")
async def traffic_status(request: web.Request) -> web.Response:
    return web.json_response(request.app[TRAFFIC_KEY].status())


@routes.post("/admin/traffic")
async def traffic(request: web.Request) -> web.Response:
    data = await body_of(request)
    usernames = data.get("usernames") or []
    if isinstance(usernames, str):
        usernames = [u for u in usernames.split(",") if u]
    generator = request.app[TRAFFIC_KEY]
    await generator.configure(
        on=flag(data.get("on", True)),
        per_minute=float(data.get("per_minute", 30)),
        dm_ratio=float(data.get("dm_ratio", 0.5)),
        usernames=[str(u) for u in usernames],
    )
    return web.json_response(generator.status())
