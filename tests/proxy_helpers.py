"""A tiny authenticating HTTP proxy for tests, in the test's loop or on a
thread of its own (for tests that drive real processes synchronously)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from urllib.parse import urlsplit


class ConnectProxy:
    """A tiny HTTP proxy (CONNECT and absolute-URI GET) with Basic auth.

    Host names in `aliases` are resolved by the proxy only, so a page that
    loads http://<alias>/ proves its traffic went through the proxy.
    """

    def __init__(self, aliases: dict[str, str], user: str, password: str) -> None:
        self.aliases = aliases
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests: list[tuple[str, str]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

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
            if headers.get("proxy-authorization") != self.auth:
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


class ThreadedProxy:
    """ConnectProxy on its own event loop thread; `with ThreadedProxy(...) as p`."""

    def __init__(self, aliases: dict[str, str], user: str, password: str) -> None:
        self.proxy = ConnectProxy(aliases, user, password)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(10)
        return self.proxy

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
