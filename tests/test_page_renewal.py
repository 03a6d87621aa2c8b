"""A monitor page that is old, or whose JS heap is too large, is replaced by
a fresh page at the start of a cycle (worker/platforms/page_renewal.py), on
the real demo platform and the worker's real Chromium: the old page closes,
the fresh one loads the creator centre in the same context (the session
stays), its live channel delivers, and the cycle reads on from the cursor."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from hiscrm.v1 import common_pb2
from tests.demo_helpers import admin
from tests.harness import Cluster
from tests.test_platform_demo import USER, bounded, counters, delta, demo_adapter
from worker.platforms.page_renewal import PageRenewal

pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.timeout(240)


async def test_an_old_or_heavy_monitor_page_is_renewed_and_reading_goes_on(
    tmp_path: Path, cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="worker.platforms.demo")
    async with demo_adapter(tmp_path, cluster) as (base, adapter):
        live: list[common_pb2.Item] = []
        adapter.live_sink = live.extend
        first = await adapter.fetch_new("")
        page = adapter.page
        assert page is not None and adapter.actx is not None
        vitals = await adapter.actx.vitals(page)
        # real figures of the creator centre's renderer, not defaults
        assert vitals.js_heap_used_bytes > 0 and vitals.dom_nodes > 10, vitals
        assert adapter.renewal.why(asyncio.get_running_loop().time(), vitals) == ""

        # Young and light: the next cycle keeps the page.
        before = counters(base)
        result = await adapter.fetch_new(first.cursor)
        assert adapter.page is page and adapter.renewal.renewals == 0
        assert delta(before, counters(base), "creator_page") == 0
        # what the heartbeat reports: the page as measured at the end of the cycle
        reported = adapter.monitor_page()
        assert reported.js_heap_used_bytes > 0 and reported.dom_nodes > 10, reported
        assert reported.renewals == 0

        # Old: a page whose age limit is a millisecond is renewed by the next cycle.
        adapter.renewal = PageRenewal(0.001, 256)
        adapter.renewal.opened(0.0)
        admin(base, "/admin/comments", {"username": USER, "text": "after-age-renewal"})
        result = await adapter.fetch_new(result.cursor)
        assert page.is_closed() and adapter.page is not None and adapter.page is not page
        assert adapter.renewal.renewals == 1
        assert "after-age-renewal" in {i.content for i in result.items}
        # the figures are the fresh page's, measured at the end of its first cycle
        reported = adapter.monitor_page()
        assert reported.renewals == 1 and reported.js_heap_used_bytes > 0, reported
        assert adapter.page_vitals is not None
        assert reported.dom_nodes == adapter.page_vitals.dom_nodes
        assert len(result.items) < len(first.items)  # from the cursor on, not the history
        assert delta(before, counters(base), "creator_page") == 1  # the fresh page loaded it
        assert any("renewing the monitor page (open for" in r.getMessage() for r in caplog.records)

        # The fresh page's live channel delivers between cycles.
        await bounded(adapter._live_open, "the fresh page's live channel")
        admin(base, "/admin/messages", {"username": USER, "text": "live-after-renewal"})
        await bounded(lambda: any(i.content == "live-after-renewal" for i in live), "a live DM")

        # Heavy: a heap limit below what the page holds renews it at once.
        second = adapter.page
        adapter.renewal = PageRenewal(3600, 0.01)
        adapter.renewal.opened(asyncio.get_running_loop().time())
        result = await adapter.fetch_new(result.cursor)
        assert second.is_closed() and adapter.page is not second
        assert any(
            "renewing the monitor page (JS heap" in r.getMessage() and "DOM nodes" in r.getMessage()
            for r in caplog.records
        )
        assert "live-after-renewal" in {i.content for i in result.items}
