"""Xiaohongshu (小红书): every URL, selector and JSON field the Xiaohongshu
adapter relies on, and pure functions from the platform's answers to Items.

A layout change is a one-file fix here. A shape that no longer matches raises
LayoutChanged (never silence); risk-control answers raise the typed errors.
Where each fact came from is listed in docs/platforms.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hiscrm.v1 import common_pb2
from worker.platforms.answers import (
    Answer,
    raise_for_http_status,
    require,
    seconds,
    timestamp,
    with_params,
)
from worker.platforms.errors import (
    AuthExpired,
    Blocked,
    LayoutChanged,
    PlatformError,
    VerificationRequired,
)

PLATFORM = common_pb2.PLATFORM_XIAOHONGSHU
__all__ = ["Answer", "with_params"]

# ------------------------------------------------------------------ URLs

WWW_ORIGIN = "https://www.xiaohongshu.com"
EDITH_ORIGIN = "https://edith.xiaohongshu.com"  # the API host the web pages call
LOGIN_URL = f"{WWW_ORIGIN}/explore"
NOTIFICATION_URL = f"{WWW_ORIGIN}/notification"  # 评论和@ (comments on the account's notes)
CHAT_URL = f"{WWW_ORIGIN}/chat"  # web private messages

QR_CREATE_PATH = "/api/sns/web/v1/login/qrcode/create"
QR_STATUS_PATH = "/api/sns/web/v1/login/qrcode/status"
ME_PATH = "/api/sns/web/v2/user/me"
MENTIONS_PATH = "/api/sns/web/v1/you/mentions"
COMMENT_POST_PATH = "/api/sns/web/v1/comment/post"
CHATS_PATH = "/api/im/web/v3/chats"
HISTORY_PATH = "/api/im/web/messages/history"
HISTORY_LIMIT = 20


def history_url(peer: str, last_id: int = 0) -> str:
    return (
        f"{EDITH_ORIGIN}{HISTORY_PATH}?chat_user_id={quote(peer, safe='')}"
        f"&last_id={last_id}&start_id=0&limit={HISTORY_LIMIT}"
    )


def chat_url(peer: str) -> str:
    return f"{CHAT_URL}/{quote(peer, safe='')}"


# ------------------------------------------------------------------ selectors / markers

QR_IMAGE_SELECTORS = (".login-container .qrcode-img", "img.qrcode-img")
LOGGED_IN_SELECTOR = ".main-container .user .link-wrapper .channel"
CAPTCHA_TEXTS = ("请通过验证",)
QR_EXPIRED_TEXTS = ("二维码已过期", "二维码已失效")  # unverified wording, see docs
SESSION_COOKIE = "web_session"
DEVICE_COOKIES = ("a1", "webId")
NOTIFICATION_ITEM = ".tabs-content-container > .container"
REPLY_ACTION = ".action-reply"
REPLY_INPUT = "textarea.comment-input"
REPLY_SUBMIT = "button.submit"
CHAT_ITEM = ".xhs-im-conv-item[data-conv-id]"
CHAT_EDITOR = '.xhs-im-input-bar-editor[contenteditable="true"]'

# qrcode/status data.code_status
QR_WAITING, QR_SCANNED, QR_CONFIRMED, QR_EXPIRED = 0, 1, 2, 3

# ------------------------------------------------------------------ answers

CODE_SESSION_EXPIRED = -100
CODE_IP_BLOCKED = 300012
CODE_BROWSER_ABNORMAL = 300015
RISK_CODES = {-13020, -13002}


def check_answer(answer: Answer, where: str) -> dict[str, Any]:
    """The answer's `data` object when it is a success; a typed error otherwise."""
    verify_type = answer.headers.get("verifytype", "?")
    raise_for_http_status(answer, where, f" (Verifytype {verify_type})")
    status, body = answer.status, answer.body
    if not isinstance(body, dict) or ("code" not in body and "success" not in body):
        raise LayoutChanged(f"{where}: unexpected answer (HTTP {status}): {answer.text[:160]!r}")
    code = body.get("code")
    if body.get("success") is True or code == 0:
        data = body.get("data")
        if not isinstance(data, dict):
            raise LayoutChanged(f"{where}: success without a data object: {answer.text[:160]!r}")
        return data
    message = str(body.get("msg") or "")
    if code == CODE_SESSION_EXPIRED:
        raise AuthExpired(f"{where}: code {code} {message} (login expired)".strip())
    if code == CODE_IP_BLOCKED:
        raise Blocked(f"{where}: code {code} {message} (IP blocked by risk control)".strip())
    if code == CODE_BROWSER_ABNORMAL:
        raise Blocked(f"{where}: code {code} {message} (browser flagged as abnormal)".strip())
    if code in RISK_CODES:
        raise VerificationRequired(f"{where}: risk-control code {code} {message}".strip())
    raise PlatformError(f"{where}: code {code} {message}".strip())


def qr_content(data: dict[str, Any]) -> str:
    """What the login QR encodes (qrcode/create data.url)."""
    return str(require(data, ("qr_id", "url"), "qrcode/create data")["url"])


def qr_status(data: dict[str, Any]) -> int:
    return int(require(data, ("code_status",), "qrcode/status data")["code_status"])


