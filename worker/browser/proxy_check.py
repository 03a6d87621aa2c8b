"""Proxy strings, and a health check that goes through the proxy.

An account's proxy is a URL: `scheme://user:pass@host:port` with scheme http,
https or socks5 (empty, "direct" or "none": no proxy). Playwright wants it
split into server/username/password, and the password must never reach a log
line, so everything here prints `redacted()`.

Two checks, both returning a ProxyHealth (ok, latency_ms, detail):

- `check_proxy(proxy, url)`: a raw tunnel with no browser: HTTP CONNECT (or a
  SOCKS5 handshake) to the check URL's host, then TLS when the URL is https,
  then one HEAD request. Cheap, and usable before any context exists.
- `check_in_context(context, url)`: one request through the account's
  BrowserContext (`context.request`), i.e. exactly the network path its pages
  use, proxy credentials included.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import ssl
import struct
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from playwright.async_api import BrowserContext
from playwright.async_api import Error as PlaywrightError

DEFAULT_CHECK_URL = os.environ.get("HISCRM_PROXY_CHECK_URL", "https://www.baidu.com/")
DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080}
_MAX_HEAD = 16 * 1024


@dataclass(frozen=True)
class ProxySpec:
    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

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
            text = text.replace(self.password, "***")
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


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, str]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise _CheckFailed("the connection closed without an answer") from None
        head = exc.partial
    except asyncio.LimitOverrunError:
        raise _CheckFailed("the answer's headers are too long") from None
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    bits = line.split(" ", 2)
    if len(bits) < 2 or not bits[0].startswith("HTTP/") or not bits[1].isdigit():
        raise _CheckFailed(f"not an HTTP answer: {line[:80]!r}")
    return int(bits[1]), line


async def _http_connect(
    spec: ProxySpec, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: str
) -> None:
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if spec.username:
        token = base64.b64encode(f"{spec.username}:{spec.password}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    status, line = await _read_head(reader)
    if status == 407:
        raise _CheckFailed("the proxy refused the credentials (407)")
    if not 200 <= status < 300:
        raise _CheckFailed(f"the proxy refused the tunnel: {line}")


_SOCKS_ERRORS = {
    1: "general failure",
    2: "not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


async def _socks5_connect(
    spec: ProxySpec,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
) -> None:
    methods = b"\x00\x02" if spec.username else b"\x00"
    writer.write(b"\x05" + bytes([len(methods)]) + methods)
    await writer.drain()
    version, method = await reader.readexactly(2)
    if version != 5:
        raise _CheckFailed("not a SOCKS5 proxy")
    if method == 2:
        user, password = spec.username.encode(), spec.password.encode()
        writer.write(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
        await writer.drain()
        _, status = await reader.readexactly(2)
        if status != 0:
            raise _CheckFailed("the SOCKS5 proxy refused the credentials")
    elif method != 0:
        raise _CheckFailed("the SOCKS5 proxy accepts none of our auth methods")
    try:
        address = b"\x01" + ipaddress.IPv4Address(host).packed
    except ValueError:
        name = host.encode("idna")
        address = b"\x03" + bytes([len(name)]) + name
    writer.write(b"\x05\x01\x00" + address + struct.pack(">H", port))
    await writer.drain()
    _, reply, _, atyp = await reader.readexactly(4)
    if reply != 0:
        raise _CheckFailed(f"the SOCKS5 proxy failed: {_SOCKS_ERRORS.get(reply, reply)}")
    skip = {1: 4, 4: 16}.get(atyp)
    if skip is None:
        skip = (await reader.readexactly(1))[0]
    await reader.readexactly(skip + 2)


async def _through(spec: ProxySpec, url: str) -> str:
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.hostname:
        raise ValueError(f"check URL {url!r} must be http(s)://host/...")
    host = target.hostname
    port = target.port or (443 if target.scheme == "https" else 80)
    proxy_tls = ssl.create_default_context() if spec.scheme == "https" else None
    try:
        reader, writer = await asyncio.open_connection(
            spec.host, spec.port, ssl=proxy_tls, limit=_MAX_HEAD
        )
    except OSError as exc:
        raise _CheckFailed(f"cannot reach the proxy: {exc.strerror or exc}") from None
    try:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if spec.scheme == "socks5":
            await _socks5_connect(spec, reader, writer, host, port)
        else:
            await _http_connect(spec, reader, writer, authority)
        if target.scheme == "https":
            if proxy_tls is not None:
                # asyncio cannot run TLS inside TLS; an open tunnel is the answer.
                return f"tunnel to {authority} open"
            await writer.start_tls(ssl.create_default_context(), server_hostname=host)
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        writer.write(
            f"HEAD {path} HTTP/1.1\r\nHost: {target.netloc}\r\n"
            "User-Agent: hiscrm-proxy-check\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        status, _ = await _read_head(reader)
        return f"{target.netloc} answered {status}"
    finally:
        writer.close()


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
            detail = await _through(spec, url)
    except TimeoutError:
        return ProxyHealth(False, within * 1000, f"no answer within {within:g}s")
    except _CheckFailed as exc:
        return ProxyHealth(False, _ms(started), spec.scrub(str(exc)))
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
        return ProxyHealth(False, _ms(started), spec.scrub(f"{type(exc).__name__}: {exc}"))
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
