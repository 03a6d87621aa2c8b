"""Issue 17 x issue 14: host agents are their own principals. A host
credential opens HostGateway alone, as its own host id; worker credentials
and operator tokens are refused there; the enrollment token enrolls a host id
once."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import grpc
import pytest

from hiscrm.v1 import control_pb2, hosts_pb2, hosts_pb2_grpc
from tests.harness import Cluster
from tests.test_trust import CONTROL, _connect, _credential, _refused

ONLINE_HOST_ID = "trust-host"


class Agent:
    """A HostGateway stream held open from a thread, as an agent holds it."""

    def __init__(self, cluster: Cluster, secret: str, host_id: str, timeout: float = 60) -> None:
        self.frames: queue.Queue[hosts_pb2.HostFrame | None] = queue.Queue()
        self.frames.put(hosts_pb2.HostFrame(hello=hosts_pb2.HostHello(host_id=host_id, slots=1)))
        stub = hosts_pb2_grpc.HostGatewayStub(cluster.channel())
        self.call = stub.Connect(
            self._requests(), metadata=[("authorization", f"Bearer {secret}")], timeout=timeout
        )

    def _requests(self) -> Iterator[hosts_pb2.HostFrame]:
        while (frame := self.frames.get()) is not None:
            yield frame

    def first(self) -> hosts_pb2.HostCommandFrame:
        return next(self.call)

    def close(self) -> None:
        self.frames.put(None)
        self.call.cancel()


def _hello_refused(cluster: Cluster, secret: str, host_id: str) -> grpc.RpcError:
    agent = Agent(cluster, secret, host_id)
    try:
        with pytest.raises(grpc.RpcError) as err:
            agent.first()
        return err.value
    finally:
        agent.close()


def test_host_credentials_are_their_own(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("hw-1", "--platforms", "synthetic")
    worker_secret = _credential(cluster, "hw-1")

    # a host enrolls with the enrollment token and gets its own credential
    agent = Agent(cluster, cluster.enrollment_token(), ONLINE_HOST_ID)
    welcome = agent.first().welcome
    host_secret = welcome.credential
    assert host_secret.startswith("hsh_") and len(host_secret) >= 32
    try:
        listed = cluster.call("ListHosts", control_pb2.ListHostsRequest())
        assert [h.host_id for h in listed.hosts] == [ONLINE_HOST_ID]  # type: ignore[attr-defined]

        # a worker credential on the host link
        err = _hello_refused(cluster, worker_secret, "hw-host")
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "worker credential cannot call HostGateway" in err.details()
        stub = hosts_pb2_grpc.HostGatewayStub(cluster.channel())
        with pytest.raises(grpc.RpcError) as left:
            stub.Leave(
                hosts_pb2.LeaveRequest(),
                metadata=[("authorization", f"Bearer {worker_secret}")],
                timeout=10,
            )
        assert left.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # an operator token on the host link
        err = _hello_refused(cluster, cluster.token(), "op-host")
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED

        # the host credential on every Control method, and on the worker gateway
        for method in CONTROL.methods:
            refused = _refused(cluster, method.name, host_secret)
            assert refused.code() == grpc.StatusCode.PERMISSION_DENIED, method.name
        refusal = _connect(cluster, host_secret, "host-as-worker")
        assert refusal is not None and refusal.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "host-as-worker" not in cluster.workers_by_id()

        # one host id, one credential: not another id, not a second agent,
        # and the enrollment token cannot take an enrolled id
        err = _hello_refused(cluster, host_secret, "other-host")
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        err = _hello_refused(cluster, host_secret, ONLINE_HOST_ID)
        assert err.code() == grpc.StatusCode.ALREADY_EXISTS
        err = _hello_refused(cluster, cluster.enrollment_token(), ONLINE_HOST_ID)
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "already enrolled" in err.details()
        listed = cluster.call("ListHosts", control_pb2.ListHostsRequest())
        assert [h.host_id for h in listed.hosts] == [ONLINE_HOST_ID]  # type: ignore[attr-defined]

        # revoked: the live stream ends, and the credential opens nothing more
        cluster.call("RevokeToken", control_pb2.RevokeTokenRequest(name=f"host:{ONLINE_HOST_ID}"))
        with pytest.raises(grpc.RpcError) as ended:
            for _ in agent.call:
                pass
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
        err = _hello_refused(cluster, host_secret, ONLINE_HOST_ID)
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        agent.close()
