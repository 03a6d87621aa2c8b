"""Xiaohongshu (小红书) web private messages: the chat list, the history
rows, what the adapter opens and skips, and each message as readable text.

The chat page (www.xiaohongshu.com/chat) loads the conversation list from
`/api/im/web/<version>/chats` (the version segment has moved before, so the
path is matched by pattern) and, when a conversation is opened, its history
from `/api/im/web/messages/history`. A message's `content` is a JSON string
whose inner `content` is the text for a text message and, for pictures and
shared notes, one more JSON object; the adapter renders those as short text
("[图片]", "[笔记] <title>"), never as JSON. Where each fact came from is
listed in docs/platforms.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from hiscrm.v1 import common_pb2
from worker.platforms.answers import require, seconds, timestamp
from worker.platforms.errors import LayoutChanged

PLATFORM = common_pb2.PLATFORM_XIAOHONGSHU

CHATS_PATH = "/api/im/web/v3/chats"  # what the page asks today; matched by CHATS_PATTERN
CHATS_PATTERN = re.compile(r"/api/im/web/[^/]+/chats$")  # not .../chats/group
HISTORY_PATH = "/api/im/web/messages/history"

CHAT_ITEM = ".xhs-im-conv-item[data-conv-id]"
CHAT_NAME = ".xhs-im-conv-item__name"
CONV_IDS_JS = "els => els.map((e) => e.getAttribute('data-conv-id') || '')"
CONV_NAMES_JS = """(els, name) => els.map((e) => {
  const n = e.querySelector(name);
  return n ? n.innerText.trim() : '';
})"""
MESSAGE_LIST = ".xhs-im-msg-list"  # scrolled to its top, the page loads older messages
CHAT_EDITOR = '.xhs-im-input-bar-editor[contenteditable="true"]'

CONTENT_SYSTEM = 100  # content_type of a platform notice ("你们已互相关注")


def is_chats_path(path: str) -> bool:
    return bool(CHATS_PATTERN.search(path))


@dataclass(frozen=True)
class Chat:
    peer: str  # chat_user_id: the other side, also the conversation id
    owner: str  # user_id: the account itself
    nickname: str
    mark: int  # max_store_id (else last_msg_time): grows with every new message
    official: bool
    ai_assistant: bool
    group: bool

    @property
    def skipped(self) -> str:
        """Why this chat is never opened ("" when it is read)."""
        if self.official:
            return "official account"
        if self.ai_assistant:
            return "AI assistant"
        if self.group:
            return "group chat"
        return ""


def chats(data: dict[str, Any]) -> list[Chat]:
    rows = data.get("chats")
    if not isinstance(rows, list):
        raise LayoutChanged(f"chats: expected data.chats, got {', '.join(sorted(data))}")
    out = []
    for raw in rows:
        row = require(raw, ("chat_user_id",), "chat")
        info: dict[str, Any] = row["info"] if isinstance(row.get("info"), dict) else {}
        mark = row.get("max_store_id", row.get("last_msg_time"))
        if not isinstance(mark, int):
            raise LayoutChanged(
                f"chat {row['chat_user_id']}: neither max_store_id nor last_msg_time "
                f"is a number; has {', '.join(sorted(row))}"
            )
        out.append(
            Chat(
                peer=str(row["chat_user_id"]),
                owner=str(row.get("user_id") or ""),
                nickname=str(info.get("nickname") or info.get("user_name") or ""),
                mark=mark,
                official=bool(info.get("is_official")),
                ai_assistant=bool(info.get("is_ai_assistant")),
                group=bool(row.get("group_chat") or row.get("is_group_chat")),
            )
        )
    return out


# ------------------------------------------------------------------ history


def history_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = data.get("out_message_list", data.get("message_list"))
    if not isinstance(rows, list):
        raise LayoutChanged(
            "message history: expected data.out_message_list or data.message_list, got "
            + ", ".join(sorted(data))
        )
    return [require(r, ("sender_id", "content", "created_at"), "message") for r in rows]


def kept(row: dict[str, Any]) -> bool:
    """Revoked messages (撤回) and group messages are not delivered."""
    return not row.get("revoked") and not row.get("group_chat")


def store_id(row: dict[str, Any]) -> int | None:
    value = row.get("store_id")
    return value if isinstance(value, int) else None


def message_id(row: dict[str, Any]) -> str:
    for key in ("id", "uuid", "store_id"):
        if row.get(key) not in (None, ""):
            return str(row[key])
    raise LayoutChanged(f"message has no id/uuid/store_id; has {', '.join(sorted(row))}")


def message_time(row: dict[str, Any]) -> int:
    return seconds(row["created_at"])


def _json(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def _card(inner: dict[str, Any], front_chain: str) -> str:
    """A picture or a shared note as one line of text."""
    if isinstance(inner.get("imageDataMap"), dict):
        return "[图片]"
    if inner.get("noteType") or inner.get("type") == "note":
        kind = "视频笔记" if inner.get("noteType") == "video" else "笔记"
        user: dict[str, Any] = inner["user"] if isinstance(inner.get("user"), dict) else {}
        text = f"[{kind}] {inner.get('title') or ''}".strip()
        return f"{text} · {user['nickname']}" if user.get("nickname") else text
    return front_chain or str(inner.get("frontChain") or "") or "[消息]"


def message_text(content: Any) -> str:
    """What a message says, as text a person reads (never its JSON)."""
    outer = _json(content) if isinstance(content, str) else content
    if outer is None:
        return str(content or "")  # a plain string is the text itself
    if not isinstance(outer, dict):
        return "[消息]"
    inner_raw = outer.get("content")
    front_chain = str(outer.get("front_chain") or "")
    inner = inner_raw if isinstance(inner_raw, dict) else _json(inner_raw)
    if isinstance(inner, dict):
        return _card(inner, front_chain)
    if isinstance(inner_raw, str) and inner_raw and inner is None:
        return inner_raw
    if outer.get("content_type") == CONTENT_SYSTEM and front_chain:
        return f"[系统提示] {front_chain}"
    return front_chain or "[消息]"


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


# ------------------------------------------------------------------ per-chat cursors

MARK_PREFIX = "x:"  # cursor keys "x:<peer>" hold the chat's mark when it was last read
MAX_CHAT_MARKS = 200  # bounds the cursor: the chats the list shows, at most this many


def chat_marks(marks: dict[str, int]) -> dict[str, int]:
    return {k[len(MARK_PREFIX) :]: v for k, v in marks.items() if k.startswith(MARK_PREFIX)}


def with_chat_marks(marks: dict[str, int], read: dict[str, int]) -> dict[str, int]:
    """The cursor's marks with the chats read in this cycle updated; only
    chats still listed are kept, newest marks first, at most MAX_CHAT_MARKS."""
    base = {k: v for k, v in marks.items() if not k.startswith(MARK_PREFIX)}
    newest = sorted(read.items(), key=lambda kv: kv[1], reverse=True)[:MAX_CHAT_MARKS]
    return base | {MARK_PREFIX + peer: mark for peer, mark in newest}
