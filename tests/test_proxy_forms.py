"""Every proxy form the master accepts works in a real Chromium context.

One browser pool, one context per form, each behind its own test proxy (HTTP,
HTTP over TLS, SOCKS5 with and without auth) that alone resolves the site's
host name: a page load and the pool's health check succeed only through it.
The master's own check accepts each string first, so what validation lets in
is what works (tests/test_validation_unit.py covers what it refuses)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from master.validation import check_proxy as master_accepts
from tests.certs import make_certs
from tests.proxy_helpers import ConnectProxy, Socks5Proxy
from tests.test_browser_pool import open_pool, probe_app, serve

PASSWORD = "f0rms-p@ss:word"  # percent-encoded in the URLs below
QUOTED = "f0rms-p%40ss%3Aword"
ALIAS = "forms-site.test"


@asynccontextmanager
async def started(proxy: ConnectProxy | Socks5Proxy) -> AsyncIterator[int]:
    await proxy.start()
    try:
        yield proxy.port
    finally:
        await proxy.close()


async def test_every_accepted_form_carries_a_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certs = make_certs(tmp_path / "certs", ["127.0.0.1"])
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["ca"]))  # the https proxy's CA
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certs["server_cert"], certs["server_key"])
    aliases = {ALIAS: "127.0.0.1"}
    proxies: dict[str, tuple[ConnectProxy | Socks5Proxy, str]] = {
        "http-auth": (ConnectProxy(aliases, "agent", PASSWORD), f"http://agent:{QUOTED}@"),
        "http-open": (ConnectProxy(aliases, "", ""), "http://"),
        "https-auth": (
            ConnectProxy(aliases, "agent", PASSWORD, tls=tls),
            f"https://agent:{QUOTED}@",
        ),
        "socks5-auth": (Socks5Proxy(aliases, "agent", PASSWORD), f"socks5://agent:{QUOTED}@"),
        "socks5h-auth": (Socks5Proxy(aliases, "agent", PASSWORD), f"socks5h://agent:{QUOTED}@"),
        "socks5-open": (Socks5Proxy(aliases, "", ""), "socks5://"),
    }
    seen: list[dict[str, str]] = []
    async with AsyncExitStack() as stack:
        base = await stack.enter_async_context(serve(probe_app(seen)))
        site = f"http://{ALIAS}:{base.rsplit(':', 1)[1]}/"
        pool = await stack.enter_async_context(open_pool(tmp_path / "pool"))
        for name, (proxy, prefix) in proxies.items():
            port = await stack.enter_async_context(started(proxy))
            url = f"{prefix}127.0.0.1:{port}"
            master_accepts(url)
            actx = await pool.context(name, proxy=url)
            assert (actx.route != actx.proxy) == (not prefix.startswith("http://")), name
            page = await actx.new_page()
            response = await page.goto(site, timeout=15_000)
            assert response is not None and response.status == 200, name
            await page.close()
            health = await pool.check_proxy(name, site, within=10)
            assert health.ok, (name, health)
            assert proxy.requests, f"{name}: the proxy saw nothing"
            assert all(ALIAS in target for _, target in proxy.requests), proxy.requests
        relays = {pool.relays.relay(pool.get(n).proxy) for n in proxies}  # type: ignore[union-attr,arg-type]
        assert len(relays - {None}) == 4  # one per relayed upstream
