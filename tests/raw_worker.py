"""A hand-written worker for the tests: registers on a real master's gateway
and sends exactly the frames a test gives it, hostile ones included, and
records every frame the master answers with."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import grpc

from hiscrm.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc
from tests.harness import Cluster

SYNTHETIC = common_pb2.PLATFORM_SYNTHETIC
# A worker id enrolls once with the enrollment token; its own credential (from
# Welcome) is what it reconnects with, as the real worker does.
CREDENTIALS: dict[tuple[str, str], str] = {}


def register(worker_id: str, **fields: object) -> gateway_pb2.WorkerFrame:
    values: dict[str, object] = {
        "worker_id": worker_id,
        "host": "raw",
        "pid": 1,
        "version": "raw",
        "platforms": [SYNTHETIC],
        "max_accounts": 10,
        "boot_id": worker_id,
    }
    values.update(fields)
    return gateway_pb2.WorkerFrame(register=gateway_pb2.Register(**values))  # type: ignore[arg-type]


def item(account_id: str, n: int | str, **fields: object) -> common_pb2.Item:
    values: dict[str, object] = {
        "platform": SYNTHETIC,
        "account_id": account_id,
        "kind": common_pb2.ITEM_KIND_COMMENT,
        "platform_item_id": f"{account_id}-{n}",
        "content": f"raw {n}",
    }
    values.update(fields)
    return common_pb2.Item(**values)  # type: ignore[arg-type]


class RawWorker:
    def __init__(self, cluster: Cluster, first: gateway_pb2.WorkerFrame) -> None:
        self._out: queue.Queue[gateway_pb2.WorkerFrame | None] = queue.Queue()
        self._out.put(first)
        self.received: list[gateway_pb2.MasterFrame] = []
        self.error: grpc.RpcError | None = None
        self.ended = threading.Event()
        self._key = (str(cluster.home), first.register.worker_id)
        token = CREDENTIALS.get(self._key) or cluster.enrollment_token()
        stub = gateway_pb2_grpc.WorkerGatewayStub(cluster.channel())
        self._call = stub.Connect(
            iter(self._out.get, None), metadata=[("authorization", f"Bearer {token}")]
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._beating = threading.Thread(target=self._beat, daemon=True)

    def keep_alive(self) -> RawWorker:
        """Heartbeat in the background from now on (a long hostile session)."""
        self._beating.start()
        return self

    def _beat(self) -> None:
        while not self.ended.wait(0.2):
            self.beat()

    def _read(self) -> None:
        try:
            for frame in self._call:
                if frame.WhichOneof("frame") == "welcome" and frame.welcome.credential:
                    CREDENTIALS[self._key] = frame.welcome.credential
                self.received.append(frame)
        except grpc.RpcError as exc:
            self.error = exc
        finally:
            self.ended.set()

    def send(self, frame: gateway_pb2.WorkerFrame) -> None:
        self._out.put(frame)

    def beat(self) -> None:
        self.send(gateway_pb2.WorkerFrame(heartbeat=gateway_pb2.Heartbeat()))

    def frames(self, kind: str) -> list[object]:
        return [getattr(f, kind) for f in list(self.received) if f.WhichOneof("frame") == kind]

    def wait(
        self, kind: str, match: Callable[[object], bool] = lambda _f: True, timeout: float = 30
    ) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.frames(kind):
                if match(frame):
                    return frame
            if self.ended.is_set():
                raise AssertionError(f"stream ended before a {kind} frame: {self.error!r}")
            self.beat()  # stay alive meanwhile
            time.sleep(0.1)
        raise AssertionError(f"no {kind} frame within {timeout}s; got {self.received[-5:]}")

    def welcomed(self) -> gateway_pb2.Welcome:
        return self.wait("welcome")  # type: ignore[return-value]

    def assigned(self, account_id: str, timeout: float = 30) -> common_pb2.AccountConfig:
        assign = self.wait(
            "assign", lambda a: any(c.account_id == account_id for c in a.accounts), timeout
        )
        config = next(c for c in assign.accounts if c.account_id == account_id)  # type: ignore[attr-defined]
        self.send(
            gateway_pb2.WorkerFrame(
                config_ack=gateway_pb2.ConfigAck(
                    account_id=account_id, config_version=config.config_version, ok=True
                )
            )
        )
        return config

    def close(self) -> None:
        self._out.put(None)
        self.ended.wait(10)
        if not self.ended.is_set():
            self._call.cancel()
