"""The worker's local proxy relay (worker/browser/proxy_relay.py, relay_registry.py),
against the real test proxies of tests/proxy_helpers.py: tunnels through an
authenticating SOCKS5 and an https (TLS) proxy, refusals with their cause and
without the password, the bounds, loopback only, and restart after death.
The same relay under Chromium and the whole system: tests/test_socks_e2e.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from python_socks import ProxyError, ProxyType
from python_socks.async_.asyncio.v2 import Proxy

from tests.certs import make_certs
from tests.harness import free_port as harness_free_port
from tests.proxy_helpers import ConnectProxy, Socks5Proxy, own_address
from worker.browser.proxy_check import check_proxy, parse_proxy
from worker.browser.proxy_relay import ProxyRelay, RelayLimits
from worker.browser.relay_registry import ProxyRelays, RelayUnavailable

PASSWORD = "s0cks-S3cret"
ALIAS = "echo.test"


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    """Echoes every line; answers "HEAD" with an HTTP status line."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while line := await reader.readline():
                if line.startswith(b"HEAD "):
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                else:
                    writer.write(line)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@contextlib.asynccontextmanager
async def socks_proxy() -> AsyncIterator[Socks5Proxy]:
    proxy = Socks5Proxy({ALIAS: "127.0.0.1"}, "agent", PASSWORD)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@contextlib.asynccontextmanager
async def relay_to(url: str, limits: RelayLimits | None = None) -> AsyncIterator[ProxyRelay]:
    spec = parse_proxy(url)
    assert spec is not None and spec.relayed
    relay = ProxyRelay(spec, "w-test", limits or RelayLimits())
    await relay.start()
    try:
        yield relay
    finally:
        await relay.kill()


async def through(port: int, host: str, target: int) -> tuple[asyncio.StreamReader, object]:
    """A tunnel through the relay on `port`, as Chromium opens one (no auth)."""
    local = Proxy(ProxyType.SOCKS5, "127.0.0.1", port, rdns=True)
    stream = await local.connect(host, target, timeout=10)
    return stream.reader, stream


async def echo(port: int, target: int, text: bytes = b"hello\n") -> bytes:
    reader, stream = await through(port, ALIAS, target)
    try:
        await stream.write(text)  # type: ignore[attr-defined]
        return await reader.readline()
    finally:
        await stream.close()  # type: ignore[attr-defined]


async def test_tunnels_through_an_authenticating_socks5_proxy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with echo_server() as target, socks_proxy() as upstream:
        async with relay_to(f"socks5://agent:{PASSWORD}@127.0.0.1:{upstream.port}") as relay:
            assert relay.local.server == f"socks5://127.0.0.1:{relay.port}"
            assert await echo(relay.port, target) == b"hello\n"
            # the host name went to the proxy, which alone knows it
            assert upstream.requests == [("CONNECT", f"{ALIAS}:{target}")]
            assert relay.served == 1 and relay.active <= 1

        # the same, with a wrong password: a SOCKS refusal, and the cause kept
        bad = f"socks5://agent:WRONG-{PASSWORD}@127.0.0.1:{upstream.port}"
        async with relay_to(bad) as wrong:
            with pytest.raises(ProxyError, match="not allowed"):
                await echo(wrong.port, target)
            assert "refused the credentials" in wrong.last_error, wrong.last_error
            assert PASSWORD not in wrong.last_error
            assert upstream.auth_failures == 1
    assert PASSWORD not in caplog.text
    assert f"socks5://agent:***@127.0.0.1:{upstream.port}" in caplog.text


async def test_https_proxy_is_reached_over_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certs = make_certs(tmp_path, ["127.0.0.1"])
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["ca"]))  # the proxy's CA, as an operator would
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certs["server_cert"], certs["server_key"])
    upstream = ConnectProxy({ALIAS: "127.0.0.1"}, "agent", PASSWORD, tls=tls)
    await upstream.start()
    url = f"https://agent:{PASSWORD}@127.0.0.1:{upstream.port}"
    try:
        async with echo_server() as target, relay_to(url) as relay:
            assert await echo(relay.port, target) == b"hello\n"
            assert ("CONNECT", f"{ALIAS}:{target}") in upstream.requests
            health = await check_proxy(url, f"http://{ALIAS}:{target}/", within=10)
            assert health.ok and "answered 204" in health.detail, health
    finally:
        await upstream.close()


