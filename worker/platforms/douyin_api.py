"""Douyin (抖音) creator centre: every URL, selector and JSON field the Douyin
adapter relies on, and pure functions from the platform's answers to Items.

A layout change is a one-file fix here. A shape that no longer matches raises
LayoutChanged (never silence); risk-control answers raise the typed errors.
Where each fact came from is listed in docs/platforms.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hiscrm.v1 import common_pb2
from worker.platforms.answers import (
    Answer,
    raise_for_http_status,
    require,
    timestamp,
    with_params,
)
from worker.platforms.errors import AuthExpired, Blocked, LayoutChanged, PlatformError

PLATFORM = common_pb2.PLATFORM_DOUYIN

# ------------------------------------------------------------------ URLs

CREATOR_ORIGIN = "https://creator.douyin.com"
LOGIN_URL = f"{CREATOR_ORIGIN}/"
# Any creator-centre page means "logged in"; the login page is the bare origin.
HOME_PATH_PREFIX = "/creator-micro/"
HOME_URL = f"{CREATOR_ORIGIN}/creator-micro/home"
COMMENT_PAGE_URL = f"{CREATOR_ORIGIN}/creator-micro/interactive/comment"
CHAT_PAGE_URL = f"{CREATOR_ORIGIN}/creator-micro/data/following/chat"

# JSON endpoints the creator pages load (matched on the URL path, any host).
USER_INFO_PATH = "/web/api/media/user/info/"
WORK_LIST_PATH = "/aweme/v1/creator/item/list/"
COMMENT_LIST_CREATOR_PATH = "/aweme/v1/creator/comment/list/"
COMMENT_LIST_SELECT_PATH = (
    "/web/api/third_party/aweme/api/comment/read/aweme/v1/web/comment/list/select/"
)
COMMENT_LIST_PATHS = (COMMENT_LIST_CREATOR_PATH, COMMENT_LIST_SELECT_PATH)
# Replies under a comment (二级评论), same prefix as the select list.
COMMENT_REPLY_LIST_PATH = (
    "/web/api/third_party/aweme/api/comment/read/aweme/v1/web/comment/list/reply/"
)
COMMENT_REPLY_PATH = "/aweme/v1/creator/comment/reply/"
# The fixed query of the select / reply lists, as the creator page sends it;
# the adapter builds these URLs itself, so it never carries a signature
# (a_bogus, msToken, X-Bogus) the page computed for another query.
COMMENT_QUERY = {
    "comment_select_options": 0,
    "sort_options": 0,
    "channel_id": 618,
    "app_id": 2906,
    "aid": 2906,
    "device_platform": "webapp",
}
COMMENT_PAGE_SIZE = 20
SIGNATURE_PARAMS = ("a_bogus", "msToken", "X-Bogus")

# ------------------------------------------------------------------ selectors / markers

QR_IMAGE_SELECTORS = (
    'img[alt="二维码"]',
    'img[aria-label="二维码"]',
    "#animate_qrcode_container img",
)
LOGGED_OUT_TEXTS = ("扫码登录", "验证码登录")
QR_EXPIRED_TEXTS = ("二维码已失效", "二维码失效")  # unverified wording, see docs
QR_SCANNED_TEXTS = ("扫码成功", "已扫描")  # unverified wording, see docs
VERIFY_CONTAINER = "#uc-second-verify"
VERIFY_TITLE_TEXT = "身份验证"
SMS_OPTION_TEXT = "接收短信验证码"
SMS_SEND_TEXT = "获取验证码"
SMS_INPUT_SELECTOR = (
    "#uc-second-verify input[maxlength='6'], #uc-second-verify input[inputmode='numeric']"
)
SMS_SUBMIT_TEXT = "验证"
SLIDER_SELECTORS = ("#captcha-verify-image", "#captcha_container")
CAPTCHA_PAGE_TITLE = "验证码中间页"
SESSION_COOKIES = ("sessionid", "sessionid_ss")
REPLY_BUTTON_TEXT = "回复"
SEND_BUTTON_TEXT = "发送"
DM_CONVERSATION_ITEM = '[role="list-item"]'
DM_EDITOR = '[contenteditable="true"]'
# The open conversation's title (the peer's name): checked by exact match
# before typing a reply, so a reply never goes into another chat.
DM_CHAT_TITLE = '[class*="chat-title"]'

# ------------------------------------------------------------------ answers

NOT_LOGGED_IN_CODES = {8}


def check_answer(answer: Answer, where: str, *, proves_session: bool = False) -> dict[str, Any]:
    """The answer's body when it is a usable success; a typed error otherwise.

    status_code 8 means "not logged in" only where the answer proves the
    session (user info); elsewhere (a reply refused, say) it is that
    request's failure, not a logout."""
    raise_for_http_status(answer, where)
    status, body = answer.status, answer.body
    text = answer.text.strip()
    if body is None and (not text or text == "blocked"):
        raise Blocked(
            f"{where}: empty answer (HTTP {status}); the platform answers risk-controlled "
            "accounts with an empty body or 'blocked'"
        )
    if not isinstance(body, dict):
        raise LayoutChanged(f"{where}: not a JSON object (HTTP {status}): {text[:160]!r}")
    if "status_code" not in body:
        raise LayoutChanged(f"{where}: no status_code; has {', '.join(sorted(body))}")
    code = body.get("status_code")
    if code == 0:
        return body
    message = str(body.get("status_msg") or body.get("message") or "")
    if proves_session and code in NOT_LOGGED_IN_CODES:
        raise AuthExpired(f"{where}: status_code {code} (not logged in) {message}".strip())
    raise PlatformError(f"{where}: status_code {code} {message}".strip())


