"""A test-side protobuf encoder for Douyin's IM answers, following the field
numbers yunwuneo/agent-accounts reads (src/agent_accounts/adapters/douyin/
im.py, tests/test_douyin_im.py): the fixture site answers the chat page with
these bytes, as imapi.snssdk.com does, and the adapter's own reader
(worker/platforms/wire.py) must get the messages back. The three primitives
are the demo platform's (it answers binary IM too)."""

from __future__ import annotations

import json
from typing import Any

from demosite.protowire import length, number, varint

CMD_INIT = 2043
CMD_BY_CONVERSATION = 301


def fixed64(field: int, value: int) -> bytes:
    return varint(field << 3 | 1) + value.to_bytes(8, "little")


def message(m: dict[str, Any], index: int = 0) -> bytes:
    """One IM message: 1 conversation, 3 server id, 4 index, 6 type,
    7 sender uid, 8 content JSON, 10 created ms, 14 sender sec_uid."""
    return b"".join(
        [
            length(1, m["conversation_id"]),
            number(3, int(m["msg_id"])),
            number(4, index),
            number(6, int(m["type"])),
            number(7, int(m["sender_uid"])),
            length(8, json.dumps(m["content"], ensure_ascii=False)),
            number(10, int(m["created_ms"])),
            length(14, m.get("sender_sec_uid", "")),
            fixed64(99, 7),  # a field the reader does not know: skipped
        ]
    )


def conversation(conversation_id: str, uids: list[str]) -> bytes:
    """1 id, 3 type (1: one-to-one), 6 {1 participants[] {1 uid}}."""
    members = b"".join(length(1, number(1, int(uid))) for uid in uids)
    return length(1, conversation_id) + number(3, 1) + length(6, members)


def envelope(cmd: int, body: bytes, own_uid: str, status: str = "OK") -> bytes:
    """1 cmd, 4 status, 6 {<cmd>: body}, 13 own uid."""
    return (
        number(1, cmd) + length(4, status) + length(6, length(cmd, body)) + number(13, int(own_uid))
    )


def init_answer(own_uid: str, messages: list[dict[str, Any]]) -> bytes:
    """get_by_user_init: one entry per conversation, its messages newest first."""
    entries = b""
    for conv in dict.fromkeys(m["conversation_id"] for m in messages):
        of = [m for m in messages if m["conversation_id"] == conv]
        uids = sorted({m["sender_uid"] for m in of} | {own_uid})
        body = length(1, conversation(conv, uids))
        body += b"".join(length(2, message(m, i)) for i, m in enumerate(of))
        entries += length(1, body)
    return envelope(CMD_INIT, entries, own_uid)


def by_conversation_answer(own_uid: str, messages: list[dict[str, Any]]) -> bytes:
    body = b"".join(length(1, message(m, i)) for i, m in enumerate(messages))
    return envelope(CMD_BY_CONVERSATION, body, own_uid)


def command_message(conversation_id: str, own_uid: str) -> dict[str, Any]:
    """A read-receipt style SDK command (type 50000 and up): not a message."""
    return {
        "msg_id": "7432100000000099999",
        "conversation_id": conversation_id,
        "sender_uid": own_uid,
        "type": 50011,
        "content": {"command_type": 1},
        "created_ms": 1761400400000,
    }
