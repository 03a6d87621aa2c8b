"""Douyin's direct messages: the IM answers (protobuf, not JSON) and the
page's own IM store, both read into the same ImMessage records.

The IM hosts (imapi.snssdk.com for the creator centre, imapi.douyin.com on
www) answer `application/x-protobuf`. There is no published schema; the field
numbers below are the ones yunwuneo/agent-accounts reads
(src/agent_accounts/adapters/douyin/im.py and tests/test_douyin_im.py):

    envelope   1 cmd, 4 status text ("OK"), 6 {<cmd>: body}, 13 own uid
    body       2043 get_by_user_init:   1 entries[] {1 conversation, 2 messages[]}
               301  get_by_conversation: 1 messages[]
               2048 get_user_message:   2 {1 messages[]}
    message    1 conversation id, 3 server message id, 6 type, 7 sender uid,
               8 content (JSON text), 10 created (ms), 14 sender sec_uid
    types      7 text, 1 system, 5/15 sticker, 8 video share, 77 note share;
               50000 and up are the SDK's own commands, not messages

When that shape moves (a field missing, an unknown cmd), the adapter reads
the second source: the page's IM store (React props `imStore`:
converSationListOrigin[].lastMessage, msgListToPush[], userInfoFromServerMap),
as liuhongtao1981/HISCRM-IM-Portal docs/ describe it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from hiscrm.v1 import common_pb2
from worker.platforms.answers import timestamp
from worker.platforms.errors import LayoutChanged, PlatformError
from worker.platforms.wire import WireError, WireMessage

CMD_INIT = 2043
CMD_BY_CONVERSATION = 301
CMD_USER_MESSAGE = 2048
COMMAND_TYPES_FROM = 50000
TEXT, SYSTEM, VIDEO_SHARE, NOTE_SHARE = 7, 1, 8, 77
STICKERS = {5, 15}

# Answers the chat page loads (any of the two IM hosts).
INIT_PATH = "/v2/message/get_by_user_init"
BY_CONVERSATION_PATH = "/v1/message/get_by_conversation"
IM_PATHS = (INIT_PATH, BY_CONVERSATION_PATH)
IM_HOSTS = ("imapi.snssdk.com", "imapi.douyin.com")
# The IM user-info answer (JSON): data[] {uid, sec_uid, nickname}.
IM_USER_INFO_PATH = "/aweme/v1/web/im/user/info/"


@dataclass(frozen=True)
class ImMessage:
    msg_id: str
    conversation_id: str
    sender_uid: str
    sender_sec_uid: str
    kind: int
    content: str  # the platform's content JSON, verbatim
    created_ms: int
    source: str  # "wire" or "store"

    def readable(self) -> str:
        """What an operator reads: the text, or a label for what is not text."""
        try:
            body: Any = json.loads(self.content) if self.content else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if "itemId" in body:  # a shared work, whatever the type number says
            label = "[图集]" if body.get("image_count") or body.get("awemeType") == 68 else "[视频]"
            return f"{label} {body.get('content_title') or ''}".strip()
        if self.kind == TEXT:
            return str(body.get("text") or "")
        if self.kind == SYSTEM:
            return str(body.get("tips") or body.get("text") or "")
        if self.kind in STICKERS:
            return "[表情]"
        return str(body.get("text") or f"[消息类型 {self.kind}]")


def _message(raw: WireMessage) -> ImMessage | None:
    kind = raw.number(6)
    if kind >= COMMAND_TYPES_FROM:
        return None
    missing = [n for n in (1, 3, 7, 10) if not raw.has(n)]
    if missing:
        raise LayoutChanged(f"IM message lacks field(s) {missing}; has {sorted(raw.fields)}")
    return ImMessage(
        msg_id=str(raw.number(3)),
        conversation_id=raw.text(1),
        sender_uid=str(raw.number(7)),
        sender_sec_uid=raw.text(14),
        kind=kind,
        content=raw.text(8),
        created_ms=raw.number(10),
        source="wire",
    )


def decode_answer(body: bytes) -> tuple[str, list[ImMessage]]:
    """The own uid the envelope names ("" if none) and the messages of one
    IM answer. A shape that is not the known one is LayoutChanged; an IM
    error status is a PlatformError."""
    try:
        envelope = WireMessage.parse(body)
        cmd = envelope.number(1)
        status = envelope.text(4)
        if status != "OK":
            if not envelope.has(4):
                fields = sorted(envelope.fields)
                raise LayoutChanged(f"IM answer without a status (fields {fields})")
            raise PlatformError(f"IM answer for cmd {cmd}: status {status!r}")
        wrapper = envelope.message(6)
        payload = wrapper.message(cmd) if wrapper is not None else None
        if payload is None:
            raise LayoutChanged(f"IM answer for cmd {cmd} has no body under 6.{cmd}")
        if cmd == CMD_INIT:
            raw = [m for entry in payload.messages(1) for m in entry.messages(2)]
        elif cmd == CMD_BY_CONVERSATION:
            raw = payload.messages(1)
        elif cmd == CMD_USER_MESSAGE:
            raw = [m for box in payload.messages(2) for m in box.messages(1)]
        else:
            raise LayoutChanged(f"IM answer for an unknown cmd {cmd}")
        own = envelope.number(13)
        messages = [m for m in map(_message, raw) if m is not None]
    except WireError as exc:
        raise LayoutChanged(f"IM answer is not the protobuf shape known: {exc}") from None
    return (str(own) if own else ""), messages


def user_names(body: Any) -> dict[str, str]:
    """uid and sec_uid -> nickname, from an IM user-info answer."""
    names: dict[str, str] = {}
    rows = body.get("data") if isinstance(body, dict) else None
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("nickname"):
            for key in ("uid", "sec_uid"):
                if row.get(key):
                    names[str(row[key])] = str(row["nickname"])
    return names


# The page's IM store, found through the React fiber props of its elements;
# null when the page has none. Messages come back in the ImMessage shape.
IM_STORE_JS = """() => {
  const findStore = () => {
    const nodes = document.querySelectorAll('body *');
    for (let i = 0; i < nodes.length && i < 5000; i++) {
      const key = Object.keys(nodes[i]).find((k) => k.startsWith('__reactFiber'));
      let fiber = key ? nodes[i][key] : null;
      for (let depth = 0; fiber && depth < 40; depth++, fiber = fiber.return) {
        const props = fiber.memoizedProps;
        if (props && props.imStore) return props.imStore;
      }
    }
    return null;
  };
  const store = findStore();
  if (!store) return null;
  const messages = [];
  const add = (m) => {
    if (!m || !m.serverId) return;
    messages.push({
      msg_id: String(m.serverId), conversation_id: String(m.conversationId || ''),
      sender_uid: String(m.sender || ''), sender_sec_uid: String(m.secSender || ''),
      kind: Number(m.type || 0),
      content: typeof m.content === 'string' ? m.content : JSON.stringify(m.content || {}),
      created_ms: Date.parse(m.createdAt) || 0,
    });
  };
  for (const c of store.converSationListOrigin || []) add(c.lastMessage);
  for (const m of store.msgListToPush || []) add(m);
  const names = {};
  for (const [key, u] of Object.entries(store.userInfoFromServerMap || {})) {
    if (u && u.nickname) { names[String(u.uid || key)] = String(u.nickname);
                           if (u.sec_uid) names[String(u.sec_uid)] = String(u.nickname); }
  }
  return {messages, names};
}"""


def store_messages(found: Any) -> tuple[list[ImMessage], dict[str, str]]:
    """What IM_STORE_JS returned, checked; LayoutChanged when there is no store."""
    if not isinstance(found, dict):
        raise LayoutChanged("the chat page has no IM store (React props imStore) either")
    messages = []
    for row in found.get("messages") or []:
        try:
            messages.append(
                ImMessage(
                    msg_id=str(row["msg_id"]),
                    conversation_id=str(row["conversation_id"]),
                    sender_uid=str(row["sender_uid"]),
                    sender_sec_uid=str(row.get("sender_sec_uid") or ""),
                    kind=int(row.get("kind") or 0),
                    content=str(row.get("content") or ""),
                    created_ms=int(row["created_ms"]),
                    source="store",
                )
            )
        except (KeyError, TypeError, ValueError):
            raise LayoutChanged(f"IM store message not understood: {str(row)[:160]}") from None
    names = {str(k): str(v) for k, v in (found.get("names") or {}).items()}
    return [m for m in messages if m.kind < COMMAND_TYPES_FROM], names


def dm_item(
    account_id: str, message: ImMessage, self_uid: str, names: dict[str, str]
) -> common_pb2.Item:
    name = names.get(message.sender_uid) or names.get(message.sender_sec_uid, "")
    return common_pb2.Item(
        platform=common_pb2.PLATFORM_DOUYIN,
        account_id=account_id,
        kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE,
        platform_item_id=message.msg_id,
        author_id=message.sender_uid,
        author_name=name,
        content=message.readable(),
        conversation_id=message.conversation_id,
        outgoing=bool(self_uid) and message.sender_uid == self_uid,
        created_at=timestamp(message.created_ms),
        raw_json=json.dumps(asdict(message), ensure_ascii=False),
    )
