"""Settings of one demo platform process."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8300
DEFAULT_QR_TTL = 60.0


@dataclass(frozen=True)
class DemoConfig:
    seed: int = 1
    qr_ttl: float = DEFAULT_QR_TTL
    # Empty: the admin API is open (fine on loopback). Set: X-Admin-Token must match.
    admin_token: str = ""
    # Origin put into the QR confirm URL; empty: the origin the browser used.
    public_url: str = ""
    # Users created at start: demo1..demoN.
    users: int = 3
    # Of those (or any name), which ones need the SMS step after the scan.
    sms_users: tuple[str, ...] = field(default_factory=tuple)
    # How often the login page polls the QR status, in milliseconds.
    login_poll_ms: int = 500
    # Wrong SMS codes accepted before the login fails.
    sms_max_attempts: int = 5