async def test_health_check_uses_the_library_and_names_the_cause(free_port: int) -> None:
    async with echo_server() as target, socks_proxy() as upstream:
        url = f"http://{ALIAS}:{target}/"
        ok = await check_proxy(f"socks5://agent:{PASSWORD}@127.0.0.1:{upstream.port}", url)
        assert ok.ok and f"{ALIAS}:{target} answered 204" in ok.detail, ok
        bad = await check_proxy(f"socks5://agent:nope-{PASSWORD}@127.0.0.1:{upstream.port}", url)
        assert not bad.ok and "refused the credentials" in bad.detail and PASSWORD not in bad.detail
        gone = await check_proxy(f"socks5://127.0.0.1:{upstream.port}", f"http://{ALIAS}:1/")
        assert not gone.ok and "No acceptable authentication" in gone.detail, gone
    down = await check_proxy(f"socks5://agent:{PASSWORD}@127.0.0.1:{free_port}", url)
    assert not down.ok and "cannot reach the proxy" in down.detail, down
    hangup = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    try:
        rude = f"socks5://agent:{PASSWORD}@127.0.0.1:{hangup.sockets[0].getsockname()[1]}"
        cut = await check_proxy(rude, url)
        assert not cut.ok and "hung up in the middle of the handshake" in cut.detail, cut
        async with relay_to(rude) as relay:
            with pytest.raises(ProxyError, match="General SOCKS server failure"):
                await echo(relay.port, 80)
            assert "hung up" in relay.last_error and relay.failed == 1
    finally:
        hangup.close()


async def test_bounds_hold(caplog: pytest.LogCaptureFixture) -> None:
    limits = RelayLimits(max_connections=2, handshake_s=0.5, idle_s=0.5)
    async with echo_server() as target, socks_proxy() as upstream:
        url = f"socks5://agent:{PASSWORD}@127.0.0.1:{upstream.port}"
        async with relay_to(url, limits) as relay:
            # two tunnels at once are fine; the third is turned away
            first = await through(relay.port, ALIAS, target)
            second = await through(relay.port, ALIAS, target)
            with pytest.raises((ProxyError, OSError, asyncio.IncompleteReadError)):
                await through(relay.port, ALIAS, target)
            assert "more than 2 tunnels" in relay.last_error
            # an idle tunnel is closed by the relay: the reader sees EOF
            assert await asyncio.wait_for(first[0].read(), 10) == b""
            assert await asyncio.wait_for(second[0].read(), 10) == b""
            for _, stream in (first, second):
                await stream.close()  # type: ignore[attr-defined]
            # a client that never finishes its greeting is dropped too
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(b"\x05")
            assert await asyncio.wait_for(reader.read(), 10) == b""
            writer.close()
            # BIND (or anything but CONNECT) gets "command not supported"
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(b"\x05\x01\x00" + b"\x05\x02\x00\x01" + bytes(6))
            assert await asyncio.wait_for(reader.read(), 10) == b"\x05\x00" + bytes(
                [5, 7, 0, 1, 0, 0, 0, 0, 0, 0]
            )
            writer.close()
            assert relay.active == 0


async def test_listener_answers_only_on_loopback(caplog: pytest.LogCaptureFixture) -> None:
    """The listener is bound to 127.0.0.1: the host's own non-loopback address
    gets a refused connection. A connection *to* 127.0.0.1 but *from* that
    address (possible on Linux: bind the source, then connect) reaches the
    socket, and the relay drops it by its peer check before any SOCKS byte.
    127.0.0.2 and the like are loopback too, i.e. this host: accepted."""
    address = own_address()
    if address is None:
        pytest.skip("this host has no non-loopback IPv4 address to test from")
    async with socks_proxy() as upstream:
        async with relay_to(f"socks5://agent:{PASSWORD}@127.0.0.1:{upstream.port}") as relay:
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(address, relay.port)
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", relay.port, local_addr=(address, 0)
            )
            writer.write(b"\x05\x01\x00")
            with contextlib.suppress(ConnectionResetError):
                assert await asyncio.wait_for(reader.read(), 10) == b""
            writer.close()
            assert relay.refused_peers == 1
            assert f"refused a connection from {address} (not loopback)" in caplog.text
            # from loopback the greeting is answered
            assert await relay.probe()


