"""The master's Prometheus endpoint (GET /metrics) through prometheus_client.

One private CollectorRegistry per master: the process and platform
collectors, build info, the latency histograms of master/counters.py, and a
collector that reads the master's state at scrape time (counters, workers by
state, accounts by run state, ...). State gauges export every enum value,
zeros included: a series that disappears when it reaches zero cannot be told
apart from a master that stopped reporting it.

The scrape runs on the asyncio loop, in an aiohttp handler: the collector
reads dicts that only the loop mutates, so a scrape thread (prometheus_client's
start_http_server) could see them change under it. A scrape is a walk over
the workers and accounts in memory, milliseconds for thousands of accounts.
"""

from __future__ import annotations

import logging
import platform
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

import grpc
from aiohttp import web
from google import protobuf
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from hiscrm.v1 import common_pb2
from hiscrm_common import __version__

if TYPE_CHECKING:
    from master.app import MasterApp
    from master.registry import WorkerRecord

log = logging.getLogger(__name__)


def _states(enum: EnumTypeWrapper, prefix: str) -> list[str]:
    """Every value of a proto enum but UNSPECIFIED, as its full name."""
    return [n for n in enum.keys() if n != f"{prefix}UNSPECIFIED"]


WORKER_STATES = _states(common_pb2.WorkerState, "WORKER_STATE_")
RUN_STATES = _states(common_pb2.RunState, "RUN_STATE_")


def _by_state(
    name: str, help_text: str, known: list[str], prefix: str, counts: Counter[str]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=["state"])
    # every known state, then whatever else is there (never dropped)
    for state in [*known, *sorted(set(counts) - set(known))]:
        family.add_metric([state.removeprefix(prefix).lower()], counts.get(state, 0))
    return family


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _monitor_pages(workers: list[WorkerRecord], renewals: dict[str, int]) -> Iterator[Metric]:
    """Each worker's monitor pages (AccountStatus.monitor_page), per worker and
    never per account: thousands of accounts stay a handful of series. The
    figures of a worker not online are stale and count 0."""
    renewed = CounterMetricFamily(
        "hiscrm_monitor_page_renewals",
        "Monitor pages renewed (closed, a fresh one opened) on each worker, counted "
        "from its heartbeats since this master started.",
        labels=["worker"],
    )
    measured = GaugeMetricFamily(
        "hiscrm_monitor_pages_measured",
        "Monitor pages whose JS heap the worker's last heartbeat reported.",
        labels=["worker"],
    )
    heap = GaugeMetricFamily(
        "hiscrm_monitor_page_js_heap_bytes",
        "JS heap in use of each worker's monitor pages, summed (last heartbeat).",
        labels=["worker"],
    )
    largest = GaugeMetricFamily(
        "hiscrm_monitor_page_js_heap_max_bytes",
        "JS heap in use of each worker's largest monitor page (last heartbeat).",
        labels=["worker"],
    )
    for w in workers:
        renewed.add_metric([w.worker_id], renewals.get(w.worker_id, 0))
        online = w.state == common_pb2.WORKER_STATE_ONLINE
        heaps = [
            status.monitor_page.js_heap_used_bytes
            for status in (w.account_status.values() if online else ())
            if status.monitor_page.js_heap_used_bytes
        ]
        measured.add_metric([w.worker_id], len(heaps))
        heap.add_metric([w.worker_id], sum(heaps))
        largest.add_metric([w.worker_id], max(heaps, default=0))
    yield from (renewed, measured, heap, largest)


