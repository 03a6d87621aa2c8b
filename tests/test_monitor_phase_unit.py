"""Cycle spreading: accounts that start together poll spread over the
interval, each keeps its own slot, and a slow cycle does not shift it."""

from __future__ import annotations

import collections
import itertools

from worker.monitor import JITTER, cycle_wait, phase_of

INTERVAL = 60.0


def test_phase_is_deterministic_and_in_range() -> None:
    assert phase_of("acct-1") == phase_of("acct-1")
    assert phase_of("acct-1") != phase_of("acct-2")
    assert all(0.0 <= phase_of(f"a{i}") < 1.0 for i in range(1000))


def test_accounts_started_together_poll_spread_over_the_interval() -> None:
    now = 1_700_000_000.0  # 200 accounts finish their first cycle at the same moment
    ids = [f"cap-{i}" for i in range(200)]
    starts = [now + cycle_wait(phase_of(a), INTERVAL, now) for a in ids]
    per_second = collections.Counter(int(t) % int(INTERVAL) for t in starts)
    # lockstep would put all 200 in one second; uniform spreading ~3.3 a second
    assert max(per_second.values()) <= 12
    assert len(per_second) >= 50  # most seconds of the interval have a cycle
    # a fixed wait (the old 0.9-1.1 x interval from the same start) spans ~12 s only
    assert max(starts) - min(starts) > 0.9 * INTERVAL


def test_each_account_keeps_its_slot_whatever_its_cycles_take() -> None:
    phase = phase_of("cap-7")
    t = 1_700_000_123.4
    slots = []
    for took in (0.2, 5.0, 0.1, 20.0, 0.3):  # cycle durations
        t += took
        wait = cycle_wait(phase, INTERVAL, t)
        assert INTERVAL / 2 <= wait < 1.5 * INTERVAL
        t += wait
        slots.append(t)
    offsets = {round((s - phase * INTERVAL) % INTERVAL, 6) % INTERVAL for s in slots}
    assert offsets == {0.0}  # every cycle starts on the account's slot
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert all(abs(g - INTERVAL) < 1e-6 for g in gaps)


def test_jitter_stays_within_its_bound() -> None:
    phase, now = phase_of("cap-9"), 1_700_000_000.0
    plain = cycle_wait(phase, INTERVAL, now)
    for j in (-JITTER, JITTER):
        assert abs(cycle_wait(phase, INTERVAL, now, j) - plain) <= JITTER * INTERVAL + 1e-9
