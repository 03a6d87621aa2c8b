"""Authentication on every RPC, TLS with client certificates, secrets never
in logs."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2, gateway_pb2_grpc
from tests.certs import make_certs
from tests.harness import Cluster

CONTROL = control_pb2.DESCRIPTOR.services_by_name["Control"]


def _request_class(method: object) -> type:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(method.input_type)  # type: ignore[attr-defined]


@pytest.mark.parametrize("token", [None, "Bearer wrong", "wrong-scheme"])
def test_every_rpc_refuses_a_missing_or_wrong_token(cluster: Cluster, token: str | None) -> None:
    cluster.start_master()
    channel = cluster.channel()
    metadata = [] if token is None else [("authorization", token)]
    for method in CONTROL.methods:
        path = f"/{CONTROL.full_name}/{method.name}"
        request = _request_class(method)()
        if method.server_streaming:
            call = channel.unary_stream(
                path,
                request_serializer=type(request).SerializeToString,
                response_deserializer=lambda b: b,
            )
            with pytest.raises(grpc.RpcError) as err:
                list(call(request, metadata=metadata, timeout=10))
        else:
            call = channel.unary_unary(
                path,
                request_serializer=type(request).SerializeToString,
                response_deserializer=lambda b: b,
            )
            with pytest.raises(grpc.RpcError) as err:
                call(request, metadata=metadata, timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, method.name
    stub = gateway_pb2_grpc.WorkerGatewayStub(channel)
    frames = iter([gateway_pb2.WorkerFrame(register=gateway_pb2.Register(worker_id="x"))])
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Connect(frames, metadata=metadata, timeout=10))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_tls_with_client_certificates(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "certs", ["127.0.0.1"])
    home = tmp_path / "home"
    home.mkdir()
    master_env = {
        "HISCRM_TLS_CERT": str(certs["server_cert"]),
        "HISCRM_TLS_KEY": str(certs["server_key"]),
        "HISCRM_TLS_CA": str(certs["ca"]),
    }
    client_env = {
        "HISCRM_TLS_CERT": str(certs["client_cert"]),
        "HISCRM_TLS_KEY": str(certs["client_key"]),
        "HISCRM_TLS_CA": str(certs["ca"]),
    }
    cluster = Cluster(home=home, extra_env=client_env)
    try:
        master = cluster.start_master(**master_env)
        cluster.start_worker("tls-w")
        cluster.wait_worker_state("tls-w", common_pb2.WORKER_STATE_ONLINE)
        assert "(TLS," in master.log_text()
        # the worker's credential is bound to the client certificate it enrolled with
        tokens = cluster.call("ListTokens", control_pb2.ListTokensRequest()).tokens  # type: ignore[attr-defined]
        bound = {t.worker_id: t.cert_identity for t in tokens if t.worker_id}
        assert bound.get("tls-w"), bound
        # plaintext is refused by a TLS port
        with grpc.insecure_channel(cluster.address) as plain:
            with pytest.raises(grpc.RpcError):
                control = plain.unary_unary("/hiscrm.v1.Control/GetStats")
                control(b"", metadata=cluster.metadata(), timeout=5)
        # TLS without a client certificate is refused too
        creds = grpc.ssl_channel_credentials(root_certificates=certs["ca"].read_bytes())
        with grpc.secure_channel(cluster.address, creds) as anonymous:
            with pytest.raises(grpc.RpcError):
                anonymous.unary_unary("/hiscrm.v1.Control/GetStats")(
                    b"", metadata=cluster.metadata(), timeout=5
                )
    finally:
        cluster.stop_all()


def test_secrets_never_reach_the_logs(cluster: Cluster) -> None:
    """A full demo login and monitoring; then no log file may contain the
    token, the session key, or the platform's cookie values."""
    from tests.demo_helpers import demo_spec, logged_in

    base = cluster.start_demosite()
    cluster.start_master()
    cluster.start_worker("sec-w")
    cluster.wait_worker_state("sec-w", common_pb2.WORKER_STATE_ONLINE)
    logged_in(cluster, base, "s1", demo_spec(base, "demo1", interval_ms=1000))
    session_file = next((cluster.home / "workers" / "sec-w" / "sessions").glob("*.bin"))
    from worker.browser.crypto import StateCipher, load_key

    cipher = StateCipher(load_key(cluster.home, create=False))
    state = cipher.decrypt_state("s1", session_file.read_bytes())
    # the httpOnly session cookie is the secret; demo_uid is the public user id
    cookie_values = [c["value"] for c in state["cookies"] if c.get("httpOnly")]
    assert cookie_values, "expected a session cookie"
    secrets = [cluster.token(), (cluster.home / "secret.key").read_text().strip(), *cookie_values]
    cluster.stop_all()
    logs = list((cluster.home / "logs").glob("*.log"))
    assert logs
    for path in logs:
        text = path.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"a secret appears in {path.name}"
    assert all(v.encode() not in session_file.read_bytes() for v in cookie_values)
