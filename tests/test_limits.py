"""Bounds against a connection and stream flood: the master stays within its
limits, says RESOURCE_EXHAUSTED, logs it with a rate limit, and Control
keeps answering throughout."""

from __future__ import annotations

import asyncio
import os
import resource
import socket

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hiscrm.v1 import control_pb2
from tests.harness import Cluster, free_port, wait_for
from tests.metrics_helpers import scrape, value

MAX_CONNECTIONS = 100
FLOOD = 400
PER_PEER = 16


def _connections_of(pid: int) -> int:
    return sum(
        1
        for fd in os.listdir(f"/proc/{pid}/fd")
        if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    )


async def _watch_flood(address: str, count: int) -> dict[str, int]:
    """count Health.Watch streams at once, each on its own call; how each ended."""
    outcomes: dict[str, int] = {}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        calls = [stub.Watch(health_pb2.HealthCheckRequest()) for _ in range(count)]

        async def first(call: grpc.aio.UnaryStreamCall) -> str:
            try:
                await call.read()
                return "OPEN"
            except grpc.aio.AioRpcError as exc:
                return exc.code().name

        for name in await asyncio.gather(*(first(c) for c in calls)):
            outcomes[name] = outcomes.get(name, 0) + 1
        for call in calls:
            call.cancel()
    return outcomes


def test_connection_flood_is_bounded_and_control_still_answers(cluster: Cluster) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    metrics_port = free_port()
    master = cluster.start_master(
        HISCRM_METRICS_LISTEN=f"127.0.0.1:{metrics_port}",
        HISCRM_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        HISCRM_HANDSHAKE_TIMEOUT_MS="2000",
        HISCRM_MAX_ANONYMOUS_CALLS_PER_PEER=str(PER_PEER),
        HISCRM_MAX_ANONYMOUS_CALLS="64",
    )
    # an operator's connection, made before the flood
    assert cluster.call("GetStats", control_pb2.GetStatsRequest(), timeout=5)
    host, port = cluster.address.rsplit(":", 1)
    flood: list[socket.socket] = []
    try:
        for _ in range(FLOOD):
            s = socket.create_connection((host, int(port)), timeout=5)
            flood.append(s)
        # the flood is held open; Control still answers, many times over
        for _ in range(20):
            stats = cluster.call("GetStats", control_pb2.GetStatsRequest(), timeout=5)
            assert stats is not None
        # the master holds no more than its limit (plus its listening sockets)
        assert _connections_of(master.pid) <= MAX_CONNECTIONS + 10, _connections_of(master.pid)

        # silent connections are closed at the handshake timeout
        def closed() -> bool:
            gone = 0
            for s in flood:
                s.settimeout(0.01)
                try:
                    if s.recv(1) == b"":
                        gone += 1
                except (TimeoutError, BlockingIOError):
                    pass
                except OSError:
                    gone += 1
            return gone == FLOOD

        wait_for(closed, timeout=30, what="the silent connections closed by the master")
        # anonymous streams are capped per peer: the rest get RESOURCE_EXHAUSTED
        outcomes = asyncio.run(_watch_flood(cluster.address, PER_PEER * 3))
        assert outcomes.get("OPEN") == PER_PEER, outcomes
        assert outcomes.get("RESOURCE_EXHAUSTED") == PER_PEER * 2, outcomes
        metrics = scrape(metrics_port)
        assert value(metrics, "hiscrm_calls_exhausted_total") == PER_PEER * 2
        assert cluster.call("GetStats", control_pb2.GetStatsRequest(), timeout=5)
        # a new operator connection is accepted too
        with grpc.insecure_channel(cluster.address) as fresh:
            from hiscrm.v1 import control_pb2_grpc

            stub = control_pb2_grpc.ControlStub(fresh)
            assert stub.GetStats(
                control_pb2.GetStatsRequest(), metadata=cluster.metadata(), timeout=5
            )
    finally:
        for s in flood:
            s.close()
    # refused calls are logged, but not once each
    log = master.log_text()
    lines = [line for line in log.splitlines() if "RESOURCE_EXHAUSTED for /grpc.health" in line]
    assert 1 <= len(lines) < PER_PEER * 2, lines
    assert "more like it" in log or len(lines) == 1