def _url0(image: Any) -> str:
    if isinstance(image, dict):
        urls = image.get("url_list") or []
        return str(urls[0]) if urls else ""
    return str(image or "")


# ------------------------------------------------------------------ user


def user_info(body: dict[str, Any]) -> common_pb2.UserInfo:
    user = require(body.get("user"), ("uid", "nickname"), "user info")
    avatar = user.get("avatar_thumb") or user.get("avatar_medium") or user.get("avatar_larger")
    return common_pb2.UserInfo(
        platform_user_id=str(user["uid"]),
        nickname=str(user["nickname"]),
        avatar_url=_url0(avatar) or str(user.get("avatar_url", "")),
        unique_id=str(user.get("unique_id") or user.get("short_id") or ""),
    )


# ------------------------------------------------------------------ works


@dataclass(frozen=True)
class Work:
    item_id: str  # what the comment API takes (the creator API's opaque id)
    plain_id: str  # the numeric aweme id, when the platform gives it
    title: str
    comment_count: int

    @property
    def post_id(self) -> str:
        return self.plain_id or self.item_id


def works_page(body: dict[str, Any]) -> tuple[list[Work], bool, str]:
    if "item_info_list" not in body:
        raise LayoutChanged(f"work list: expected 'item_info_list', got {', '.join(sorted(body))}")
    works = []
    for raw in body["item_info_list"] or []:
        record = require(raw, ("item_id",), "work")
        works.append(
            Work(
                item_id=str(record["item_id"]),
                plain_id=str(record.get("item_id_plain") or ""),
                title=str(record.get("title") or ""),
                comment_count=int(record.get("comment_count") or 0),
            )
        )
    return works, bool(body.get("has_more")), str(body.get("cursor") or "")


# ------------------------------------------------------------------ comments

CREATOR_COMMENT_FIELDS = ("comment_id", "text", "create_time", "user_info")
SELECT_COMMENT_FIELDS = ("cid", "text", "create_time", "user")


@dataclass(frozen=True)
class CommentPage:
    records: list[dict[str, Any]]
    has_more: bool
    cursor: int
    shape: str  # "creator" (comment_info_list) or "select" (comments)