def user_me(data: dict[str, Any]) -> common_pb2.UserInfo:
    if data.get("guest"):
        raise AuthExpired("user/me answers a guest: not logged in")
    user = require(data, ("user_id", "nickname"), "user/me data")
    return common_pb2.UserInfo(
        platform_user_id=str(user["user_id"]),
        nickname=str(user["nickname"]),
        avatar_url=str(user.get("images") or user.get("imageb") or ""),
        unique_id=str(user.get("red_id") or ""),
    )


# ------------------------------------------------------------------ comments (评论和@)

COMMENT_TYPES = ("comment/item", "comment/comment", "mention/comment")
MENTION_FIELDS = ("id", "type", "time", "user_info")


@dataclass(frozen=True)
class MentionsPage:
    records: list[dict[str, Any]]  # every entry, in the page's (display) order
    has_more: bool
    cursor: str


def mentions_page(data: dict[str, Any]) -> MentionsPage:
    if not isinstance(data.get("message_list"), list) or "has_more" not in data:
        raise LayoutChanged(
            "mentions: expected data.message_list and data.has_more, got " + ", ".join(sorted(data))
        )
    records = [require(r, MENTION_FIELDS, "mention") for r in data["message_list"]]
    cursor = data.get("strCursor") or data.get("cursor") or ""
    return MentionsPage(records, bool(data["has_more"]), str(cursor))


def is_comment(record: dict[str, Any]) -> bool:
    return str(record.get("type")) in COMMENT_TYPES


def mention_comment_id(record: dict[str, Any]) -> str:
    info = record.get("comment_info")
    return str(info.get("id") or "") if isinstance(info, dict) else ""


def comment_item(account_id: str, record: dict[str, Any]) -> common_pb2.Item:
    user = require(record["user_info"], ("userid", "nickname"), "mention user_info")
    comment = require(record.get("comment_info"), ("id", "content"), "mention comment_info")
    note = require(record.get("item_info"), ("id",), "mention item_info")
    target = comment.get("target_comment") or {}
    return common_pb2.Item(
        platform=PLATFORM,
        account_id=account_id,
        kind=common_pb2.ITEM_KIND_COMMENT,
        platform_item_id=str(comment["id"]),
        author_id=str(user["userid"]),
        author_name=str(user["nickname"]),
        content=str(comment["content"]),
        post_id=str(note["id"]),
        post_title=str(note.get("content") or ""),
        parent_id=str(target.get("id") or "") if isinstance(target, dict) else "",
        outgoing=False,
        created_at=timestamp(record["time"]),
        raw_json=json.dumps(record, ensure_ascii=False),
    )


def reply_comment_id(data: dict[str, Any]) -> str:
    comment = data.get("comment")
    return str(comment.get("id") or "") if isinstance(comment, dict) else ""


# ------------------------------------------------------------------ direct messages


@dataclass(frozen=True)
class Chat:
    peer: str  # chat_user_id: the other side, also the conversation id
    owner: str  # user_id: the account itself
    nickname: str
    group: bool


def chats(data: dict[str, Any]) -> list[Chat]:
    rows = data.get("chats")
    if not isinstance(rows, list):
        raise LayoutChanged(f"chats: expected data.chats, got {', '.join(sorted(data))}")
    out = []
    for raw in rows:
        row = require(raw, ("chat_user_id",), "chat")
        info = row.get("info") if isinstance(row.get("info"), dict) else {}
        out.append(
            Chat(
                peer=str(row["chat_user_id"]),
                owner=str(row.get("user_id") or ""),
                nickname=str(info.get("nickname") or row.get("nickname") or ""),
                group=bool(row.get("group_chat") or row.get("is_group_chat")),
            )
        )
    return out


def history_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = data.get("out_message_list", data.get("message_list"))
    if not isinstance(rows, list):
        raise LayoutChanged(
            "message history: expected data.out_message_list or data.message_list, got "
            + ", ".join(sorted(data))
        )
    return [require(r, ("sender_id", "content", "created_at"), "message") for r in rows]


def message_id(row: dict[str, Any]) -> str:
    for key in ("id", "uuid", "store_id"):
        if row.get(key) not in (None, ""):
            return str(row[key])
    raise LayoutChanged(f"message has no id/uuid/store_id; has {', '.join(sorted(row))}")


def message_text(content: Any) -> str:
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError:
            return content
    if not isinstance(content, dict):
        return str(content or "")
    inner = content.get("content")
    if isinstance(inner, dict):
        return str(inner.get("text") or inner.get("content") or "")
    return str(inner or content.get("text") or content.get("front_chain") or "")


def message_time(row: dict[str, Any]) -> int:
    return seconds(row["created_at"])


def dm_item(
    account_id: str, row: dict[str, Any], chat: Chat, self_id: str, self_name: str
) -> common_pb2.Item:
    sender = str(row["sender_id"])
    mine = sender in (self_id, chat.owner) and sender != chat.peer
    return common_pb2.Item(
        platform=PLATFORM,
        account_id=account_id,
        kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE,
        platform_item_id=message_id(row),
        author_id=sender,
        author_name=self_name if mine else chat.nickname,
        content=message_text(row["content"]),
        conversation_id=chat.peer,
        outgoing=mine,
        created_at=timestamp(row["created_at"]),
        raw_json=json.dumps(row, ensure_ascii=False),
    )
