"""The demo platform's binary IM answer: the messages API in protobuf, laid
out with the field numbers public code reads from Douyin's IM answers
(yunwuneo/agent-accounts src/agent_accounts/adapters/douyin/im.py), so the
worker's wire reader meets a real binary answer in the demo and the tests.

    envelope  1 cmd (301, a conversation's messages), 4 "OK", 6 {301: {1: messages[]}},
              13 the account's uid; demo-only paging: 20 has_more, 21 cursor
    message   1 conversation id, 3 message id, 6 type (7 text), 7 sender uid,
              8 content JSON {"text"}, 10 created (ms)
"""

from __future__ import annotations

import json

from demosite.models import Message

CMD_BY_CONVERSATION = 301
TEXT_TYPE = 7
CONTENT_TYPE = "application/x-protobuf"


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def number(field: int, value: int) -> bytes:
    return varint(field << 3) + varint(value)


def length(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return varint(field << 3 | 2) + varint(len(data)) + data


def message(m: Message) -> bytes:
    return b"".join(
        [
            length(1, m.conversation_id),
            number(3, int(m.message_id)),
            number(6, TEXT_TYPE),
            number(7, int(m.sender_id)),
            length(8, json.dumps({"text": m.text}, ensure_ascii=False)),
            number(10, m.create_time * 1000),
        ]
    )


def messages_answer(own_uid: str, messages: list[Message], cursor: int, has_more: bool) -> bytes:
    body = b"".join(length(1, message(m)) for m in messages)
    return b"".join(
        [
            number(1, CMD_BY_CONVERSATION),
            length(4, "OK"),
            length(6, length(CMD_BY_CONVERSATION, body)),
            number(13, int(own_uid)),
            number(20, int(has_more)),
            number(21, cursor),
        ]
    )
