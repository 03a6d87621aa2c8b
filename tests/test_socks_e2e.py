"""An account behind an authenticating SOCKS5 proxy, end to end: Chromium
cannot authenticate to SOCKS5, so the worker's local relay does, and the
login, the monitoring and the live DMs of a demo account all go through it
(the demo platform's host name resolves only inside the proxy). A wrong
password shows as a PROXY error with its cause; the relay's port answers on
loopback only; a relay that dies comes back by itself; the password is in no
log line, error or Control answer's state."""

from __future__ import annotations

import os
import re
import signal
import socket

import grpc
import pytest

from hiscrm.v1 import common_pb2
from tests.delivery_helpers import account
from tests.demo_helpers import admin, demo_spec, logged_in, stored_item
from tests.harness import Cluster, wait_for
from tests.proxy_helpers import Socks5Proxy, ThreadedProxy, own_address, set_proxy

RUNNING = common_pb2.RUN_STATE_RUNNING
PROXY = common_pb2.ERROR_KIND_PROXY
ALIAS = "demo-behind-socks.test"
PASSWORD = "s0cks-Pa55word"


def greeting(port: int, source: str | None = None) -> bytes:
    """What the relay answers a SOCKS5 no-auth greeting with (b"" for nothing)."""
    with socket.socket() as sock:
        if source is not None:
            sock.bind((source, 0))
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"\x05\x01\x00")
        try:
            return sock.recv(2)
        except ConnectionResetError:
            return b""


def test_account_runs_through_an_authenticating_socks5_proxy(cluster: Cluster) -> None:
    base = cluster.start_demosite()
    port = base.rsplit(":", 1)[1]
    proxied_base = f"http://{ALIAS}:{port}"
    upstream = Socks5Proxy({ALIAS: "127.0.0.1"}, "agent", PASSWORD)
    with ThreadedProxy(proxy=upstream) as proxy:
        cluster.start_master()
        worker = cluster.start_worker("sx-w", HISCRM_PROXY_CHECK_URL=f"{proxied_base}/admin/health")
        cluster.wait_worker_state("sx-w", common_pb2.WORKER_STATE_ONLINE)
        spec = demo_spec(proxied_base, "demo1", interval_ms=1000)
        spec.proxy = f"socks5://agent:{PASSWORD}@127.0.0.1:{proxy.port}"
        logged_in(cluster, base, "sx", spec)  # the QR login page came through the proxy
        assert ("CONNECT", f"{ALIAS}:{port}") in proxy.requests

        health = account(cluster, "sx").proxy_health
        assert health.ok and f"{ALIAS}:{port} answered 200" in health.detail, health
        found = re.search(
            rf"relay to socks5://agent:\*\*\*@127\.0\.0\.1:{proxy.port} listening on "
            r"127\.0\.0\.1:(\d+)",
            worker.log_text(),
        )
        assert found, "the worker did not log its relay"
        relay_port = int(found.group(1))

        # monitoring and live DMs, through relay and proxy
        admin(base, "/admin/comments", {"username": "demo1", "text": "sx-comment-1"})
        admin(base, "/admin/messages", {"username": "demo1", "from_name": "甲", "text": "sx-dm-1"})
        for text in ("sx-comment-1", "sx-dm-1"):
            wait_for(lambda t=text: stored_item(cluster, "sx", t), timeout=30, what=text)
        # the page's live channel (a WebSocket) reached the alias host: through the proxy
        live = admin(base, "/admin/users/demo1")["counters"]
        assert live.get("live_connect", 0) >= 1, live

        # the relay's port answers on loopback, and nowhere else
        assert greeting(relay_port) == b"\x05\x00"
        address = own_address()
        if address is not None:  # eth0's address: not bound there, and refused as a peer
            with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
                sock.connect((address, relay_port))
            assert greeting(relay_port, source=address) == b""
            wait_for(
                lambda: f"refused a connection from {address} (not loopback)" in worker.log_text(),
                what="the relay's refusal in the log",
            )

        # the relay dies (the SIGUSR2 drill): PROXY meanwhile, then back by itself
        tunnels = len(proxy.requests)
        os.kill(worker.pid, signal.SIGUSR2)
        down = wait_for(
            lambda: (a := account(cluster, "sx")).error_kind == PROXY and a,
            timeout=30,
            interval=0.05,
            what="sx in a PROXY error while its relay is down",
        )
        assert PASSWORD not in down.state_reason
        wait_for(
            lambda: account(cluster, "sx").state == RUNNING, timeout=60, what="sx running again"
        )
        assert f"restarted on 127.0.0.1:{relay_port}" in worker.log_text()
        admin(base, "/admin/messages", {"username": "demo1", "from_name": "乙", "text": "sx-dm-2"})
        wait_for(lambda: stored_item(cluster, "sx", "sx-dm-2"), timeout=30, what="DM after")
        assert len(proxy.requests) > tunnels

        # a wrong password: the operator sees a PROXY error that says why
        set_proxy(cluster, "sx", f"socks5://agent:WRONG-{PASSWORD}@127.0.0.1:{proxy.port}")
        failed = wait_for(
            lambda: (
                (a := account(cluster, "sx")).error_kind == PROXY and not a.proxy_health.ok and a
            ),
            timeout=60,
            what="sx in a PROXY error with a failed check",
        )
        assert "refused the credentials" in failed.proxy_health.detail, failed.proxy_health
        assert PASSWORD not in failed.proxy_health.detail + failed.state_reason
        assert proxy.auth_failures >= 1
        # the old relay went with its last account, a new one serves the new upstream
        wait_for(
            lambda: f"127.0.0.1:{relay_port} stopped (no account uses it" in worker.log_text(),
            what="the unused relay stopped",
        )

        # an unknown SOCKS version is refused at the master, saying what to use
        with pytest.raises(grpc.RpcError) as refused:
            set_proxy(cluster, "sx", f"socks4://agent:{PASSWORD}@127.0.0.1:1080")
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "socks5://user:pass@host:port" in refused.value.details()
        assert PASSWORD not in refused.value.details()
    logs = cluster.logs()
    assert PASSWORD not in logs
    assert f"socks5://agent:***@127.0.0.1:{proxy.port}" in logs  # named, redacted
