"""Prometheus text-format metrics over HTTP (GET /metrics)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from master.app import MasterApp

log = logging.getLogger(__name__)


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value}"
    return f"{name} {value}"


def render(app: MasterApp) -> str:
    c = app.counters
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[str]) -> None:
        out.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples])

    metric(
        "hiscrm_items_ingested_total",
        "counter",
        "New items stored (duplicates excluded).",
        [_line("hiscrm_items_ingested_total", c.items_ingested)],
    )
    metric(
        "hiscrm_item_duplicates_total",
        "counter",
        "Items received again and ignored.",
        [_line("hiscrm_item_duplicates_total", c.duplicates)],
    )
    metric(
        "hiscrm_batches_total",
        "counter",
        "Item batches committed.",
        [_line("hiscrm_batches_total", c.batches)],
    )
    metric(
        "hiscrm_acks_total",
        "counter",
        "Acks sent to workers after commit.",
        [_line("hiscrm_acks_total", c.acks)],
    )
    metric(
        "hiscrm_calls_refused_total",
        "counter",
        "RPCs refused: no or a wrong token, or a role that does not allow the method.",
        [_line("hiscrm_calls_refused_total", c.calls_refused)],
    )
    metric(
        "hiscrm_calls_exhausted_total",
        "counter",
        "RPCs refused with RESOURCE_EXHAUSTED: over a concurrent-call bound.",
        [_line("hiscrm_calls_exhausted_total", c.calls_exhausted)],
    )
    metric(
        "hiscrm_frames_rejected_total",
        "counter",
        "Frames refused (size, auth, account).",
        [_line("hiscrm_frames_rejected_total", c.frames_rejected)],
    )
    metric(
        "hiscrm_pending_config_acks",
        "gauge",
        "Accounts whose worker has not acked the config.",
        [_line("hiscrm_pending_config_acks", app.pending_config_acks())],
    )
    metric(
        "hiscrm_stream_connects_total",
        "counter",
        "Worker streams opened (reconnects incl.).",
        [_line("hiscrm_stream_connects_total", app.registry.stream_connects)],
    )
    metric(
        "hiscrm_workers",
        "gauge",
        "Workers by gateway state.",
        [
            _line("hiscrm_workers", n, {"state": s.removeprefix("WORKER_STATE_").lower()})
            for s, n in sorted(app.registry.counts_by_state().items())
        ],
    )
    metric(
        "hiscrm_logins_total",
        "counter",
        "Finished logins by outcome.",
        [
            _line("hiscrm_logins_total", n, {"outcome": o})
            for o, n in sorted(c.logins_by_outcome.items())
        ],
    )
    metric(
        "hiscrm_task_failures_total",
        "counter",
        "Unexpected failures of long-lived tasks (logged with traceback, task restarted).",
        [
            _line("hiscrm_task_failures_total", n, {"task": t})
            for t, n in app.failures.counts().items()
        ],
    )
    metric(
        "hiscrm_items_refused_total",
        "counter",
        "Items Nacked as never storable (limits, unknown enums).",
        [_line("hiscrm_items_refused_total", c.items_refused)],
    )
    metric(
        "hiscrm_batches_refused_total",
        "counter",
        "Whole batches Nacked (account unknown or never held by the worker).",
        [_line("hiscrm_batches_refused_total", c.batches_refused)],
    )
    metric(
        "hiscrm_problems",
        "gauge",
        "Problems an operator must look at (GetStats.problems).",
        [_line("hiscrm_problems", len(app.problems()))],
    )
    metric(
        "hiscrm_worker_delivery_errors_total",
        "counter",
        "Outbox failures of each worker's delivery since it started (from heartbeats).",
        [
            _line("hiscrm_worker_delivery_errors_total", w.delivery_errors, {"worker": w.worker_id})
            for w in sorted(app.registry.workers.values(), key=lambda w: w.worker_id)
            if w.delivery_errors
        ],
    )
    metric(
        "hiscrm_event_subscribers",
        "gauge",
        "Live WatchEvents subscribers.",
        [_line("hiscrm_event_subscribers", app.bus.subscriber_count)],
    )
    return "\n".join(out) + "\n"


async def start_metrics(app: MasterApp, listen: str) -> web.AppRunner | None:
    if not listen:
        return None
    host, _, port = listen.rpartition(":")

    async def handle(_request: web.Request) -> web.Response:
        return web.Response(text=render(app), content_type="text/plain", charset="utf-8")

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
