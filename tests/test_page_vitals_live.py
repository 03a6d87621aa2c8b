"""A demo account's monitor page, seen from the master: a real master,
worker (Chromium) and demo platform, pages renewed every few seconds
(HISCRM_PAGE_RENEW_MIN), and what the worker measured reaching ListAccounts
and /metrics. The worker then restarts, its renewal count starts at 0
again, and the master's counter goes on from where it was."""

from __future__ import annotations

import pytest

from hiscrm.v1 import common_pb2, control_pb2
from tests.demo_helpers import demo_spec, logged_in
from tests.harness import Cluster, free_port, wait_for
from tests.metrics_helpers import scrape, value

pytest.importorskip("playwright.async_api")

ACCOUNT = "pv-1"
WORKER = "pv-w"
# 6 s: each page lives 4.5-6 s, several cycles even on a loaded machine, so
# that a renewed page is measured by a cycle after the one that opened it
RENEW_MIN = "0.1"
RENEW_MIN_AFTER_RESTART = "0.3"  # 18 s: a count after the restart stays low for a while


def _page(cluster: Cluster) -> common_pb2.MonitorPage:
    resp = cluster.call("ListAccounts", control_pb2.ListAccountsRequest(worker_id=WORKER))
    (account,) = [a for a in resp.accounts if a.account_id == ACCOUNT]  # type: ignore[attr-defined]
    return account.monitor_page  # type: ignore[no-any-return]


def _renewed_total(port: int) -> float:
    return value(scrape(port), "hiscrm_monitor_page_renewals_total", worker=WORKER)


def test_monitor_page_figures_reach_list_accounts_and_metrics(cluster: Cluster) -> None:
    port = free_port()
    base = cluster.start_demosite()
    cluster.start_master(HISCRM_METRICS_LISTEN=f"127.0.0.1:{port}")
    cluster.start_worker(WORKER, HISCRM_PAGE_RENEW_MIN=RENEW_MIN)
    cluster.wait_worker_state(WORKER, common_pb2.WORKER_STATE_ONLINE)
    logged_in(cluster, base, ACCOUNT, demo_spec(base, "demo1", interval_ms=500))

    # a renewed page measured by a later cycle: both figures in one answer
    def renewed_and_measured() -> common_pb2.MonitorPage | None:
        page = _page(cluster)
        return page if page.renewals >= 1 and page.js_heap_used_bytes > 0 else None

    page = wait_for(
        renewed_and_measured, timeout=180, what="a renewed monitor page, measured, in ListAccounts"
    )
    assert page.dom_nodes > 10, page
    assert page.js_heap_used_bytes < 1 << 30, page  # bytes of a small page, not garbage

    def measured() -> dict | None:
        families = scrape(port)
        heap = value(families, "hiscrm_monitor_page_js_heap_bytes", worker=WORKER)
        renewed = value(families, "hiscrm_monitor_page_renewals_total", worker=WORKER)
        return families if heap > 0 and renewed >= 1 else None

    families = wait_for(measured, timeout=60, what="the page figures in /metrics")
    assert value(families, "hiscrm_monitor_pages_measured", worker=WORKER) == 1
    assert value(families, "hiscrm_monitor_page_js_heap_max_bytes", worker=WORKER) == value(
        families, "hiscrm_monitor_page_js_heap_bytes", worker=WORKER
    )  # one account: its page is the largest and the sum
    assert "renewing the monitor page (open for" in cluster.workers[WORKER].log_text()

    # enough renewals that the restarted worker's count stays below them a while
    old = wait_for(
        lambda: (n := _page(cluster).renewals) >= 3 and n,
        timeout=120,
        what="three renewals before the restart",
    )
    cluster.workers[WORKER].stop()
    before = _renewed_total(port)
    assert before >= 3
    cluster.start_worker(WORKER, HISCRM_PAGE_RENEW_MIN=RENEW_MIN_AFTER_RESTART)
    # the new process's count: from 0 again, below the old one
    now = wait_for(
        lambda: 1 <= (n := _page(cluster).renewals) < old and n,
        timeout=120,
        what="a renewal by the restarted worker",
    )
    # counted on from where it was, not lost against the old count
    after = _renewed_total(port)
    assert after >= before + now, (before, now, after)
