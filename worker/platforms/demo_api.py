"""The demo platform's JSON shapes -> Items. Everything this adapter assumes
about the platform's data is here, so a shape change is a one-file fix; a
shape that no longer matches raises LayoutChanged, never silence."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from hiscrm.v1 import common_pb2
from worker.platforms import douyin_im
from worker.platforms.answers import require, timestamp
from worker.platforms.errors import (
    AuthExpired,
    LayoutChanged,
    PlatformError,
    RateLimited,
    VerificationRequired,
)
from worker.platforms.wire import WireMessage

POSTS_PATH = "/api/creator/posts"
COMMENTS_PATH = "/api/creator/comments"
CONVERSATIONS_PATH = "/api/creator/conversations"
MESSAGES_PATH = "/api/creator/messages"
ME_PATH = "/api/creator/me"
REPLY_PATH = "/api/creator/reply"
LIVE_PATH = "/api/live"

AUTHOR_LABEL = "作者"  # on the account's own comments, as on Douyin
COMMENT_FIELDS = ("comment_id", "post_id", "text", "create_time", "author_id", "author_name")
MESSAGE_FIELDS = (
    "message_id",
    "conversation_id",
    "sender_id",
    "sender_name",
    "text",
    "create_time",
)


def check_status(status: int, body: Any, where: str) -> None:
    """Map the platform's error answers to typed errors."""
    code = body.get("error") if isinstance(body, dict) else None
    if status == 401 or code == "not_logged_in":
        raise AuthExpired(f"{where}: the platform says the session is not logged in")
    if status == 403 or code == "captcha_required":
        raise VerificationRequired(f"{where}: the platform asks for a captcha")
    if status == 429 or code == "rate_limited":
        raise RateLimited(f"{where}: rate limited by the platform", retry_after=30.0)
    if status >= 500:
        raise PlatformError(f"{where}: platform error HTTP {status}")
    if not isinstance(body, dict) or body.get("status_code") != 0:
        raise LayoutChanged(f"{where}: unexpected answer (HTTP {status}): {str(body)[:200]}")


def comments_page(body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool, int]:
    if "comments" not in body or "has_more" not in body:
        raise LayoutChanged(
            f"comments API: expected 'comments' and 'has_more', got {', '.join(sorted(body))}"
        )
    records = [require(c, COMMENT_FIELDS, "comment") for c in body["comments"]]
    return records, bool(body["has_more"]), int(body.get("cursor", 0))


def messages_page(body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool, int]:
    if "messages" not in body or "has_more" not in body:
        raise LayoutChanged(
            f"messages API: expected 'messages' and 'has_more', got {', '.join(sorted(body))}"
        )
    records = [require(m, MESSAGE_FIELDS, "message") for m in body["messages"]]
    return records, bool(body["has_more"]), int(body.get("cursor", 0))


def comment_item(account_id: str, c: dict[str, Any]) -> common_pb2.Item:
    require(c, COMMENT_FIELDS, "comment")
    return common_pb2.Item(
        platform=common_pb2.PLATFORM_DEMO,
        account_id=account_id,
        kind=common_pb2.ITEM_KIND_COMMENT,
        platform_item_id=str(c["comment_id"]),
        author_id=str(c["author_id"]),
        author_name=str(c["author_name"]),
        content=str(c["text"]),
        post_id=str(c["post_id"]),
        post_title=str(c.get("post_title", "")),
        parent_id=str(c.get("reply_to") or ""),
        outgoing=bool(c.get("is_author")) or c.get("label_text") == AUTHOR_LABEL,
        created_at=timestamp(c["create_time"]),
        raw_json=json.dumps(c, ensure_ascii=False),
    )


def message_item(account_id: str, m: dict[str, Any]) -> common_pb2.Item:
    require(m, MESSAGE_FIELDS, "message")
    return common_pb2.Item(
        platform=common_pb2.PLATFORM_DEMO,
        account_id=account_id,
        kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE,
        platform_item_id=str(m["message_id"]),
        author_id=str(m["sender_id"]),
        author_name=str(m["sender_name"]),
        content=str(m["text"]),
        conversation_id=str(m["conversation_id"]),
        outgoing=m.get("direction") == "out",
        created_at=timestamp(m["create_time"]),
        raw_json=json.dumps(m, ensure_ascii=False),
    )


def is_binary(headers: dict[str, str]) -> bool:
    return "protobuf" in headers.get("content-type", "")


def conversation_peers(body: Any) -> dict[str, str]:
    """conversation id -> the peer's name, from the conversations API."""
    rows = body.get("conversations") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise LayoutChanged(f"conversations API: no 'conversations' list: {str(body)[:160]}")
    peers = {}
    for row in rows:
        conv = require(row, ("conversation_id", "peer_name"), "conversation")
        peers[str(conv["conversation_id"])] = str(conv["peer_name"])
    return peers


def binary_messages(
    account_id: str, raw: bytes, me: common_pb2.UserInfo, peers: dict[str, str]
) -> tuple[list[common_pb2.Item], bool, int]:
    """The messages API's binary answer (demosite/protowire.py: Douyin's IM
    field numbers, plus 20 has_more / 21 cursor): Items, has_more, cursor.
    Names are the peer's (conversations API) or the account's own."""
    own, messages = douyin_im.decode_answer(raw)
    paging = WireMessage.parse(raw)
    items = []
    for m in messages:
        out = m.sender_uid == (own or me.platform_user_id)
        name = me.nickname if out else peers.get(m.conversation_id, "")
        if not name:
            raise LayoutChanged(f"message {m.msg_id}: conversation {m.conversation_id} unknown")
        items.append(
            common_pb2.Item(
                platform=common_pb2.PLATFORM_DEMO,
                account_id=account_id,
                kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE,
                platform_item_id=m.msg_id,
                author_id=m.sender_uid,
                author_name=name,
                content=m.readable(),
                conversation_id=m.conversation_id,
                outgoing=out,
                created_at=timestamp(m.created_ms),
                raw_json=json.dumps(asdict(m), ensure_ascii=False),
            )
        )
    return items, bool(paging.number(20)), paging.number(21)


def user_info(body: dict[str, Any]) -> common_pb2.UserInfo:
    user = require(body.get("user"), ("user_id", "nickname"), "me API user")
    return common_pb2.UserInfo(
        platform_user_id=str(user["user_id"]),
        nickname=str(user["nickname"]),
        avatar_url=str(user.get("avatar", "")),
        unique_id=str(user.get("unique_id", "")),
    )


def live_item(account_id: str, frame: str) -> common_pb2.Item | None:
    """A live-channel push, or None for frames that carry no item."""
    try:
        data = json.loads(frame)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if data.get("type") == "message":
        # any JSON value: require() in the builder refuses a non-object (LayoutChanged).
        return message_item(account_id, data.get("message"))  # type: ignore[arg-type]
    if data.get("type") == "comment":
        # a shape we do not know raises LayoutChanged: logged loudly by the
        # adapter, and the next cycle's page read reports it on the account
        # any JSON value: require() in the builder refuses a non-object (LayoutChanged).
        return comment_item(account_id, data.get("comment"))  # type: ignore[arg-type]
    if data.get("type") == "session_expired":
        raise AuthExpired("the platform ended the session (live channel)")
    return None
