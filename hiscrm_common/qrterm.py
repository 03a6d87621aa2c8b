"""Draw a QR code image in a terminal with half-block characters, so that a
phone can scan it from the screen.

Platforms hand us a PNG, not the QR's text, so the PNG is decoded (a small
decoder for the non-interlaced PNGs QR generators write), the module size is
measured on the top-left finder pattern, and each module is sampled once.
"""

from __future__ import annotations

import struct
import zlib

UPPER, LOWER, FULL, EMPTY = "\u2580", "\u2584", "\u2588", " "


class QrImageError(ValueError):
    pass


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png_gray(data: bytes) -> list[list[int]]:
    """Rows of luminance 0..255."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise QrImageError("not a PNG image")
    pos, idat, palette = 8, bytearray(), b""
    width = height = depth = ctype = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if interlace:
        raise QrImageError("interlaced PNGs are not supported")
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(ctype)
    if channels is None or depth not in (1, 2, 4, 8):
        raise QrImageError(f"unsupported PNG (colour type {ctype}, depth {depth})")
    bits = channels * depth
    stride = (width * bits + 7) // 8
    bpp = max(1, bits // 8)
    raw = zlib.decompress(bytes(idat))
    rows: list[list[int]] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = prev[i]
            upleft = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + left) & 0xFF
            elif f == 2:
                line[i] = (line[i] + up) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif f == 4:
                line[i] = (line[i] + _paeth(left, up, upleft)) & 0xFF
        prev = line
        rows.append(_luma_row(line, width, depth, ctype, channels, palette))
    return rows


def _luma_row(
    line: bytearray, width: int, depth: int, ctype: int, channels: int, palette: bytes
) -> list[int]:
    out = []
    if depth < 8:
        per = 8 // depth
        mask = (1 << depth) - 1
        for x in range(width):
            v = (line[x // per] >> (8 - depth * (x % per + 1))) & mask
            if ctype == 3:
                r, g, b = palette[3 * v : 3 * v + 3]
                out.append((r * 299 + g * 587 + b * 114) // 1000)
            else:
                out.append(v * 255 // mask)
        return out
    for x in range(width):
        px = line[x * channels : (x + 1) * channels]
        if ctype == 3:
            r, g, b = palette[3 * px[0] : 3 * px[0] + 3]
            out.append((r * 299 + g * 587 + b * 114) // 1000)
        elif ctype in (0, 4):
            out.append(px[0] if ctype == 0 or px[1] > 0 else 255)
        else:
            alpha = px[3] if ctype == 6 else 255
            luma = (px[0] * 299 + px[1] * 587 + px[2] * 114) // 1000
            out.append(luma if alpha > 127 else 255)
    return out


def modules(png: bytes) -> list[list[bool]]:
    """The QR's dark modules, quiet zone removed."""
    gray = decode_png_gray(png)
    dark = [[v < 128 for v in row] for row in gray]
    ys = [y for y, row in enumerate(dark) if any(row)]
    xs = [x for x in range(len(dark[0])) if any(row[x] for row in dark)]
    if not ys or not xs:
        raise QrImageError("the image has no dark pixels")
    top, left, bottom, right = ys[0], xs[0], ys[-1], xs[-1]
    run = 0
    while left + run <= right and dark[top][left + run]:
        run += 1
    module = run / 7  # the finder pattern's outer ring is 7 modules wide
    if module < 1:
        raise QrImageError("cannot find the QR's finder pattern")
    count = round((right - left + 1) / module)
    return [
        [
            dark[min(bottom, int(top + (r + 0.5) * module))][
                min(right, int(left + (c + 0.5) * module))
            ]
            for c in range(count)
        ]
        for r in range(count)
    ]


def render(png: bytes, *, quiet: int = 2) -> str:
    """Half-block text: light modules are drawn, so it reads as dark-on-light
    on the usual dark terminal background."""
    grid = modules(png)
    size = len(grid) + 2 * quiet
    padded = [[False] * size for _ in range(quiet)]
    padded += [[False] * quiet + row + [False] * quiet for row in grid]
    padded += [[False] * size for _ in range(quiet)]
    if len(padded) % 2:
        padded.append([False] * size)
    lines = []
    for y in range(0, len(padded), 2):
        top, bottom = padded[y], padded[y + 1]
        chars = []
        for a, b in zip(top, bottom, strict=True):
            light_a, light_b = not a, not b
            chars.append(
                FULL if light_a and light_b else UPPER if light_a else LOWER if light_b else EMPTY
            )
        lines.append("".join(chars))
    return "\n".join(lines)
