"""The terminal QR renderer reads back exactly the modules segno drew."""

from __future__ import annotations

import io

import pytest
import segno

from hiscrm_common.qrterm import QrImageError, modules, render


@pytest.mark.parametrize("scale", [1, 3, 8])
@pytest.mark.parametrize("kind", ["png"])
def test_modules_match_the_matrix(scale: int, kind: str) -> None:
    qr = segno.make("http://127.0.0.1:8300/api/login/scan?token=abc123", error="m")
    buf = io.BytesIO()
    qr.save(buf, kind=kind, scale=scale, border=4, dark="#111", light="white")
    expected = [[bool(v) for v in row] for row in qr.matrix]
    assert modules(buf.getvalue()) == expected


def test_rgba_png_from_a_browser_screenshot_style() -> None:
    qr = segno.make("hello")
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=5, dark=(0, 0, 0, 255), light=(255, 255, 255, 255))
    assert modules(buf.getvalue()) == [[bool(v) for v in row] for row in qr.matrix]


def test_render_uses_half_blocks_two_rows_per_line() -> None:
    qr = segno.make("x")
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=2)
    text = render(buf.getvalue(), quiet=2)
    lines = text.splitlines()
    assert len(lines) == (len(qr.matrix) + 4 + 1) // 2
    assert set(text) <= {"\u2580", "\u2584", "\u2588", " ", "\n"}


def test_not_a_png() -> None:
    with pytest.raises(QrImageError):
        modules(b"GIF89a")
