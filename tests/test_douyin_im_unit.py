"""The protobuf wire reader and the Douyin IM answer decoder, on bytes the
test-side encoder builds from the public field numbers (unit tests of one
module each; the adapter test feeds the same bytes through the browser)."""

from __future__ import annotations

import json

import pytest

from tests import douyin_wire as enc
from worker.platforms import douyin_im as im
from worker.platforms.errors import LayoutChanged, PlatformError
from worker.platforms.wire import WireError, WireMessage

OWN = "3607962860399156"
CONV = f"0:1:88800001:{OWN}"


def msg(msg_id: str, kind: int, content: dict[str, object], sender: str = "88800001") -> dict:
    return {
        "msg_id": msg_id,
        "conversation_id": CONV,
        "sender_uid": sender,
        "type": kind,
        "content": content,
        "created_ms": 1761400300123,
    }


def test_the_reader_takes_every_wire_type_and_repeated_fields() -> None:
    data = enc.number(1, 300) + enc.fixed64(2, 2**40) + enc.length(3, "文本") + enc.length(3, b"x")
    data += b"\x25" + (7).to_bytes(4, "little")  # field 4, fixed32
    parsed = WireMessage.parse(data)
    assert parsed.number(1) == 300 and parsed.number(2) == 2**40 and parsed.number(4) == 7
    assert parsed.fields[3] == ["文本".encode(), b"x"] and parsed.raw(3) == b"x"
    assert parsed.number(9, default=-1) == -1 and parsed.text(9) == "" and parsed.message(9) is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x08", "truncated varint"),
        (b"\x0a\x05ab", "runs past the end"),
        (b"\x0b", "wire type 3"),
        (b"\x00\x01", "field number 0"),
        (b"\x08" + b"\xff" * 11, "longer than 10 bytes"),
    ],
)
def test_the_reader_refuses_what_is_not_protobuf(data: bytes, match: str) -> None:
    with pytest.raises(WireError, match=match):
        WireMessage.parse(data)


def test_a_field_of_the_wrong_kind_is_an_error_not_a_guess() -> None:
    parsed = WireMessage.parse(enc.number(1, 5) + enc.length(2, "x"))
    with pytest.raises(WireError):
        parsed.raw(1)
    with pytest.raises(WireError):
        parsed.number(2)


def test_an_init_answer_decodes_to_messages_with_readable_text() -> None:
    messages = [
        msg("3", 7, {"text": "今天营业到几点？"}),
        msg("2", 8, {"itemId": "1", "content_title": "开箱", "image_count": 3}),
        msg("1", 5, {"url": {}}),
        msg("4", 1, {"tips": "对方已通过你的好友请求"}),
        enc.command_message(CONV, OWN),
    ]
    own, decoded = im.decode_answer(enc.init_answer(OWN, messages))
    assert own == OWN
    assert [(m.msg_id, m.readable()) for m in decoded] == [
        ("3", "今天营业到几点？"),
        ("2", "[图集] 开箱"),
        ("1", "[表情]"),
        ("4", "对方已通过你的好友请求"),
    ]
    first = decoded[0]
    assert (first.conversation_id, first.sender_uid, first.created_ms) == (
        CONV,
        "88800001",
        1761400300123,
    )
    item = im.dm_item("acct", first, OWN, {"88800001": "王姐"})
    assert (item.author_name, item.created_at.seconds, item.outgoing) == ("王姐", 1761400300, False)
    assert json.loads(item.raw_json)["content"] == json.dumps(
        {"text": "今天营业到几点？"}, ensure_ascii=False
    )


def test_a_moved_shape_is_layout_changed_and_an_error_status_is_loud() -> None:
    with pytest.raises(LayoutChanged, match="unknown cmd 999"):
        im.decode_answer(enc.envelope(999, b"", OWN))
    with pytest.raises(LayoutChanged, match="not the protobuf shape"):
        im.decode_answer(b'{"status_code": 0}')
    assert im.decode_answer(enc.by_conversation_answer(OWN, []))[1] == []
    with pytest.raises(PlatformError, match="status 'FAIL'"):
        im.decode_answer(enc.envelope(im.CMD_INIT, b"", OWN, status="FAIL"))
    bad = enc.envelope(im.CMD_BY_CONVERSATION, enc.length(1, enc.number(3, 5)), OWN)
    with pytest.raises(LayoutChanged, match=r"lacks field\(s\) \[1, 7, 10\]"):
        im.decode_answer(bad)
