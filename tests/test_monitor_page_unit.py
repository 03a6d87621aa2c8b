"""The monitor page's figures, one module at a time: the worker's conversion
(CreatorCentreAdapter.monitor_page, the base adapter's zeros), the master's
renewal counter (a count that starts at 0 again), its per-worker gauges, the
account it describes, the heartbeat's limit and the console's line. End to
end with a real master, worker and Chromium: tests/test_page_vitals_live.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from master.accounts import account_of
from master.counters import PageRenewals
from master.limits import LimitError, check_heartbeat
from master.metrics import _monitor_pages
from master.registry import WorkerRecord
from master.store.models import AccountRow
from tests.platform_helpers import monitor_config
from tui.screens.accounts import page_line
from worker.browser.page_vitals import MIB, PageVitals
from worker.platforms.base import AdapterContext
from worker.platforms.demo import DemoAdapter
from worker.platforms.synthetic import SyntheticAdapter

Page = common_pb2.MonitorPage


def _hb(**renewals: int) -> gateway_pb2.Heartbeat:
    hb = gateway_pb2.Heartbeat()
    for account_id, count in renewals.items():
        hb.accounts.add(account_id=account_id, monitor_page=Page(renewals=count))
    return hb


def test_renewals_count_the_increments_and_a_count_that_starts_again() -> None:
    r = PageRenewals()
    # the first heartbeat this master hears from w1: a baseline (the master
    # before it may have counted these)
    r.heartbeat("w1", "boot-1", _hb(a=5, b=0))
    assert r.by_worker == {"w1": 0}
    r.heartbeat("w1", "boot-1", _hb(a=7, b=1))
    assert r.by_worker == {"w1": 3}
    r.heartbeat("w1", "boot-1", _hb(a=7, b=1))  # repeated: nothing new
    assert r.by_worker == {"w1": 3}
    # a's count dropped: it started again on w1 (moved away and back) and
    # renewed twice since
    r.heartbeat("w1", "boot-1", _hb(a=2, b=1))
    assert r.by_worker == {"w1": 5}
    # an account new to w1 since its last heartbeat counts in full
    r.heartbeat("w1", "boot-1", _hb(a=2, b=1, c=1))
    assert r.by_worker == {"w1": 6}
    # w1 restarted: every count is new, even one above the old (b: 1 -> 4)
    r.heartbeat("w1", "boot-2", _hb(a=0, b=4))
    assert r.by_worker == {"w1": 10}
    # another worker is counted apart, baseline first
    r.heartbeat("w2", "x", _hb(a=3))
    r.heartbeat("w2", "x", _hb(a=4))
    assert r.by_worker == {"w1": 10, "w2": 1}


def _record(worker_id: str, state: int, *heaps: int) -> WorkerRecord:
    record = WorkerRecord(worker_id=worker_id)
    record.state = state  # type: ignore[assignment]  # a WorkerState value
    for i, heap in enumerate(heaps):
        status = gateway_pb2.AccountStatus(
            account_id=f"{worker_id}-{i}", monitor_page=Page(js_heap_used_bytes=heap)
        )
        record.account_status[status.account_id] = status
    return record


def test_gauges_per_worker_and_nothing_from_a_silent_one() -> None:
    online = _record("w1", common_pb2.WORKER_STATE_ONLINE, 4 * MIB, 0, 10 * MIB)
    missing = _record("w2", common_pb2.WORKER_STATE_MISSING, 99 * MIB)
    families = {f.name: f for f in _monitor_pages([online, missing], {"w1": 3})}

    def sample(name: str, worker: str) -> float:
        (value,) = [s.value for s in families[name].samples if s.labels["worker"] == worker]
        return value

    assert sample("hiscrm_monitor_page_renewals", "w1") == 3
    assert sample("hiscrm_monitor_page_renewals", "w2") == 0  # a series for every worker
    assert sample("hiscrm_monitor_page_js_heap_bytes", "w1") == 14 * MIB
    assert sample("hiscrm_monitor_page_js_heap_max_bytes", "w1") == 10 * MIB
    assert sample("hiscrm_monitor_pages_measured", "w1") == 2  # the 0 was not measured
    for name in ("hiscrm_monitor_page_js_heap_bytes", "hiscrm_monitor_pages_measured"):
        assert sample(name, "w2") == 0  # stale figures of a missing worker


def test_the_account_carries_the_page_only_when_given() -> None:
    row = AccountRow(account_id="a1", platform="PLATFORM_DEMO", fingerprint_seed="s")
    assert not account_of(row).HasField("monitor_page")
    page = Page(js_heap_used_bytes=3 * MIB, dom_nodes=812, age_s=720, renewals=3)
    assert account_of(row, 0, page).monitor_page == page


def test_an_absurd_heap_is_refused_with_the_heartbeat() -> None:
    hb = gateway_pb2.Heartbeat()
    hb.accounts.add(account_id="a1", monitor_page=Page(js_heap_used_bytes=2**63))
    with pytest.raises(LimitError, match=r"monitor_page\.js_heap_used_bytes"):
        check_heartbeat(hb)
    hb.accounts[0].monitor_page.js_heap_used_bytes = 2**63 - 1
    check_heartbeat(hb)


class OpenPage:
    """Just what monitor_page() asks of a Playwright page."""

    def __init__(self) -> None:
        self.closed = False

    def is_closed(self) -> bool:
        return self.closed


async def test_the_adapter_reports_its_open_page_and_nothing_else(tmp_path: Path) -> None:
    ctx = AdapterContext(worker_id="w-pv", data_dir=tmp_path, page_slots=asyncio.Semaphore(1))
    synthetic = SyntheticAdapter(monitor_config("syn-1", common_pb2.PLATFORM_SYNTHETIC), ctx)
    assert synthetic.monitor_page() == Page()  # no page: nothing measured

    adapter = DemoAdapter(monitor_config("pv-1", common_pb2.PLATFORM_DEMO), ctx)
    assert adapter.monitor_page() == Page()
    page = OpenPage()
    adapter.page = page  # type: ignore[assignment]  # only is_closed() is read
    adapter.renewal.renewals = 2
    adapter.renewal.opened(asyncio.get_running_loop().time() - 90)

    def reported() -> common_pb2.MonitorPage:
        got = adapter.monitor_page()
        assert 90 <= got.age_s < 90 + 60, got  # seconds since it opened, however slow this runs
        got.age_s = 90
        return got

    assert reported() == Page(age_s=90, renewals=2)  # open, not measured yet
    adapter.page_vitals = PageVitals(5 * MIB, 8 * MIB, 812, 1, 40)
    assert reported() == Page(js_heap_used_bytes=5 * MIB, dom_nodes=812, age_s=90, renewals=2)
    page.closed = True  # what was measured belongs to a page that is gone
    assert adapter.monitor_page() == Page(renewals=2)


def _account(page: common_pb2.MonitorPage) -> control_pb2.Account:
    return control_pb2.Account(account_id="a1", monitor_page=page)


def test_the_console_line() -> None:
    assert page_line(_account(Page())) == ""  # nothing measured: no line
    measured = Page(js_heap_used_bytes=int(4.1 * MIB), dom_nodes=812, age_s=720, renewals=3)
    assert page_line(_account(measured)) == (
        "page: open 12m, JS heap 4.1 MiB, 812 nodes, renewed 3×"
    )
    assert page_line(_account(Page(renewals=1))) == "page: none open, renewed 1×"