class MasterCollector:
    """The master's own figures, read when scraped."""

    def __init__(self, app: MasterApp) -> None:
        self.app = app

    def describe(self) -> list[Metric]:
        return []  # names come from collect(); nothing to check at register time

    def collect(self) -> Iterator[Metric]:
        app, c = self.app, self.app.counters
        yield _counter(
            "hiscrm_items_ingested", "New items stored (duplicates excluded).", c.items_ingested
        )
        yield _counter("hiscrm_item_duplicates", "Items received again and ignored.", c.duplicates)
        yield _counter("hiscrm_batches", "Item batches committed.", c.batches)
        yield _counter("hiscrm_acks", "Acks sent to workers after commit.", c.acks)
        yield _counter(
            "hiscrm_items_refused",
            "Items Nacked as never storable (limits, unknown enums).",
            c.items_refused,
        )
        yield _counter(
            "hiscrm_batches_refused",
            "Whole batches Nacked (account unknown or never held by the worker).",
            c.batches_refused,
        )
        yield _counter(
            "hiscrm_frames_rejected", "Frames refused (size, limits, account).", c.frames_rejected
        )
        yield _counter(
            "hiscrm_calls_refused",
            "RPCs refused: no or a wrong token, or a role that does not allow the method.",
            c.calls_refused,
        )
        yield _counter(
            "hiscrm_calls_exhausted",
            "RPCs refused with RESOURCE_EXHAUSTED: over a concurrent-call bound.",
            c.calls_exhausted,
        )
        yield _counter(
            "hiscrm_stream_connects",
            "Worker streams opened (reconnects incl.).",
            app.registry.stream_connects,
        )
        logins = CounterMetricFamily(
            "hiscrm_logins", "Finished logins by outcome.", labels=["outcome"]
        )
        for outcome, n in sorted(c.logins_by_outcome.items()):
            logins.add_metric([outcome], n)
        yield logins
        failures = CounterMetricFamily(
            "hiscrm_task_failures",
            "Unexpected failures of long-lived tasks (logged with traceback, task restarted).",
            labels=["task"],
        )
        for task, n in app.failures.counts().items():
            failures.add_metric([task], n)
        yield failures
        notes = CounterMetricFamily(
            "hiscrm_notifications",
            "Notification messages sent and failed (after retries), notifications dropped "
            "(a full queue, or events the notifier missed).",
            labels=["outcome"],
        )
        for outcome, n in zip(("sent", "failed", "dropped"), app.notifications.counts, strict=True):
            notes.add_metric([outcome], n)
        yield notes
        workers = sorted(app.registry.workers.values(), key=lambda w: w.worker_id)
        delivery = CounterMetricFamily(
            "hiscrm_worker_delivery_errors",
            "Outbox failures of each worker's delivery since it started (from heartbeats).",
            labels=["worker"],
        )
        for w in workers:
            delivery.add_metric([w.worker_id], w.delivery_errors)
        yield delivery
        yield from _monitor_pages(workers, c.page_renewals.by_worker)
        yield _by_state(
            "hiscrm_workers",
            "Workers by gateway state.",
            WORKER_STATES,
            "WORKER_STATE_",
            Counter(common_pb2.WorkerState.Name(w.state) for w in workers),
        )
        yield _by_state(
            "hiscrm_hosts",
            "Worker hosts (host agents) by state.",
            WORKER_STATES,
            "WORKER_STATE_",
            Counter(common_pb2.WorkerState.Name(h.state) for h in app.hosts.hosts.values()),
        )
        yield _by_state(
            "hiscrm_accounts",
            "Accounts by run state (as the console shows them).",
            RUN_STATES,
            "RUN_STATE_",
            Counter(row.state for row in app.accounts.rows.values()),
        )
        yield _gauge(
            "hiscrm_pending_config_acks",
            "Accounts whose worker has not acked the config.",
            app.pending_config_acks(),
        )
        yield _gauge(
            "hiscrm_problems",
            "Problems an operator must look at (GetStats.problems).",
            len(app.problems()),
        )
        yield _gauge(
            "hiscrm_event_subscribers", "Live WatchEvents subscribers.", app.bus.subscriber_count
        )
        yield _counter(
            "hiscrm_event_subscribers_dropped",
            "WatchEvents subscribers cut off for falling behind.",
            app.bus.dropped_subscribers,
        )


def build_registry(app: MasterApp) -> CollectorRegistry:
    """The master's registry; private, so nothing else in the process (a
    library's default-registry metrics, another MasterApp in a test) leaks in."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    Info("hiscrm_build", "The master's version and its runtime.", registry=registry).info(
        {
            "version": __version__,
            "python": platform.python_version(),
            "grpc": grpc.__version__,
            "protobuf": protobuf.__version__,
        }
    )
    for histogram in app.counters.latencies.collectors():
        registry.register(histogram)
    registry.register(MasterCollector(app))
    return registry


async def start_metrics(app: MasterApp, listen: str) -> web.AppRunner | None:
    if not listen:
        return None
    host, _, port = listen.rpartition(":")
    registry = build_registry(app)

    async def handle(request: web.Request) -> web.Response:
        # the text format, or OpenMetrics for a scraper that asks for it
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(registry), headers={"Content-Type": content_type})

    web_app = web.Application()
    web_app.router.add_get("/metrics", handle)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
    except OSError as exc:
        log.error("metrics endpoint not started on %s: %s", listen, exc)
        await runner.cleanup()
        return None
    log.info("metrics on http://%s/metrics", listen)
    return runner
