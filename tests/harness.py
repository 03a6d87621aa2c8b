"""Start the real processes on loopback and wait for them, for the tests.

Every process gets its own process group so a test can kill -9 it with its
children (Chromium, later) and nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc

from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc

T = TypeVar("T")
DEMOSITE_TOKENS: dict[str, str] = {}  # base URL -> the admin token it requires
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


# Ports handed out come from below the kernel's ephemeral range (32768+), one
# slice per xdist worker, never twice from one process: a port the kernel hands
# out for bind(0) may come back on the next call once its socket is closed,
# and two of one test's listeners then collide (CI: metrics on the gRPC port).
_PORT_BASE = 20000
_PORT_SLICE = 1500
_next_port: list[int] = []


def _port_slice() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return 7  # a bench or a single pytest process, apart from the xdist workers
    digits = "".join(ch for ch in worker if ch.isdigit())
    return int(digits or 0) % 7


def free_port() -> int:
    """A loopback port nothing listens on, never handed out before by this process."""
    start = _PORT_BASE + _port_slice() * _PORT_SLICE
    if not _next_port:
        _next_port.append(start + (os.getpid() % 100))
    for _ in range(_PORT_SLICE):
        port = _next_port[0]
        _next_port[0] = start + (port + 1 - start) % _PORT_SLICE
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free loopback port in {start}..{start + _PORT_SLICE}")


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll until probe returns something truthy; a bounded wait, not a timing assertion."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # the thing may not be up yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"gave up waiting for {what or probe}: last error {last_error!r}")


@dataclass
class Proc:
    name: str
    cmd: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.cmd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=ROOT,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen else None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Cluster:
    """A master and its workers in one run directory."""

    home: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"  # another address for tests with hosts in namespaces
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    master: Proc | None = None
    workers: dict[str, Proc] = field(default_factory=dict)
    _channel: grpc.Channel | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("HISCRM_") or k == "HISCRM_TEST_DATABASE_URL"
        }
        env.update(
            {
                "HISCRM_HOME": str(self.home),
                "HISCRM_LISTEN": self.address,
                "HISCRM_MASTER": self.address,
                "HISCRM_HEARTBEAT_MS": "500",
                "HISCRM_OFFLINE_AFTER_MS": "4000",
                "HISCRM_METRICS_LISTEN": "",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def start_master(self, **env: str) -> Proc:
        proc = Proc(
            "master",
            [str(BIN / "hiscrm-master")],
            self.env(**env),
            self.home / "logs" / "master.log",
        ).start()
        self.master = proc
        self.procs.append(proc)
        wait_for(self._healthy, what="master health", timeout=60)
        return proc

    def start_worker(self, worker_id: str, *args: str, **env: str) -> Proc:
        proc = Proc(
            worker_id,
            [str(BIN / "hiscrm-worker"), "--id", worker_id, *args],
            self.env(**env),
            self.home / "logs" / f"{worker_id}.log",
        ).start()
        self.workers[worker_id] = proc
        self.procs.append(proc)
        return proc

    def start_demosite(self, *args: str) -> str:
        """The demo platform on a free loopback port; returns its base URL."""
        port = free_port()
        proc = Proc(
            "demosite",
            [str(BIN / "hiscrm-demosite"), "--host", "127.0.0.1", "--port", str(port), *args],
            self.env(),
            self.home / "logs" / "demosite.log",
        ).start()
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            import urllib.request

            with urllib.request.urlopen(f"{url}/admin/health", timeout=2) as r:
                return r.status == 200

        wait_for(up, what="demosite health")
        # the site requires its admin token; tests' admin calls look it up by URL
        token_file = self.home / "demosite-admin-token"
        if token_file.exists():
            DEMOSITE_TOKENS[url] = token_file.read_text().strip()
            # for hiscrm code running in the test process (the console's demo
            # scan, ops.demo): the newest site's token
            os.environ["HISCRM_DEMOSITE_ADMIN_TOKEN"] = DEMOSITE_TOKENS[url]
        return url

    def token(self) -> str:
        return (self.home / "token").read_text().strip()

    def metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.token()}")]

    def enrollment_token(self) -> str:
        """What a new worker id registers with (WorkerGateway only)."""
        return (self.home / "enroll-token").read_text().strip()

    def gateway_metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.enrollment_token()}")]

    def channel(self) -> grpc.Channel:
        if self._channel is None:
            ca = self.extra_env.get("HISCRM_TLS_CA")
            if ca:
                creds = grpc.ssl_channel_credentials(
                    root_certificates=Path(ca).read_bytes(),
                    private_key=Path(self.extra_env["HISCRM_TLS_KEY"]).read_bytes(),
                    certificate_chain=Path(self.extra_env["HISCRM_TLS_CERT"]).read_bytes(),
                )
                self._channel = grpc.secure_channel(self.address, creds)
            else:
                self._channel = grpc.insecure_channel(self.address)
        return self._channel

    def control(self) -> control_pb2_grpc.ControlStub:
        return control_pb2_grpc.ControlStub(self.channel())

    def call(self, method: str, request: object, timeout: float = 30.0) -> object:
        return getattr(self.control(), method)(request, metadata=self.metadata(), timeout=timeout)

    def _healthy(self) -> bool:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        if self.master is not None and not self.master.alive():
            raise AssertionError(f"master exited:\n{self.master.log_text()[-3000:]}")
        stub = health_pb2_grpc.HealthStub(self.channel())
        resp = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
        return resp.status == health_pb2.HealthCheckResponse.SERVING

    def workers_by_id(self) -> dict[str, control_pb2.Worker]:
        resp = self.call("ListWorkers", control_pb2.ListWorkersRequest(), timeout=5)
        return {w.worker_id: w for w in resp.workers}  # type: ignore[attr-defined]

    def wait_worker_state(
        self, worker_id: str, state: int, timeout: float = 30.0
    ) -> control_pb2.Worker:
        name = common_pb2.WorkerState.Name(state)

        def probe() -> control_pb2.Worker | None:
            worker = self.workers_by_id().get(worker_id)
            return worker if worker is not None and worker.state == state else None

        return wait_for(probe, timeout=timeout, what=f"{worker_id} {name}")

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def logs(self) -> str:
        return "\n".join(f"==== {p.name}\n{p.log_text()[-4000:]}" for p in self.procs)


@contextlib.contextmanager
def cluster(home: Path, **extra_env: str) -> Iterator[Cluster]:
    c = Cluster(home=home, extra_env=extra_env)
    try:
        yield c
    finally:
        c.stop_all()
