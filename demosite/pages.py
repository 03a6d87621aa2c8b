"""HTML pages from the templates in `demosite/static/`.

Templates hold `{{NAME}}` markers; values are HTML-escaped, except `CONFIG`,
which becomes a JSON object the page script reads from `<script id="config">`.
"""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path
from typing import Any

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"


@functools.cache
def _template(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def render(name: str, config: dict[str, Any] | None = None, **values: str) -> str:
    page = _template(name)
    if config is not None:
        # "</" inside a script block would end it early.
        page = page.replace(
            "{{CONFIG}}", json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
        )
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", html.escape(value, quote=True))
    return page


def html_response(
    name: str, config: dict[str, Any] | None = None, status: int = 200, **values: str
) -> web.Response:
    return web.Response(
        text=render(name, config, **values),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


def avatar_svg(key: str) -> str:
    """A small deterministic avatar: a coloured disc with two characters of the key."""
    hue = sum(key.encode()) * 37 % 360
    label = html.escape(key[-2:] if key else "?")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<circle cx="32" cy="32" r="32" fill="hsl({hue},60%,55%)"/>'
        '<text x="32" y="40" font-size="22" text-anchor="middle" fill="#fff" '
        f'font-family="sans-serif">{label}</text></svg>'
    )
