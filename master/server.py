"""hiscrm-master: the gRPC server process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hiscrm.v1 import (
    control_pb2,
    control_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
    hosts_pb2,
    hosts_pb2_grpc,
)
from hiscrm_common import settings, taskdump
from hiscrm_common.logs import setup_logging
from hiscrm_common.supervise import start as supervised
from master.app import MasterApp
from master.auth import AuthInterceptor
from master.call_limits import Limits
from master.config import MasterConfig
from master.control import ControlService
from master.errors import InternalErrorInterceptor
from master.gateway import WorkerGateway, transport_limit
from master.host_gateway import HostGateway
from master.metrics import start_metrics
from master.store.database import Database
from master.watchdog import watch as watch_health

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    gateway_pb2.DESCRIPTOR.services_by_name["WorkerGateway"].full_name,
    control_pb2.DESCRIPTOR.services_by_name["Control"].full_name,
    hosts_pb2.DESCRIPTOR.services_by_name["HostGateway"].full_name,
)


def server_options(config: MasterConfig) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", transport_limit(config.max_message_bytes)),
        ("grpc.max_send_message_length", config.max_message_bytes),
        # Ping idle streams so NATs and proxies keep them, and notice dead
        # peers; accept the workers' own pings every 5 s or slower.
        ("grpc.keepalive_time_ms", 20_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.so_reuseport", 0),
    ]


def server_credentials() -> grpc.ServerCredentials | None:
    tls = settings.server_tls_settings()
    if not tls.enabled:
        return None
    if tls.cert_file is None or tls.key_file is None:
        raise SystemExit(
            "TLS needs both HISCRM_TLS_CERT and HISCRM_TLS_KEY "
            "(or HISCRM_TLS_SERVER_CERT and HISCRM_TLS_SERVER_KEY)"
        )
    ca = tls.ca_file.read_bytes() if tls.ca_file else None
    return grpc.ssl_server_credentials(
        [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())],
        root_certificates=ca,
        require_client_auth=ca is not None,
    )


class MasterServer:
    def __init__(
        self, config: MasterConfig, db: Database, admin_token: str, enrollment_token: str | None
    ) -> None:
        self.config = config
        self.app = MasterApp(config, db)
        self.admin_token = admin_token
        self.enrollment_token = enrollment_token
        self.limits = Limits.from_env()
        self.auth = AuthInterceptor(
            self.app.credentials, self.app.audit, self.limits, self.app.counters
        )
        self.server = grpc.aio.server(
            interceptors=[self.auth, InternalErrorInterceptor()],
            options=server_options(config) + self.limits.server_options(),
        )
        self.health = health.aio.HealthServicer()
        self.metrics: web.AppRunner | None = None
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self.app.db.migrate)
        await self.app.credentials.load()
        await self.app.credentials.bootstrap(self.admin_token, self.enrollment_token)
        await self.app.start()
        gateway_pb2_grpc.add_WorkerGatewayServicer_to_server(WorkerGateway(self.app), self.server)
        control_pb2_grpc.add_ControlServicer_to_server(ControlService(self.app), self.server)
        hosts_pb2_grpc.add_HostGatewayServicer_to_server(HostGateway(self.app), self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        creds = server_credentials()
        if creds is None:
            port = self.server.add_insecure_port(self.config.listen)
        else:
            port = self.server.add_secure_port(self.config.listen, creds)
        if port == 0:
            raise SystemExit(f"cannot listen on {self.config.listen} (address in use?)")
        await self.server.start()
        self.metrics = await start_metrics(self.app, self.config.metrics_listen)
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._watchdog = supervised(
            "watchdog",
            lambda: watch_health(self.app, self.health, SERVICE_NAMES),
            failures=self.app.failures,
            context="master",
        )
        log.info(
            "master listening on %s (%s, database %s, at most %d connections, "
            "worker enrollment %s)",
            self.config.listen,
            "TLS" if creds else "plaintext",
            self.app.db.backend,
            self.limits.max_connections,
            "on" if self.enrollment_token else "off",
        )

    async def stop(self, grace: float = 5.0) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        await self.health.enter_graceful_shutdown()
        self.app.stopping = True
        self.app.scheduler.freeze()  # the streams closing now must not move accounts
        await self.server.stop(grace)
        if self.metrics is not None:
            await self.metrics.cleanup()
        await self.app.stop()
        self.app.db.dispose()


async def serve(config: MasterConfig) -> None:
    admin_token = settings.load_token(create=True)
    # HISCRM_ENROLLMENT=off: only workers with a credential from
    # `hiscrm token create --worker ID` may connect
    enrollment = None
    if settings.get().enrollment:
        enrollment = settings.load_enrollment_token(create=True)
    master = MasterServer(config, Database(), admin_token, enrollment)
    await master.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    taskdump.install("master")
    await stop.wait()
    log.info("master stopping")
    await master.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hiscrm-master", description=__doc__)
    parser.add_argument(
        "--listen",
        help="host:port to serve gRPC on (default $HISCRM_LISTEN or "
        f"{settings.DEFAULT_MASTER_ADDRESS})",
    )
    args = parser.parse_args(argv)
    setup_logging("master")
    asyncio.run(serve(MasterConfig.from_env(args.listen)))


if __name__ == "__main__":
    main()
