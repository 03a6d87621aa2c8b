"""Checks on operator input, each failing with a message that says the fix."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from hiscrm.v1 import common_pb2
from master import proxysecret
from master.limits import ID_RE as ACCOUNT_ID_RE
from master.limits import MAX_DISPLAY_NAME, MAX_SYNTHETIC_CONTENT

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
MIN_INTERVAL_MS = 200
MAX_INTERVAL_MS = 24 * 3600 * 1000


class InvalidInput(ValueError):
    """Bad input; the message is shown to the client as INVALID_ARGUMENT."""


def check_account_id(account_id: str) -> None:
    if not ACCOUNT_ID_RE.match(account_id):
        raise InvalidInput(
            f"account_id {account_id!r} is invalid: use 1-64 letters, digits and '_.:-', "
            "starting with a letter or digit"
        )


def check_proxy(proxy: str) -> None:
    """Empty, or scheme://[user:pass@]host:port with a scheme the worker can use.

    http goes to Chromium as it is; socks5 (socks5h: the same, the proxy
    resolves names) and https go through the worker's local relay, which
    authenticates for Chromium (worker/browser/proxy_relay.py). Anything else
    is refused here rather than failing later on the worker. The messages
    never repeat the password."""
    if not proxy:
        return
    shown = proxysecret.shown(proxy)  # never the password in a message
    try:
        parts = urlsplit(proxy)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"proxy {shown!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme in PROXY_INSTEAD:
        raise InvalidInput(f"proxy {shown!r}: {PROXY_INSTEAD[scheme]}")
    if scheme not in PROXY_SCHEMES:
        raise InvalidInput(
            f"proxy {shown!r}: scheme must be one of {', '.join(PROXY_SCHEMES)} "
            "(e.g. socks5://user:pass@10.0.0.5:1080)"
        )
    if not parts.hostname:
        raise InvalidInput(f"proxy {shown!r}: missing host (e.g. http://10.0.0.5:8080)")
    if port is None:
        raise InvalidInput(f"proxy {shown!r}: missing port (e.g. http://{parts.hostname}:8080)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidInput(f"proxy {shown!r}: must not have a path, query or fragment")
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    if bool(user) != bool(password):
        raise InvalidInput(f"proxy {shown!r}: give both user and password, or neither")
    if scheme.startswith("socks5") and max(len(user.encode()), len(password.encode())) > 255:
        raise InvalidInput(
            f"proxy {shown!r}: SOCKS5 allows at most 255 bytes of user name and of password"
        )
    if scheme in ("http", "https") and ":" in user:
        raise InvalidInput(f"proxy {shown!r}: an HTTP proxy's user name cannot contain ':'")


# Forms a vendor may hand out that cannot work, and what to write instead.
PROXY_INSTEAD = {
    "socks4": "SOCKS4 is not supported; ask the vendor for the SOCKS5 form, socks5://user:pass@host:port",
    "socks4a": "SOCKS4a is not supported; ask the vendor for the SOCKS5 form, socks5://user:pass@host:port",
    "socks": "say which SOCKS: socks5://user:pass@host:port",
}


def check_spec(spec: common_pb2.AccountSpec) -> None:
    if spec.platform == common_pb2.PLATFORM_UNSPECIFIED or spec.platform not in (
        common_pb2.Platform.values()
    ):
        known = ", ".join(n for n in common_pb2.Platform.keys() if n != "PLATFORM_UNSPECIFIED")
        raise InvalidInput(f"spec.platform is required: one of {known}")
    if len(spec.display_name) > MAX_DISPLAY_NAME:
        raise InvalidInput(f"spec.display_name is longer than {MAX_DISPLAY_NAME} characters")
    if not MIN_INTERVAL_MS <= spec.monitor_interval_ms <= MAX_INTERVAL_MS:
        raise InvalidInput(
            f"spec.monitor_interval_ms={spec.monitor_interval_ms} is out of range "
            f"[{MIN_INTERVAL_MS}, {MAX_INTERVAL_MS}]"
        )
    check_proxy(spec.proxy)
    if spec.HasField("synthetic"):
        syn = spec.synthetic
        if spec.platform != common_pb2.PLATFORM_SYNTHETIC:
            raise InvalidInput("spec.synthetic options are only for platform PLATFORM_SYNTHETIC")
        if not 0 < syn.items_per_second <= 1_000_000:
            raise InvalidInput("spec.synthetic.items_per_second must be in (0, 1000000]")
        if syn.dm_percent > 100:
            raise InvalidInput("spec.synthetic.dm_percent must be 0..100")
        if syn.content_bytes > MAX_SYNTHETIC_CONTENT:
            raise InvalidInput(
                f"spec.synthetic.content_bytes must be at most {MAX_SYNTHETIC_CONTENT} "
                "(the master's limit on an item's content)"
            )
    if spec.HasField("demo"):
        if spec.platform != common_pb2.PLATFORM_DEMO:
            raise InvalidInput("spec.demo options are only for platform PLATFORM_DEMO")
        url = urlsplit(spec.demo.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidInput(
                f"spec.demo.base_url {spec.demo.base_url!r} must be http(s)://host:port"
            )


def enum_names(enum: Any, values: Iterable[int], field: str) -> list[str]:
    """Names of enum values from a request; an unknown number is bad input."""
    names = []
    for value in values:
        try:
            names.append(enum.Name(value))
        except ValueError:
            raise InvalidInput(f"{field}: {value} is not a known {enum.DESCRIPTOR.name}") from None
    return names
