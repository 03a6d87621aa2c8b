"""The master's /metrics with a real master and worker: every family parsed by
prometheus_client's own parser, state gauges with their zeros, the three
latency histograms filled by items that really flowed, build info and the
process collector."""

from __future__ import annotations

import urllib.request

import grpc
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from hiscrm.v1 import common_pb2
from hiscrm_common import __version__
from tests.delivery_helpers import create, items_total, synthetic_spec
from tests.harness import Cluster, free_port, wait_for
from tests.metrics_helpers import scrape, value

TOTAL = 40

# name as the parser gives it (counters without _total) -> type
FAMILIES = {
    "hiscrm_items_ingested": "counter",
    "hiscrm_item_duplicates": "counter",
    "hiscrm_batches": "counter",
    "hiscrm_acks": "counter",
    "hiscrm_items_refused": "counter",
    "hiscrm_batches_refused": "counter",
    "hiscrm_frames_rejected": "counter",
    "hiscrm_calls_refused": "counter",
    "hiscrm_calls_exhausted": "counter",
    "hiscrm_stream_connects": "counter",
    "hiscrm_logins": "counter",
    "hiscrm_task_failures": "counter",
    "hiscrm_worker_delivery_errors": "counter",
    "hiscrm_event_subscribers_dropped": "counter",
    "hiscrm_monitor_page_renewals": "counter",
    "hiscrm_monitor_pages_measured": "gauge",
    "hiscrm_monitor_page_js_heap_bytes": "gauge",
    "hiscrm_monitor_page_js_heap_max_bytes": "gauge",
    "hiscrm_workers": "gauge",
    "hiscrm_accounts": "gauge",
    "hiscrm_pending_config_acks": "gauge",
    "hiscrm_problems": "gauge",
    "hiscrm_event_subscribers": "gauge",
    "hiscrm_build_info": "gauge",
    "hiscrm_ingest_to_ack_seconds": "histogram",
    "hiscrm_item_to_event_seconds": "histogram",
    "hiscrm_monitor_cycle_seconds": "histogram",
    "process_resident_memory_bytes": "gauge",
    "process_cpu_seconds": "counter",
    "process_open_fds": "gauge",
    "process_start_time_seconds": "gauge",
    "python_info": "gauge",
}
WORKER_STATES = ["online", "missing", "offline", "draining"]
RUN_STATES = [
    common_pb2.RunState.Name(v).removeprefix("RUN_STATE_").lower()
    for v in common_pb2.RunState.values()
    if v
]


def _states(families: dict, name: str) -> dict[str, float]:
    return {s.labels["state"]: s.value for s in families[name].samples}


def test_metrics_families_states_and_histograms(cluster: Cluster) -> None:
    port = free_port()
    cluster.start_master(HISCRM_METRICS_LISTEN=f"127.0.0.1:{port}")

    # before any worker or account: every state is there, at zero
    empty = scrape(port)
    for name, kind in FAMILIES.items():
        assert name in empty, f"{name} missing"
        assert empty[name].type == kind, (name, empty[name].type)
    assert _states(empty, "hiscrm_workers") == dict.fromkeys(WORKER_STATES, 0.0)
    assert _states(empty, "hiscrm_accounts") == dict.fromkeys(RUN_STATES, 0.0)
    assert value(empty, "hiscrm_ingest_to_ack_seconds_count") == 0
    for kind in ("comment", "direct_message"):
        assert value(empty, "hiscrm_item_to_event_seconds_count", kind=kind) == 0
    assert value(empty, "hiscrm_monitor_cycle_seconds_count", platform="synthetic") == 0

    cluster.start_worker("mw")
    cluster.wait_worker_state("mw", common_pb2.WORKER_STATE_ONLINE)
    create(cluster, "m1", synthetic_spec(rate=40, total=TOTAL))
    wait_for(lambda: items_total(cluster) == TOTAL, what=f"{TOTAL} items stored")

    def cycles_seen() -> dict | None:
        families = scrape(port)
        cycles = value(families, "hiscrm_monitor_cycle_seconds_count", platform="synthetic")
        running = value(families, "hiscrm_accounts", state="running")
        return families if cycles > 0 and running == 1 else None

    families = wait_for(cycles_seen, what="a cycle reported by a heartbeat, m1 running")

    workers = _states(families, "hiscrm_workers")
    assert workers == {**dict.fromkeys(WORKER_STATES, 0.0), "online": 1.0}
    accounts = _states(families, "hiscrm_accounts")
    assert accounts == {**dict.fromkeys(RUN_STATES, 0.0), "running": 1.0}

    assert value(families, "hiscrm_items_ingested_total") == TOTAL
    batches = value(families, "hiscrm_batches_total")
    assert batches >= 1
    # one ingest-to-ack sample per acked batch
    assert value(families, "hiscrm_ingest_to_ack_seconds_count") == batches
    assert value(families, "hiscrm_ingest_to_ack_seconds_sum") > 0
    # one detection-to-event sample per new item, by kind (30% DMs)
    dms = value(families, "hiscrm_item_to_event_seconds_count", kind="direct_message")
    comments = value(families, "hiscrm_item_to_event_seconds_count", kind="comment")
    assert dms > 0 and comments > 0 and dms + comments == TOTAL
    assert value(families, "hiscrm_monitor_cycle_seconds_sum", platform="synthetic") > 0
    # cumulative buckets end in +Inf == count
    assert (
        value(families, "hiscrm_item_to_event_seconds_bucket", kind="comment", le="+Inf")
        == comments
    )

    (build,) = families["hiscrm_build_info"].samples
    assert build.value == 1
    assert build.labels["version"] == __version__
    assert build.labels["grpc"] == grpc.__version__
    assert build.labels["python"].count(".") == 2
    assert value(families, "process_resident_memory_bytes") > 0
    assert value(families, "process_cpu_seconds_total") > 0
    assert value(families, "hiscrm_worker_delivery_errors_total", worker="mw") == 0
    # a synthetic account has no page: its worker's series are there, at 0
    # (pages measured: tests/test_page_vitals_live.py)
    assert value(families, "hiscrm_monitor_page_renewals_total", worker="mw") == 0
    assert value(families, "hiscrm_monitor_pages_measured", worker="mw") == 0
    assert value(families, "hiscrm_monitor_page_js_heap_max_bytes", worker="mw") == 0


def test_metrics_openmetrics_on_request(cluster: Cluster) -> None:
    """A scraper that asks for OpenMetrics gets it, and it parses as such."""
    port = free_port()
    cluster.start_master(HISCRM_METRICS_LISTEN=f"127.0.0.1:{port}")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("application/openmetrics-text")
        text = r.read().decode()
    families = {f.name: f for f in openmetrics_families(text)}
    assert families["hiscrm_build"].type == "info"
    assert families["hiscrm_ingest_to_ack_seconds"].type == "histogram"
    assert families["hiscrm_workers"].type == "gauge"
