"""A local relay to one proxy that Chromium cannot use by itself.

Chromium has no SOCKS5 authentication (microsoft/playwright#10567), and an
https proxy's certificate is checked against a store the worker does not
control. So for such an upstream the account's context is pointed at
`socks5://127.0.0.1:<port>` instead: a small SOCKS5 listener without auth
(RFC 1928, CONNECT only) that opens each tunnel through the real proxy with
python-socks, credentials and all, and then copies bytes both ways.

- the listener binds 127.0.0.1 only and drops any peer that is not a
  loopback address (an address of this host other than loopback, for one);
- bounded: tunnels at once, bytes buffered per tunnel (reads of `chunk`,
  each written and drained before the next), a deadline for the browser's
  request and one for the proxy's tunnel, and an idle timeout;
- a failed tunnel keeps its cause (`last_error`) for the health check.

Which relays run, and their restarts, are relay_registry.py's. Log lines
name the upstream by `ProxySpec.redacted()` only; the library's messages
pass `scrub()`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import time
from dataclasses import dataclass

from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

from worker.browser.proxy_check import ProxySpec, describe_failure, upstream

log = logging.getLogger(__name__)

# SOCKS5 reply codes (RFC 1928 section 6).
GENERAL_FAILURE, NOT_ALLOWED, HOST_UNREACHABLE, REFUSED = 1, 2, 4, 5
COMMAND_NOT_SUPPORTED, ADDRESS_NOT_SUPPORTED = 7, 8


@dataclass(frozen=True)
class RelayLimits:
    max_connections: int = 256  # per relay; Chromium opens at most 32 per proxy
    chunk: int = 64 * 1024  # bytes read at once per direction; drained before the next
    handshake_s: float = 10.0  # for the local SOCKS5 greeting and request
    connect_s: float = 20.0  # for the upstream proxy to open the tunnel
    idle_s: float = 300.0  # a tunnel with no byte either way for this long is closed
    probe_s: float = 15.0  # the relay checks its own listener this often


class _Refused(Exception):
    """The request gets this SOCKS5 reply code (None: no reply, just hang up)."""

    def __init__(self, code: int | None) -> None:
        self.code = code


class ProxyRelay:
    """One local SOCKS5 listener for one upstream proxy."""

    def __init__(self, spec: ProxySpec, worker_id: str, limits: RelayLimits) -> None:
        self.spec = spec
        self.worker_id = worker_id
        self.limits = limits
        self.port = 0
        self.served = 0
        self.failed = 0
        self.refused_peers = 0
        self.last_error = ""
        self._client = upstream(spec)
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._last_logged = 0.0

    @property
    def alive(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def local(self) -> ProxySpec:
        """What Chromium is told: this listener, no credentials."""
        return ProxySpec("socks5", "127.0.0.1", self.port)

    @property
    def active(self) -> int:
        return len(self._conns)

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", port, limit=self.limits.chunk, backlog=128
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def die(self) -> None:
        """Close the listener and abort every tunnel, at once."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._conns):
            task.cancel()

    async def kill(self) -> None:
        """die(), and wait for the tunnels to be gone."""
        conns = list(self._conns)
        self.die()
        await asyncio.gather(*conns, return_exceptions=True)

    async def probe(self) -> bool:
        """Does the listener answer a SOCKS5 greeting?"""
        try:
            async with asyncio.timeout(self.limits.handshake_s):
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                try:
                    writer.write(b"\x05\x01\x00")
                    return await reader.readexactly(2) == b"\x05\x00"
                finally:
                    writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return False

    # ------------------------------------------------------------ one connection

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        if not _loopback(peer[0]):
            self.refused_peers += 1
            log.warning(
                "worker %s: relay on 127.0.0.1:%d refused a connection from %s (not loopback)",
                self.worker_id,
                self.port,
                peer[0],
            )
            writer.transport.abort()
            return
        if len(self._conns) >= self.limits.max_connections:
            self._note(f"more than {self.limits.max_connections} tunnels at once; one refused")
            writer.transport.abort()
            return
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._conns.add(task)
        task.add_done_callback(self._served)

    def _served(self, task: asyncio.Task[None]) -> None:
        self._conns.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        self.failed += 1  # a bug, not the network: loud, and only this tunnel is lost
        log.error(
            "worker %s: relay 127.0.0.1:%d to %s: a tunnel failed unexpectedly",
            self.worker_id,
            self.port,
            self.spec.redacted(),
            exc_info=task.exception(),
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = None
        try:
            try:
                async with asyncio.timeout(self.limits.handshake_s):
                    host, port = await _socks_request(reader, writer)
            except _Refused as exc:
                if exc.code is not None:
                    writer.write(_reply(exc.code))
                return
            try:
                stream = await self._client.connect(host, port, timeout=self.limits.connect_s)
            except (
                ProxyError,
                ProxyConnectionError,
                ProxyTimeoutError,
                OSError,
                asyncio.IncompleteReadError,
            ) as exc:
                self.failed += 1
                self._note(
                    f"tunnel to {host}:{port}: "
                    + describe_failure(self.spec, exc, self.limits.connect_s)
                )
                writer.write(_reply(_code_for(exc)))
                return
            self.served += 1
            writer.write(_reply(0))
            await writer.drain()
            await self._copy_both(reader, writer, stream.reader, stream.writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, UnicodeError):
            pass  # the browser or the proxy hung up, or spoke nonsense: that tunnel is over
        except asyncio.CancelledError:
            writer.transport.abort()
            if stream is not None:
                stream.writer.transport.abort()
            raise
        finally:
            # close() (not abort) sends what is still buffered, a refusal included
            if stream is not None:
                stream.writer.close()
            writer.close()

    async def _copy_both(
        self,
        local_r: asyncio.StreamReader,
        local_w: asyncio.StreamWriter,
        up_r: asyncio.StreamReader,
        up_w: asyncio.StreamWriter,
    ) -> None:
        last = [time.monotonic()]
        await asyncio.gather(self._copy(local_r, up_w, last), self._copy(up_r, local_w, last))

    async def _copy(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, last: list[float]
    ) -> None:
        """One direction; ends at EOF (passed on as a half-close) or when both
        directions have been idle for idle_s."""
        idle = self.limits.idle_s
        while True:
            try:
                async with asyncio.timeout(max(0.0, last[0] + idle - time.monotonic())):
                    data = await src.read(self.limits.chunk)
            except TimeoutError:
                if time.monotonic() - last[0] < idle:
                    continue  # the other direction was busy meanwhile
                dst.transport.abort()
                return
            if not data:
                if dst.can_write_eof() and not dst.is_closing():
                    dst.write_eof()
                return
            last[0] = time.monotonic()
            dst.write(data)
            await dst.drain()

    def _note(self, error: str) -> None:
        """Keep the newest failure for the health check; log at most one every 10 s."""
        self.last_error = error
        now = time.monotonic()
        if now - self._last_logged >= 10.0:
            self._last_logged = now
            log.warning(
                "worker %s: relay 127.0.0.1:%d to %s: %s",
                self.worker_id,
                self.port,
                self.spec.redacted(),
                error,
            )


async def _socks_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, int]:
    """The browser's greeting (no auth) and CONNECT request: (host, port)."""
    version, count = await reader.readexactly(2)
    methods = await reader.readexactly(count)
    if version != 5 or 0 not in methods:
        writer.write(b"\x05\xff")  # RFC 1928: no acceptable methods
        raise _Refused(None)
    writer.write(b"\x05\x00")
    version, command, _, kind = await reader.readexactly(4)
    if version != 5 or command != 1:
        raise _Refused(COMMAND_NOT_SUPPORTED)
    if kind == 1:
        host = socket.inet_ntop(socket.AF_INET, await reader.readexactly(4))
    elif kind == 4:
        host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
    elif kind == 3:
        size = (await reader.readexactly(1))[0]
        host = (await reader.readexactly(size)).decode("idna")
    else:
        raise _Refused(ADDRESS_NOT_SUPPORTED)
    (port,) = struct.unpack(">H", await reader.readexactly(2))
    return host, port


def _reply(code: int) -> bytes:
    return bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])


def _code_for(exc: BaseException) -> int:
    if isinstance(exc, asyncio.IncompleteReadError):
        return GENERAL_FAILURE
    if isinstance(exc, ProxyError):
        code = exc.error_code or 0
        return code if 1 <= code <= 8 else NOT_ALLOWED  # an HTTP status: refused by the proxy
    if isinstance(exc, ProxyTimeoutError | TimeoutError):
        return HOST_UNREACHABLE
    return GENERAL_FAILURE  # the proxy itself cannot be reached


def _loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback
