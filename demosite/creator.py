"""The creator centre: its page and the JSON APIs the page loads its data from."""

from __future__ import annotations

import logging

from aiohttp import web

from demosite import pages, protowire
from demosite.guards import (
    ApiError,
    api_user,
    body_of,
    int_param,
    serializer,
    session_user,
    state_of,
)
from demosite.layout import SELECTORS
from demosite.models import Comment
from demosite.state import page_newest_first

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

DEFAULT_COUNT = 20
MAX_COUNT = 50


@routes.get("/creator")
async def creator_page(request: web.Request) -> web.Response:
    user = session_user(request)
    if user is None:
        raise web.HTTPFound("/login")
    user.counters["creator_page"] += 1
    if user.captcha:
        return pages.html_response("captcha.html")
    layout = state_of(request).layout_for(user)
    config = {
        "layout": layout,
        "sel": SELECTORS[layout],
        "user_id": user.user_id,
        "comments_on_pick": user.comments_on_pick,
    }
    return pages.html_response("creator.html", config, NICKNAME=user.nickname)


@routes.get("/captcha")
async def captcha_page(request: web.Request) -> web.Response:
    return pages.html_response("captcha.html")


@routes.get("/avatar/{key}.svg")
async def avatar(request: web.Request) -> web.Response:
    return web.Response(
        text=pages.avatar_svg(request.match_info["key"]),
        content_type="image/svg+xml",
        headers={"Cache-Control": "max-age=86400"},
    )


@routes.get("/api/creator/me")
async def me(request: web.Request) -> web.Response:
    user = api_user(request)
    return web.json_response({"status_code": 0, "user": serializer(request, user).user(user)})


@routes.get("/api/creator/posts")
async def posts(request: web.Request) -> web.Response:
    user = api_user(request)
    ser = serializer(request, user)
    rows = [ser.post(p) for p in reversed(user.posts)]
    return web.json_response({"status_code": 0, "posts": rows, "total": len(rows)})


@routes.get("/api/creator/comments")
async def comments(request: web.Request) -> web.Response:
    """Comments newest first, of one post or (without post_id) of all posts."""
    user = api_user(request)
    state = state_of(request)
    post_id = request.query.get("post_id", "")
    items: list[Comment] = state.post(user, post_id).comments if post_id else user.all_comments
    cursor = int_param(request, "cursor", 0, 0, 2**62)
    count = int_param(request, "count", DEFAULT_COUNT, 1, MAX_COUNT)
    chunk, next_cursor, has_more = page_newest_first(items, cursor, count)
    return web.json_response(
        serializer(request, user).comments_page(chunk, next_cursor, has_more, len(items))
    )


@routes.get("/api/creator/conversations")
async def conversations(request: web.Request) -> web.Response:
    user = api_user(request)
    ser = serializer(request, user)
    count = int_param(request, "count", MAX_COUNT, 1, 200)
    ordered = sorted(user.conversations, key=lambda c: c.update_time, reverse=True)
    rows = [ser.conversation(c) for c in ordered[:count]]
    return web.json_response(
        {"status_code": 0, "conversations": rows, "total": len(user.conversations)}
    )


@routes.get("/api/creator/messages")
async def messages(request: web.Request) -> web.Response:
    """Messages newest first, of one conversation or (without its id) of all."""
    user = api_user(request)
    state = state_of(request)
    conversation_id = request.query.get("conversation_id", "")
    items = (
        state.conversation(user, conversation_id).messages if conversation_id else user.all_messages
    )
    cursor = int_param(request, "cursor", 0, 0, 2**62)
    count = int_param(request, "count", DEFAULT_COUNT, 1, MAX_COUNT)
    chunk, next_cursor, has_more = page_newest_first(items, cursor, count)
    if user.im_binary:  # the IM answer in protobuf, as Douyin's IM host answers
        raw = protowire.messages_answer(user.user_id, chunk, next_cursor, has_more)
        return web.Response(body=raw, content_type=protowire.CONTENT_TYPE)
    ser = serializer(request, user)
    return web.json_response(
        {
            "status_code": 0,
            "conversation_id": conversation_id or None,
            "messages": [ser.message(m) for m in chunk],
            "cursor": next_cursor,
            "has_more": has_more,
            "total": len(items),
        }
    )


@routes.post("/api/creator/reply")
async def reply(request: web.Request) -> web.Response:
    """Answer a comment or a DM conversation as the account.

    Body: {"kind": "comment", "comment_id", "text"} or
    {"kind": "message", "conversation_id", "text"}.
    """
    user = api_user(request)
    data = await body_of(request)
    kind = str(data.get("kind") or data.get("type") or "")
    if kind == "comment":
        target = str(data.get("comment_id") or data.get("target_id") or "")
    elif kind == "message":
        target = str(data.get("conversation_id") or data.get("target_id") or "")
    else:
        raise ApiError("bad_request", "kind must be 'comment' or 'message'")
    text = str(data.get("text") or "")
    if not target or not text.strip():
        raise ApiError("bad_request", "a target id and a non-empty text are required")
    record, created = state_of(request).reply(user, kind, target, text)
    ser = serializer(request, user)
    body = {"status_code": 0, "reply": ser.reply(record)}
    if isinstance(created, Comment):
        body["comment"] = ser.comment(created)
    else:
        body["message"] = ser.message(created)
    return web.json_response(body)