async def test_relays_are_shared_stopped_with_the_last_user_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with echo_server() as target, socks_proxy() as upstream:
        spec = parse_proxy(f"socks5://agent:{PASSWORD}@127.0.0.1:{upstream.port}")
        assert spec is not None
        relays = ProxyRelays("w-test", RelayLimits(probe_s=0.5))
        try:
            route = await relays.acquire("a1", spec)
            assert route is not None and route.host == "127.0.0.1" and not route.username
            assert await relays.acquire("a2", spec) == route  # one relay per upstream
            http = parse_proxy("http://u:p@127.0.0.1:1")
            assert await relays.acquire("a3", http) == http  # Chromium takes http as is
            assert await echo(route.port, target) == b"hello\n"

            # the drill (SIGUSR2) kills it: PROXY meanwhile, then back on the same port
            relays.drill()
            with pytest.raises(RelayUnavailable, match=r"down .*restarting"):
                relays.route(spec)
            assert PASSWORD not in caplog.text
            back = None
            for _ in range(200):
                with contextlib.suppress(RelayUnavailable):
                    back = relays.route(spec)
                    break
                await asyncio.sleep(0.05)
            assert back == route and relays.restarts == 1
            assert await echo(route.port, target) == b"hello\n"

            # a listener closed behind the relay's back is found by its own probe
            relay = relays.relay(spec)
            assert relay is not None and relay._server is not None
            for sock in relay._server.sockets:  # shut the listening socket under asyncio
                with socket.socket(fileno=os.dup(sock.fileno())) as same:
                    same.shutdown(socket.SHUT_RDWR)
            for _ in range(200):
                if relays.restarts == 2:
                    break
                await asyncio.sleep(0.05)
            assert relays.restarts == 2 and await echo(route.port, target) == b"hello\n"

            await relays.release("a1")
            assert relays.route(spec) == route  # a2 still uses it
            await relays.release("a2")
            assert relays.relay(spec) is None
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", route.port)
        finally:
            await relays.close()
    assert "died" in caplog.text and "restarted on 127.0.0.1" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.fixture
def free_port() -> int:
    return harness_free_port()


async def test_a_bug_is_loud_and_the_relay_carries_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception in one tunnel, or in a relay's watcher, is
    logged with its traceback; the relay serves the next tunnel, and the
    watcher is started again (it then restarts a killed relay as before)."""
    async with echo_server() as target, socks_proxy() as upstream:
        spec = parse_proxy(f"socks5://agent:{PASSWORD}@127.0.0.1:{upstream.port}")
        assert spec is not None
        relays = ProxyRelays("w-test", RelayLimits(probe_s=0.2))
        watch, calls = relays._watch, []

        async def flaky_watch(spec: object, relay: ProxyRelay) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("watcher bug")
            await watch(spec, relay)  # type: ignore[arg-type]

        monkeypatch.setattr(relays, "_watch", flaky_watch)
        try:
            route = await relays.acquire("a1", spec)
            assert route is not None
            relay = relays.relay(spec)
            assert relay is not None
            serve, bugs = relay._serve, []

            async def flaky_serve(reader: asyncio.StreamReader, writer: object) -> None:
                if not bugs:
                    bugs.append(1)
                    raise RuntimeError("tunnel bug")
                await serve(reader, writer)  # type: ignore[arg-type]

            monkeypatch.setattr(relay, "_serve", flaky_serve)
            with pytest.raises((ProxyError, OSError, asyncio.IncompleteReadError)):
                await echo(route.port, target)
            assert await echo(route.port, target) == b"hello\n"
            assert "a tunnel failed unexpectedly" in caplog.text and "tunnel bug" in caplog.text

            for _ in range(100):
                if len(calls) == 2:
                    break
                await asyncio.sleep(0.05)
            assert len(calls) == 2 and "watcher bug" in caplog.text
            relays.drill()
            for _ in range(200):
                if relays.restarts == 1:
                    break
                await asyncio.sleep(0.05)
            assert relays.restarts == 1 and await echo(route.port, target) == b"hello\n"
        finally:
            await relays.close()
