"""Xiaohongshu (小红书): every URL, selector and JSON field the Xiaohongshu
adapter relies on for login, the session and comments, and pure functions
from the platform's answers to Items (direct messages: xiaohongshu_im.py).

A layout change is a one-file fix here. A shape that no longer matches raises
LayoutChanged (never silence); risk-control answers raise the typed errors,
and a code nobody has documented raises UnknownCode with the code and the
platform's message. Where each fact came from is listed in docs/platforms.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hiscrm.v1 import common_pb2
from worker.platforms.answers import (
    Answer,
    query_param,
    raise_for_http_status,
    require,
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
QR_USERINFO_PATH = "/api/qrcode/userinfo"  # what the page polls while the QR shows
ME_PATH = "/api/sns/web/v2/user/me"
MENTIONS_PATH = "/api/sns/web/v1/you/mentions"
COMMENT_POST_PATH = "/api/sns/web/v1/comment/post"


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

# qrcode/userinfo data.codeStatus (qrcode/status data.code_status agrees)
QR_WAITING, QR_SCANNED, QR_CONFIRMED, QR_EXPIRED = 0, 1, 2, 3
QR_STATUSES = (QR_WAITING, QR_SCANNED, QR_CONFIRMED, QR_EXPIRED)

# ------------------------------------------------------------------ answers

CODE_SESSION_EXPIRED = -100  # 登录已过期
CODE_NO_LOGIN = -101  # 无登录信息，或登录信息为空
CODE_ACCOUNT_RESTRICTED = 300011  # the account is under a security restriction
CODE_IP_BLOCKED = 300012  # 网络连接异常: the IP is blocked
CODE_BROWSER_ABNORMAL = 300015  # 浏览器异常: the browser is flagged
AUTH_CODES = {
    CODE_SESSION_EXPIRED: "login expired",
    CODE_NO_LOGIN: "no login information",
}
BLOCKED_CODES = {
    CODE_ACCOUNT_RESTRICTED: "account under a security restriction",
    CODE_IP_BLOCKED: "IP blocked by risk control",
    CODE_BROWSER_ABNORMAL: "browser flagged as abnormal",
}
RISK_CODES = {-13020, -13002}


class UnknownCode(PlatformError):
    """An answer with a code nobody has documented: loud, with what the
    platform said, so an operator can tell a new risk rule from a bug."""

    def __init__(
        self, message: str, *, code: Any = None, platform_message: str = "", screenshot: str = ""
    ) -> None:
        super().__init__(message, screenshot=screenshot)  # copyable like its base
        self.code = code
        self.platform_message = platform_message


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
    if code in AUTH_CODES:
        raise AuthExpired(f"{where}: code {code} {message} ({AUTH_CODES[code]})")
    if code in BLOCKED_CODES:
        raise Blocked(f"{where}: code {code} {message} ({BLOCKED_CODES[code]})")
    if code in RISK_CODES:
        raise VerificationRequired(f"{where}: risk-control code {code} {message}".strip())
    raise UnknownCode(
        f"{where}: unknown code {code} {message!r}", code=code, platform_message=message
    )


# ------------------------------------------------------------------ login


def qr_content(data: dict[str, Any]) -> str:
    """What the login QR encodes (qrcode/create data.url)."""
    return str(require(data, ("qr_id", "url"), "qrcode/create data")["url"])


def qr_status(answer: Answer) -> int:
    """The QR's state from one poll: qrcode/userinfo `codeStatus`, or the
    older qrcode/status `code_status`. A value outside 0-3 is a changed
    platform, not a state to guess."""
    is_userinfo = answer.path.endswith(QR_USERINFO_PATH)
    where = "qrcode/userinfo" if is_userinfo else "qrcode/status"
    field = "codeStatus" if is_userinfo else "code_status"
    value = require(check_answer(answer, where), (field,), f"{where} data")[field]
    if value not in QR_STATUSES:
        raise LayoutChanged(f"{where}: {field} {value!r} is none of {QR_STATUSES}")
    return int(value)


def latest_qr_status(answers: list[Answer]) -> int | None:
    """The newest QR state among the polls the page made (None: no poll yet)."""
    polls = [a for a in answers if a.path.endswith((QR_USERINFO_PATH, QR_STATUS_PATH))]
    return qr_status(polls[-1]) if polls else None


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
VISIBLE = ("", "NORMAL")  # illegal_info.illegal_status of a comment still shown


@dataclass(frozen=True)
class MentionsPage:
    records: list[dict[str, Any]]  # every entry, in the page's (display) order
    has_more: bool
    cursor: str  # what the page asks the next page with


def mentions_page(data: dict[str, Any]) -> MentionsPage:
    if not isinstance(data.get("message_list"), list) or "has_more" not in data:
        raise LayoutChanged(
            "mentions: expected data.message_list and data.has_more, got " + ", ".join(sorted(data))
        )
    records = [require(r, MENTION_FIELDS, "mention") for r in data["message_list"]]
    cursor = data.get("strCursor") or data.get("cursor") or ""
    return MentionsPage(records, bool(data["has_more"]), str(cursor))


def first_mentions(answers: list[Answer]) -> Answer | None:
    """The page's first mentions page: it may ask more than once on load and
    an early answer can be empty, so the last answer with entries (else the
    last one). Answers for later pages (with a cursor) do not count."""
    first = [a for a in answers if not query_param(a.url, "cursor")]
    for answer in reversed(first):
        data = answer.body.get("data") if isinstance(answer.body, dict) else None
        if isinstance(data, dict) and data.get("message_list"):
            return answer
    return first[-1] if first else None


def is_comment(record: dict[str, Any]) -> bool:
    """A comment still shown: a comment type whose comment is not deleted
    or hidden (comment_info.illegal_info.illegal_status other than NORMAL)."""
    if str(record.get("type")) not in COMMENT_TYPES:
        return False
    info = record.get("comment_info")
    illegal = info.get("illegal_info") if isinstance(info, dict) else None
    status = str(illegal.get("illegal_status") or "") if isinstance(illegal, dict) else ""
    return status in VISIBLE


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


# Scrolled to its end, the notification page loads its next page by itself.
SCROLL_TO_END_JS = "() => window.scrollTo(0, document.body.scrollHeight)"
