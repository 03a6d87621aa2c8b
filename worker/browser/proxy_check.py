"""Proxy strings, and a health check that goes through the proxy.

An account's proxy is a URL: `scheme://user:pass@host:port` with scheme http,
https or socks5 (socks5h is the same thing: the proxy resolves host names;
empty, "direct" or "none": no proxy). Chromium takes http proxies with their
credentials as they are; socks5 (Chromium cannot authenticate to one,
microsoft/playwright#10567) and https go through the worker's local relay
(proxy_relay.py). The password must never reach a log line, so everything
here prints `redacted()` and passes library messages through `scrub()`.

The proxy protocols themselves (SOCKS5 with RFC 1929 auth, HTTP CONNECT with
Basic auth, TLS to an https proxy) are python-socks's, here and in the relay.

Two checks, both returning a ProxyHealth (ok, latency_ms, detail):

- `check_proxy(proxy, url)`: a raw tunnel with no browser: through the proxy
  to the check URL's host, then TLS when the URL is https, then one HEAD
  request. Cheap, and usable before any context exists.
- `check_in_context(context, url)`: one request through the account's
  BrowserContext (`context.request`), i.e. exactly the network path its pages
  use, relay and proxy credentials included.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from playwright.async_api import BrowserContext
from playwright.async_api import Error as PlaywrightError
from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
from python_socks.async_.asyncio.v2 import Proxy

from hiscrm_common import settings

DEFAULT_CHECK_URL = settings.get().proxy_check_url  # HISCRM_PROXY_CHECK_URL
DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080}
# Chromium cannot authenticate to a SOCKS5 proxy, nor be pointed at a CA for
# an https one: these go through the local relay (proxy_relay.py).
RELAYED_SCHEMES = ("socks5", "https")


@dataclass(frozen=True)
class ProxySpec:
    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def relayed(self) -> bool:
        """Whether Chromium reaches this proxy through the local relay."""
        return self.scheme in RELAYED_SCHEMES

    @property
    def server(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def playwright(self) -> dict[str, str]:
        """The `proxy` argument of Browser.new_context."""
        out = {"server": self.server}
        if self.username:
            out["username"] = self.username
            out["password"] = self.password
        return out

    def redacted(self) -> str:
        if not self.username:
            return self.server
        host = self.server.split("://", 1)[1]
        return f"{self.scheme}://{self.username}:***@{host}"

    def scrub(self, text: str) -> str:
        """`text` with the password removed (for error details from libraries)."""
        if self.password:
            for form in {self.password, quote(self.password, safe=""), quote(self.password)}:
                text = text.replace(form, "***")
        return text


def parse_proxy(raw: str | None) -> ProxySpec | None:
    """`scheme://user:pass@host:port` (or `host:port`, meaning http) → ProxySpec."""
    text = (raw or "").strip()
    if text.lower() in ("", "direct", "none"):
        return None
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "socks5h":
        scheme = "socks5"
    if scheme not in DEFAULT_PORTS:
        raise ValueError(
            f"proxy scheme {parts.scheme!r} is not supported; use http, https or socks5"
        )
    if not parts.hostname:
        raise ValueError("proxy has no host; expected scheme://user:pass@host:port")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError("proxy port is not a number between 1 and 65535") from None
    return ProxySpec(
        scheme=scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


@dataclass(frozen=True)
class ProxyHealth:
    ok: bool
    latency_ms: float
    detail: str
    checked_at: float = field(default_factory=time.time)


class _CheckFailed(Exception):
    pass


def upstream(spec: ProxySpec) -> Proxy:
    """A python-socks client for `spec`: SOCKS5 or HTTP CONNECT, over TLS for
    https, with host names resolved by the proxy (as Chromium does)."""
    kind = ProxyType.SOCKS5 if spec.scheme == "socks5" else ProxyType.HTTP
    return Proxy(
        kind,
        spec.host,
        spec.port,
        username=spec.username or None,
        password=spec.password or None,
        rdns=True,
        proxy_ssl=ssl.create_default_context() if spec.scheme == "https" else None,
    )


def describe_failure(spec: ProxySpec, exc: BaseException, within: float) -> str:
    """What went wrong on the way through the proxy, for an operator (no password)."""
    if isinstance(exc, ProxyTimeoutError | TimeoutError):
        text = f"no answer from the proxy within {within:g}s"
    elif isinstance(exc, ProxyConnectionError):
        text = f"cannot reach the proxy {spec.server}: {exc.strerror or exc}"
    elif isinstance(exc, ProxyError):
        code = exc.error_code
        if code == 407:
            text = "the proxy refused the credentials (407)"
        elif "authentication" in str(exc).lower():
            text = f"the SOCKS5 proxy refused the credentials ({exc})"
        elif spec.scheme == "socks5" and code:
            text = f"the SOCKS5 proxy failed to connect: {exc}"
        else:
            text = f"the proxy refused the tunnel: {exc}"
    elif isinstance(exc, asyncio.IncompleteReadError):
        text = "the proxy hung up in the middle of the handshake (is it the scheme it says?)"
    elif isinstance(exc, ssl.SSLError):
        text = f"TLS failed: {exc.reason or exc}"
    elif isinstance(exc, _CheckFailed):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return spec.scrub(text)


def is_proxy_failure(browser_error: str) -> bool:
    """True for Chromium's net errors that mean "the proxy", not the site."""
    return any(mark in browser_error for mark in _CHROMIUM_PROXY_ERRORS)


