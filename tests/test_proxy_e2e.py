"""An account behind a proxy, end to end: every request of its browser
context goes through the account's proxy (the demo platform's host name
resolves only inside the proxy), the health check's result reaches Control,
and a broken proxy shows as a PROXY error with the password never logged."""

from __future__ import annotations

import time

from hiscrm.v1 import common_pb2
from tests.delivery_helpers import account
from tests.demo_helpers import admin, demo_spec, logged_in, stored_item
from tests.harness import Cluster, wait_for
from tests.proxy_helpers import ThreadedProxy, set_proxy

RUNNING = common_pb2.RUN_STATE_RUNNING
ALIAS = "demo-behind-proxy.test"
PASSWORD = "pr0xy-S3cret"


def test_account_runs_through_its_proxy(cluster: Cluster) -> None:
    base = cluster.start_demosite()
    port = base.rsplit(":", 1)[1]
    proxied_base = f"http://{ALIAS}:{port}"
    with ThreadedProxy({ALIAS: "127.0.0.1"}, "agent", PASSWORD) as proxy:
        cluster.start_master()
        cluster.start_worker("px-w", HISCRM_PROXY_CHECK_URL=f"{proxied_base}/admin/health")
        cluster.wait_worker_state("px-w", common_pb2.WORKER_STATE_ONLINE)
        spec = demo_spec(proxied_base, "demo1", interval_ms=2000)
        spec.proxy = f"http://agent:{PASSWORD}@127.0.0.1:{proxy.port}"
        logged_in(cluster, base, "px", spec)

        health = account(cluster, "px").proxy_health
        assert health.ok and health.checked_at.seconds > 0, health
        # the check's host name resolves only inside the proxy: it went through it
        assert f"{ALIAS}:{port} answered 200" in health.detail, health
        assert ("CONNECT", f"{ALIAS}:{port}") in proxy.requests
        assert any(target.startswith(f"{proxied_base}/creator") for _, target in proxy.requests)

        admin(base, "/admin/messages", {"username": "demo1", "from_name": "甲", "text": "px-dm-1"})
        wait_for(
            lambda: stored_item(cluster, "px", "px-dm-1"), timeout=30, what="DM through the proxy"
        )

        # a wrong password: the context is rebuilt, its check fails, the operator sees why
        set_proxy(cluster, "px", f"http://agent:WRONG-{PASSWORD}@127.0.0.1:{proxy.port}")
        failed = wait_for(
            lambda: (a := account(cluster, "px")).error_kind == common_pb2.ERROR_KIND_PROXY and a,
            timeout=60,
            what="px in a PROXY error",
        )
        assert not failed.proxy_health.ok and "407" in failed.proxy_health.detail
        assert PASSWORD not in failed.proxy_health.detail + failed.state_reason
        time.sleep(0.5)  # let the log lines of the failure be written
    logs = cluster.logs()
    assert PASSWORD not in logs
    assert f"http://agent:***@127.0.0.1:{proxy.port}" in logs  # named, redacted
