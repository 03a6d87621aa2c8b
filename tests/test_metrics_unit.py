"""master/counters.py's Latencies alone: what is observed once, what is
clamped, what is skipped. The end-to-end test is tests/test_metrics.py."""

from __future__ import annotations

import time

from google.protobuf.timestamp_pb2 import Timestamp

from hiscrm.v1 import common_pb2, gateway_pb2
from master.counters import Latencies


def _sample(lat: Latencies, name: str, **labels: str) -> float:
    for family in (lat.ingest_to_ack, lat.item_to_event, lat.cycle):
        for metric in family.collect():
            for s in metric.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
    raise KeyError(name)


def _ts(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def _dm(detected: float | None) -> common_pb2.Item:
    item = common_pb2.Item(kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE, platform_item_id="x")
    if detected is not None:
        item.detected_at.CopyFrom(_ts(detected))
    return item


def test_item_to_event_clamps_skew_and_skips_unstamped_items() -> None:
    lat = Latencies()
    now = time.time()
    lat.item_published(_dm(now - 2.0), now)
    lat.item_published(_dm(now + 30.0), now)  # the worker's clock runs ahead
    lat.item_published(_dm(None), now)  # an older worker: nothing to measure
    dm = {"kind": "direct_message"}
    assert _sample(lat, "hiscrm_item_to_event_seconds_count", **dm) == 2
    assert abs(_sample(lat, "hiscrm_item_to_event_seconds_sum", **dm) - 2.0) < 1e-3
    # the clamped one is in the lowest bucket, the 2 s one is not
    assert _sample(lat, "hiscrm_item_to_event_seconds_bucket", le="0.01", **dm) == 1
    assert _sample(lat, "hiscrm_item_to_event_seconds_count", kind="comment") == 0


def _hb(*statuses: tuple[str, float, int]) -> gateway_pb2.Heartbeat:
    hb = gateway_pb2.Heartbeat()
    for account_id, at, ms in statuses:
        hb.accounts.add(account_id=account_id, last_cycle_at=_ts(at), last_cycle_ms=ms)
    return hb


def test_each_cycle_is_observed_once() -> None:
    lat = Latencies()
    platforms = {"a": "PLATFORM_DEMO", "b": "PLATFORM_DOUYIN"}
    t = lat.started_wall
    demo = {"platform": "demo"}

    def count(**labels: str) -> float:
        return _sample(lat, "hiscrm_monitor_cycle_seconds_count", **labels)

    # a cycle that ended before this master started: maybe seen by the last one
    lat.heartbeat("w1", _hb(("a", t - 5, 700)), platforms.get)
    assert count(**demo) == 0
    # a new one, reported by two heartbeats in a row: one sample
    lat.heartbeat("w1", _hb(("a", t + 1, 1500), ("b", t + 1, 0)), platforms.get)
    lat.heartbeat("w1", _hb(("a", t + 1, 1500), ("b", t + 1, 0)), platforms.get)
    assert count(**demo) == 1
    assert _sample(lat, "hiscrm_monitor_cycle_seconds_sum", **demo) == 1.5
    assert count(platform="douyin") == 0  # last_cycle_ms 0: not measured
    # the next cycle, and an account that is gone meanwhile
    lat.heartbeat("w1", _hb(("a", t + 2, 300), ("gone", t + 2, 300)), platforms.get)
    assert count(**demo) == 2
    # the same account on another worker after a move is a different cycle
    lat.heartbeat("w2", _hb(("a", t + 3, 200)), platforms.get)
    assert count(**demo) == 3