_CHROMIUM_PROXY_ERRORS = ("ERR_PROXY_", "ERR_SOCKS_", "ERR_TUNNEL_CONNECTION_FAILED")


async def _read_status(reader: asyncio.StreamReader) -> int:
    try:
        line = await reader.readline()
    except ValueError:
        raise _CheckFailed("the answer's status line is too long") from None
    bits = line.decode("latin-1").split(" ", 2)
    if len(bits) < 2 or not bits[0].startswith("HTTP/") or not bits[1].isdigit():
        raise _CheckFailed(f"not an HTTP answer: {line[:80]!r}")
    return int(bits[1])


async def _through(spec: ProxySpec, url: str, within: float) -> str:
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise ValueError(f"check URL {url!r} must be http(s)://host/...")
    host = target.hostname
    port = target.port or (443 if target.scheme == "https" else 80)
    # asyncio runs no TLS inside the TLS to an https proxy: an open tunnel is the answer.
    inner_tls = target.scheme == "https" and spec.scheme != "https"
    stream = await upstream(spec).connect(
        host, port, dest_ssl=ssl.create_default_context() if inner_tls else None, timeout=within
    )
    try:
        if target.scheme == "https" and not inner_tls:
            return f"tunnel to {host}:{port} open"
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        await stream.write(
            f"HEAD {path} HTTP/1.1\r\nHost: {target.netloc}\r\n"
            "User-Agent: hiscrm-proxy-check\r\nConnection: close\r\n\r\n".encode()
        )
        status = await _read_status(stream.reader)
        return f"{target.netloc} answered {status}"
    finally:
        await stream.close()


async def check_proxy(
    proxy: str | ProxySpec | None, url: str = DEFAULT_CHECK_URL, within: float = 10.0
) -> ProxyHealth:
    """Open a tunnel through `proxy` to `url` and make one HEAD request."""
    spec = proxy if isinstance(proxy, ProxySpec) or proxy is None else parse_proxy(proxy)
    if spec is None:
        return ProxyHealth(True, 0.0, "no proxy (direct connection)")
    started = time.monotonic()
    try:
        async with asyncio.timeout(within):
            detail = await _through(spec, url, within)
    except (
        ProxyError,
        ProxyConnectionError,
        ProxyTimeoutError,
        _CheckFailed,
        OSError,
        ssl.SSLError,
        TimeoutError,
        asyncio.IncompleteReadError,
    ) as exc:
        return ProxyHealth(False, _ms(started), describe_failure(spec, exc, within))
    return ProxyHealth(True, _ms(started), detail)


async def check_in_context(
    context: BrowserContext,
    url: str = DEFAULT_CHECK_URL,
    within: float = 10.0,
    spec: ProxySpec | None = None,
) -> ProxyHealth:
    """One request through the context's own network stack (and proxy)."""
    started = time.monotonic()
    try:
        response = await context.request.head(
            url, timeout=within * 1000, max_redirects=0, fail_on_status_code=False
        )
        status = response.status
        await response.dispose()
    except PlaywrightError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if spec is not None:
            detail = spec.scrub(detail)
        return ProxyHealth(False, _ms(started), detail)
    if status == 407:
        return ProxyHealth(False, _ms(started), "the proxy refused the credentials (407)")
    return ProxyHealth(True, _ms(started), f"{urlsplit(url).netloc} answered {status}")


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
