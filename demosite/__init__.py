"""A small local social network for driving browser workers against.

It behaves like the real platforms where it matters to a worker: QR login with
expiry and an optional SMS step, a creator centre that loads its data through
JSON APIs, a live WebSocket channel, and an admin API to inject traffic and
faults (captcha, rate limit, expired session, changed layout).
"""

from __future__ import annotations

from demosite.app import create_app
from demosite.config import DemoConfig
from demosite.state import DemoState

__all__ = ["DemoConfig", "DemoState", "create_app"]
