"""PageRenewal's decisions and PageVitals' reading of DevTools' answer."""

from __future__ import annotations

import random

import pytest

from worker.browser.page_vitals import MIB, PageVitals
from worker.platforms.page_renewal import SPREAD, PageRenewal


def vitals(heap_mib: float) -> PageVitals:
    return PageVitals(int(heap_mib * MIB), int(heap_mib * MIB) * 2, 100, 1, 10)


def test_vitals_read_the_performance_metrics_answer() -> None:
    answer = {
        "metrics": [
            {"name": "JSHeapUsedSize", "value": 3 * MIB},
            {"name": "JSHeapTotalSize", "value": 5 * MIB},
            {"name": "Nodes", "value": 812},
            {"name": "Documents", "value": 2},
            {"name": "JSEventListeners", "value": 57},
            {"name": "Timestamp", "value": 1234.5},
        ]
    }
    got = PageVitals.of(answer)
    assert got == PageVitals(3 * MIB, 5 * MIB, 812, 2, 57)
    assert "JS heap 3.0 MiB, 812 DOM nodes" in str(got)
    assert PageVitals.of({}) == PageVitals(0, 0, 0, 0, 0)


def test_a_page_is_renewed_at_its_drawn_age_and_not_before() -> None:
    renewal = PageRenewal(1000.0, 256.0, random.Random(7))
    assert renewal.why(10_000.0, vitals(1)) == ""  # no page opened yet
    renewal.opened(0.0)
    limit = renewal._limit_s
    assert (1 - SPREAD) * 1000 <= limit <= 1000
    assert renewal.why(limit - 1, vitals(1)) == ""
    assert renewal.why(limit, None).startswith("open for")
    renewal.renewed()
    assert renewal.renewals == 1 and renewal.why(limit * 2, vitals(1)) == ""


def test_pages_opened_together_draw_different_ages() -> None:
    rng = random.Random(1)
    limits = set()
    for _ in range(10):
        renewal = PageRenewal(1800.0, 256.0, rng)
        renewal.opened(0.0)
        limits.add(round(renewal._limit_s))
    assert len(limits) == 10
    assert max(limits) - min(limits) > 60  # spread over minutes, not lockstep


def test_a_heavy_page_is_renewed_whatever_its_age() -> None:
    renewal = PageRenewal(1000.0, 64.0, random.Random(3))
    renewal.opened(0.0)
    assert renewal.why(1.0, vitals(63.9)) == ""
    assert renewal.why(1.0, vitals(64.5)) == "JS heap 64 MiB > 64 MiB"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PageRenewal(0, 10)
    with pytest.raises(ValueError):
        PageRenewal(10, -1)
