"""Tiny authenticating proxies for tests (HTTP, optionally over TLS, and
SOCKS5 with RFC 1929 user/password auth), in the test's loop or on a thread
of its own (for tests that drive real processes synchronously)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import struct
import threading
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

import psutil

from hiscrm.v1 import common_pb2, control_pb2
from tests.harness import Cluster


class _Listener:
    """Where a test proxy listens: a free loopback port (with TLS if given)."""

    server: asyncio.Server | None = None
    port = 0
    tls: ssl.SSLContext | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class ConnectProxy(_Listener):
    """A tiny HTTP proxy (CONNECT and absolute-URI GET) with Basic auth.

    Host names in `aliases` are resolved by the proxy only, so a page that
    loads http://<alias>/ proves its traffic went through the proxy.
    """

    def __init__(
        self,
        aliases: dict[str, str],
        user: str,
        password: str,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.aliases = aliases
        # no user: no auth asked
        self.auth = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else ""
        )
        self.requests: list[tuple[str, str]] = []
        self.tls = tls  # an https proxy: TLS from the client to the proxy

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            lines = head.split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
            }
            if self.auth and headers.get("proxy-authorization") != self.auth:
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\n'
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                await writer.drain()
                return
            self.requests.append((method, target))
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                up_reader, upstream = await asyncio.open_connection(
                    self.aliases.get(host, host), int(port)
                )
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                url = urlsplit(target)
                host = url.hostname or ""
                up_reader, upstream = await asyncio.open_connection(
                    self.aliases.get(host, host), url.port or 80
                )
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
                keep = [
                    line
                    for line in lines[1:]
                    if line
                    and line.split(":", 1)[0].strip().lower()
                    not in ("proxy-authorization", "proxy-connection", "connection", "keep-alive")
                ]
                out = [f"{method} {path} {version}", *keep, "Connection: close", "", ""]
                upstream.write("\r\n".join(out).encode("latin-1"))
            await writer.drain()
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            for w in (upstream, writer):
                if w is not None:
                    with contextlib.suppress(RuntimeError):  # the loop is closing
                        w.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass


class Socks5Proxy(_Listener):
    """A tiny SOCKS5 proxy (CONNECT only) that demands user/password auth
    (or none, when `user` is empty).

    Like ConnectProxy, it alone resolves the host names in `aliases`; it
    records every tunnel it opened in `requests` as ("CONNECT", "host:port")
    and every refused login in `auth_failures`."""

    def __init__(self, aliases: dict[str, str], user: str, password: str) -> None:
        self.aliases = aliases
        self.user, self.password = user.encode(), password.encode()
        self.requests: list[tuple[str, str]] = []
        self.auth_failures = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            _, count = await reader.readexactly(2)
            methods = await reader.readexactly(count)
            if not self.user and 0 in methods:
                writer.write(b"\x05\x00")  # no user: no auth asked
            elif 2 not in methods:
                writer.write(b"\x05\xff")  # no acceptable method: auth is required
                return
            else:
                writer.write(b"\x05\x02")
                _, size = await reader.readexactly(2)
                user = await reader.readexactly(size)
                password = await reader.readexactly((await reader.readexactly(1))[0])
                if (user, password) != (self.user, self.password):
                    self.auth_failures += 1
                    writer.write(b"\x01\x01")
                    return
                writer.write(b"\x01\x00")
            _, _, _, kind = await reader.readexactly(4)
            if kind == 1:
                host = socket.inet_ntoa(await reader.readexactly(4))
            elif kind == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                writer.write(b"\x05\x08\x00\x01" + bytes(6))
                return
            (port,) = struct.unpack(">H", await reader.readexactly(2))
            self.requests.append(("CONNECT", f"{host}:{port}"))
            try:
                up_reader, upstream = await asyncio.open_connection(
                    self.aliases.get(host, host), port
                )
            except OSError:
                writer.write(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
                return
            writer.write(b"\x05\x00\x00\x01" + bytes(6))
            await writer.drain()
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            for w in (upstream, writer):
                if w is not None:
                    with contextlib.suppress(RuntimeError):  # the loop is closing
                        w.close()


class _Proxy(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...


P = TypeVar("P", bound=_Proxy)


class ThreadedProxy(Generic[P]):
    """A test proxy on its own event loop thread; `with ThreadedProxy(...) as p`
    (a ConnectProxy from aliases/user/password, or any proxy given)."""

    def __init__(
        self,
        aliases: dict[str, str] | None = None,
        user: str = "",
        password: str = "",
        *,
        proxy: P | None = None,
    ) -> None:
        self.proxy: Any = (
            proxy if proxy is not None else ConnectProxy(aliases or {}, user, password)
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> P:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(10)
        return self.proxy

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def set_proxy(cluster: Cluster, account_id: str, proxy: str) -> object:
    """UpdateAccount with only the proxy changed."""
    update = control_pb2.UpdateAccountRequest(
        account_id=account_id, spec=common_pb2.AccountSpec(proxy=proxy)
    )
    update.update_mask.paths.append("proxy")
    return cluster.call("UpdateAccount", update)


def own_address() -> str | None:
    """An IPv4 address of this host that is not loopback (eth0's), if any."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return str(address.address)
    return None
