"""When an account's long-lived monitor page is replaced by a fresh one.

A monitor page serves a cycle every interval for as long as the account
runs. What it holds grows with the cycles it served: its renderer's heap
and buffers, the copy of every response body Playwright's DevTools session
keeps for the page, the driver's and the worker's objects for each of its
requests. A reload of the same page frees little of it; closing the page
frees all of it (docs/performance.md, "What grows while a page lives").

So a monitor page is renewed (closed, and a fresh one opened in the same
context: cookies and storage stay) at the start of a cycle once it is older
than its age limit, or as soon as its JS heap is above the heap limit. Each
page draws its age limit between 75 % and 100 % of the setting, so the
accounts of one worker, started together, do not all renew in the same
cycle.
"""

from __future__ import annotations

import random

from worker.browser.page_vitals import PageVitals

SPREAD = 0.25  # a page's age limit is drawn from [1 - SPREAD, 1] x the setting


class PageRenewal:
    def __init__(self, max_age_s: float, max_heap_mib: float, rng: random.Random | None = None):
        if max_age_s <= 0 or max_heap_mib <= 0:
            raise ValueError("a page's age and heap limits must be > 0")
        self.max_age_s = max_age_s
        self.max_heap_mib = max_heap_mib
        self._rng = rng or random.Random()
        self._opened_at: float | None = None
        self._limit_s = max_age_s
        self.renewals = 0

    def opened(self, now: float) -> None:
        """A fresh monitor page starts its life now."""
        self._opened_at = now
        self._limit_s = self.max_age_s * self._rng.uniform(1 - SPREAD, 1)

    def age_s(self, now: float) -> float:
        return 0.0 if self._opened_at is None else now - self._opened_at

    def why(self, now: float, vitals: PageVitals | None) -> str:
        """Why the open page must be renewed before this cycle; "" when it need not."""
        if self._opened_at is None:
            return ""
        if vitals is not None and vitals.js_heap_used_mib > self.max_heap_mib:
            return f"JS heap {vitals.js_heap_used_mib:.0f} MiB > {self.max_heap_mib:g} MiB"
        age = self.age_s(now)
        if age >= self._limit_s:
            return f"open for {age / 60:.0f} min"
        return ""

    def renewed(self) -> None:
        self.renewals += 1
        self._opened_at = None
