"""A small reader of the protobuf wire format, for platform answers whose
schema we do not have (Douyin's IM answers): a message is read into its
field numbers and raw values, and the caller says which number means what.

Wire types: 0 varint, 1 fixed64, 2 length-delimited (bytes, strings and
nested messages alike), 5 fixed32. Groups (3, 4) are long obsolete and are
refused, like any truncated or malformed input, with WireError.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
MAX_DEPTH = 32  # nesting the reader follows before it calls the input hostile


class WireError(ValueError):
    """Not a protobuf message (or not the one expected)."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at pos and the position after it."""
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes")


@dataclass
class WireMessage:
    """Field number -> the values seen for it, in order (repeated fields
    have several). Varints and fixed numbers are ints, length-delimited
    values are bytes until the caller reads them as a string or message."""

    fields: dict[int, list[int | bytes]] = field(default_factory=dict)
    depth: int = 0

    @classmethod
    def parse(cls, data: bytes, depth: int = 0) -> WireMessage:
        if depth > MAX_DEPTH:
            raise WireError("messages nested too deep")
        out = cls(depth=depth)
        pos = 0
        while pos < len(data):
            key, pos = read_varint(data, pos)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise WireError("field number 0")
            value: int | bytes
            if wire == VARINT:
                value, pos = read_varint(data, pos)
            elif wire == FIXED64:
                value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
            elif wire == FIXED32:
                value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
            elif wire == LENGTH:
                size, pos = read_varint(data, pos)
                value, pos = data[pos : pos + size], pos + size
            else:
                raise WireError(f"wire type {wire} (field {number}) is not supported")
            if pos > len(data):
                raise WireError(f"field {number} runs past the end")
            out.fields.setdefault(number, []).append(value)
        return out

    def has(self, number: int) -> bool:
        return number in self.fields

    def number(self, number: int, default: int = 0) -> int:
        """The last value of a number field (proto3: the last one wins)."""
        values = self.fields.get(number)
        if not values:
            return default
        value = values[-1]
        if not isinstance(value, int):
            raise WireError(f"field {number} is length-delimited, not a number")
        return value

    def raw(self, number: int) -> bytes:
        values = self.fields.get(number)
        if not values:
            return b""
        value = values[-1]
        if not isinstance(value, bytes):
            raise WireError(f"field {number} is a number, not length-delimited")
        return value

    def text(self, number: int) -> str:
        try:
            return self.raw(number).decode("utf-8")
        except UnicodeDecodeError:
            raise WireError(f"field {number} is not UTF-8 text") from None

    def message(self, number: int) -> WireMessage | None:
        return WireMessage.parse(self.raw(number), self.depth + 1) if self.has(number) else None

    def messages(self, number: int) -> list[WireMessage]:
        out = []
        for value in self.fields.get(number, []):
            if not isinstance(value, bytes):
                raise WireError(f"field {number} is a number, not a message")
            out.append(WireMessage.parse(value, self.depth + 1))
        return out