def comments_page(body: dict[str, Any]) -> CommentPage:
    if "comment_info_list" in body:
        rows = body["comment_info_list"] or []
        records = [require(r, CREATOR_COMMENT_FIELDS, "comment") for r in rows]
        shape = "creator"
    elif "comments" in body:
        rows = body["comments"] or []
        records = [require(r, SELECT_COMMENT_FIELDS, "comment") for r in rows]
        shape = "select"
    else:
        raise LayoutChanged(
            "comment list: expected 'comment_info_list' or 'comments', got "
            + ", ".join(sorted(body))
        )
    if "has_more" not in body:
        raise LayoutChanged("comment list: no 'has_more'")
    return CommentPage(records, bool(body["has_more"]), int(body.get("cursor") or 0), shape)


def comment_id(record: dict[str, Any]) -> str:
    return str(record.get("comment_id") or record.get("cid") or "")


def comment_author(record: dict[str, Any]) -> tuple[str, str]:
    """(user id, nickname) of a comment record of either shape."""
    if "user_info" in record:
        user = require(record["user_info"], ("user_id", "screen_name"), "comment user_info")
        return str(user["user_id"]), str(user["screen_name"])
    user = require(record.get("user"), ("uid", "nickname"), "comment user")
    return str(user["uid"]), str(user["nickname"])


AUTHOR_LABEL = "作者"


def is_own_comment(record: dict[str, Any], self_uid: str) -> bool:
    """The account's own comment: the creator shape says is_author; the
    select and web shapes have no such flag, only the label the page shows
    ("作者") and the author's uid."""
    if record.get("is_author") or record.get("label_text") == AUTHOR_LABEL:
        return True
    author_id, _ = comment_author(record)
    return bool(self_uid) and author_id == self_uid


def reply_count(record: dict[str, Any]) -> int:
    try:
        return int(record.get("reply_comment_total") or 0)
    except (TypeError, ValueError):
        total = record.get("reply_comment_total")
        raise LayoutChanged(f"comment reply_comment_total: {total!r}") from None


def comment_item(
    account_id: str, record: dict[str, Any], work: Work, self_uid: str, parent_id: str = ""
) -> common_pb2.Item:
    author_id, author_name = comment_author(record)
    parent = str(record.get("reply_id") or "")
    parent = parent_id if parent in ("", "0") else parent
    return common_pb2.Item(
        platform=PLATFORM,
        account_id=account_id,
        kind=common_pb2.ITEM_KIND_COMMENT,
        platform_item_id=comment_id(record),
        author_id=author_id,
        author_name=author_name,
        content=str(record["text"]),
        post_id=work.post_id,
        post_title=work.title,
        parent_id=parent,
        outgoing=is_own_comment(record, self_uid),
        created_at=timestamp(record["create_time"]),
        raw_json=json.dumps(record, ensure_ascii=False),
    )


def comment_list_url(work: Work, cursor: int) -> str:
    """The select list of one work's comments, built here (never a
    captured URL with its signature)."""
    return with_params(
        CREATOR_ORIGIN + COMMENT_LIST_SELECT_PATH,
        aweme_id=work.post_id,
        cursor=cursor,
        count=COMMENT_PAGE_SIZE,
        **COMMENT_QUERY,
    )


def reply_list_url(work: Work, comment: str, cursor: int) -> str:
    """The replies under one comment, built the same way."""
    return with_params(
        CREATOR_ORIGIN + COMMENT_REPLY_LIST_PATH,
        item_id=work.post_id,
        comment_id=comment,
        cursor=cursor,
        count=COMMENT_PAGE_SIZE,
        **COMMENT_QUERY,
    )


def reply_id(body: dict[str, Any]) -> str:
    info = body.get("comment_info")
    if not isinstance(info, dict) or "comment_id" not in info:
        raise LayoutChanged(f"reply answer lacks comment_info.comment_id: {str(body)[:160]}")
    return str(info["comment_id"])


# ------------------------------------------------------------------ helpers
