"""QR code PNGs for the login page.

The PNG is a plain segno rendering of the confirm URL. It also carries the URL
in a `tEXt` chunk (keyword `qr_content`) so that tests holding only the relayed
bytes can read it back without a QR decoder; browsers ignore the chunk.
"""

from __future__ import annotations

import io
import struct
import zlib

import segno

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_KEYWORD = "qr_content"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def render_png(content: str, scale: int = 6, border: int = 4) -> bytes:
    """segno's PNG of `content` with a tEXt chunk holding `content` after IHDR."""
    buf = io.BytesIO()
    segno.make(content, error="m").save(buf, kind="png", scale=scale, border=border)
    png = buf.getvalue()
    ihdr_end = len(PNG_SIGNATURE) + 8 + struct.unpack(">I", png[8:12])[0] + 4
    text = _chunk(b"tEXt", TEXT_KEYWORD.encode("latin-1") + b"\0" + content.encode("latin-1"))
    return png[:ihdr_end] + text + png[ihdr_end:]


def png_text(png: bytes) -> dict[str, str]:
    """The tEXt entries of a PNG (keyword -> text)."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    out: dict[str, str] = {}
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and b"\0" in data:
            key, _, value = data.partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        if kind == b"IEND":
            break
        pos += 12 + length
    return out


def qr_content(png: bytes) -> str | None:
    """The confirm URL a demo-site QR PNG encodes, read from its tEXt chunk."""
    return png_text(png).get(TEXT_KEYWORD)
