"""Health follows what the master can actually do, and problems are announced.

Every second: while `app.fatal_problems()` is not empty (a task in a crash
loop, the database failing under ingest or assignment), the health service
answers NOT_SERVING for the whole server and for our services, so a load
balancer or an operator's probe sees it; every new problem, and its end, is
logged and published as a Notice to every console (WatchEvents).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from grpc_health.v1 import health, health_pb2

from hiscrm.v1 import control_pb2

if TYPE_CHECKING:
    from master.app import MasterApp

log = logging.getLogger(__name__)

PERIOD_S = 1.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _subject(problem: str) -> str:
    """A problem's identity without its changing figures (seconds, counts)."""
    return re.sub(r"\d+", "#", problem)


async def watch(
    app: MasterApp, servicer: health.aio.HealthServicer, services: Iterable[str]
) -> None:
    names = ("", *services)
    serving = True
    known: dict[str, str] = {}  # subject -> problem as first seen
    while True:
        await asyncio.sleep(PERIOD_S)
        fatal = app.fatal_problems()
        problems = fatal + app.registry.delivery_problems() + app.hosts.problems()
        current = {_subject(p): p for p in problems}
        for subject, problem in current.items():
            if subject not in known:
                log.error("problem: %s", problem)
                _notice(app, control_pb2.Notice.LEVEL_ERROR, f"problem: {problem}")
        for subject, problem in known.items():
            if subject not in current:
                log.warning("problem over: %s", problem)
                _notice(app, control_pb2.Notice.LEVEL_INFO, f"problem over: {problem}")
        known = current
        if bool(fatal) == (not serving):
            continue
        serving = not fatal
        status = SERVING if serving else NOT_SERVING
        for name in names:
            await servicer.set(name, status)
        if serving:
            log.warning("health SERVING again")
        else:
            log.error("health NOT_SERVING: %s", "; ".join(fatal))


def _notice(app: MasterApp, level: control_pb2.Notice.Level, message: str) -> None:
    app.bus.publish(notice=control_pb2.Notice(level=level, message=message[:2000]))
