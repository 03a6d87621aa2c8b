"""Trust boundaries against the real master and workers: workers are not
operators, operators have roles, a worker id belongs to one credential."""

from __future__ import annotations

import grpc
import pytest

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2, gateway_pb2_grpc
from master.roles import METHOD_ROLE
from tests.harness import BIN, Cluster, wait_for

CONTROL = control_pb2.DESCRIPTOR.services_by_name["Control"]


def _request_class(method: object) -> type:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(method.input_type)  # type: ignore[attr-defined]


def _call(cluster: Cluster, name: str, request: object, secret: str) -> object:
    method = CONTROL.methods_by_name[name]
    path = f"/{CONTROL.full_name}/{name}"
    metadata = [("authorization", f"Bearer {secret}")]
    kwargs = {"request_serializer": type(request).SerializeToString}
    if method.server_streaming:
        call = cluster.channel().unary_stream(path, **kwargs, response_deserializer=lambda b: b)
        return list(call(request, metadata=metadata, timeout=10))
    call = cluster.channel().unary_unary(path, **kwargs, response_deserializer=lambda b: b)
    return call(request, metadata=metadata, timeout=10)


def _refused(
    cluster: Cluster, name: str, secret: str, request: object | None = None
) -> grpc.RpcError:
    if request is None:
        request = _request_class(CONTROL.methods_by_name[name])()
    with pytest.raises(grpc.RpcError) as err:
        _call(cluster, name, request, secret)
    return err.value


def _connect(cluster: Cluster, secret: str, worker_id: str) -> grpc.RpcError | None:
    """Register as worker_id; None when welcomed (the stream is then closed)."""
    stub = gateway_pb2_grpc.WorkerGatewayStub(cluster.channel())
    register = gateway_pb2.WorkerFrame(
        register=gateway_pb2.Register(
            worker_id=worker_id, platforms=[common_pb2.PLATFORM_SYNTHETIC], max_accounts=1
        )
    )
    goodbye = gateway_pb2.WorkerFrame(goodbye=gateway_pb2.Goodbye(reason="test"))
    try:
        frames = stub.Connect(
            iter([register, goodbye]),
            metadata=[("authorization", f"Bearer {secret}")],
            timeout=10,
        )
        first = next(iter(frames))
        assert first.WhichOneof("frame") == "welcome"
        list(frames)
    except grpc.RpcError as exc:
        return exc
    return None


def _credential(cluster: Cluster, worker_id: str) -> str:
    path = cluster.home / "workers" / worker_id / "credential"
    wait_for(path.exists, what=f"{worker_id}'s credential file")
    assert path.stat().st_mode & 0o077 == 0, "the credential file must be owner-only"
    return path.read_text().strip()


def test_every_control_method_has_a_role() -> None:
    assert set(METHOD_ROLE) == {m.name for m in CONTROL.methods}


def test_worker_credentials_are_refused_on_every_control_rpc(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("tw-1", "--platforms", "synthetic")
    cluster.wait_worker_state("tw-1", common_pb2.WORKER_STATE_ONLINE)
    worker_secret = _credential(cluster, "tw-1")
    for secret in (worker_secret, cluster.enrollment_token()):
        for method in CONTROL.methods:
            err = _refused(cluster, method.name, secret)
            assert err.code() == grpc.StatusCode.PERMISSION_DENIED, method.name
            assert "operator token" in err.details(), method.name
    # and an operator's token cannot register a worker
    err = _connect(cluster, cluster.token(), "op-as-worker")
    assert err is not None and err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "op-as-worker" not in cluster.workers_by_id()


def test_roles_viewer_agent_admin(cluster: Cluster) -> None:
    cluster.start_master()
    admin = cluster.token()
    made = {}
    for name, role in (("vera", control_pb2.ROLE_VIEWER), ("alex", control_pb2.ROLE_AGENT)):
        resp = cluster.call("CreateToken", control_pb2.CreateTokenRequest(name=name, role=role))
        assert len(resp.secret) >= 32  # type: ignore[attr-defined]
        made[name] = resp.secret  # type: ignore[attr-defined]
    viewer, agent = made["vera"], made["alex"]
    # a viewer reads but cannot reply
    _call(cluster, "ListAccounts", control_pb2.ListAccountsRequest(), viewer)
    reply = control_pb2.SendReplyRequest(request_id="r-1", item_id=1, text="hi")
    err = _refused(cluster, "SendReply", viewer, reply)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "needs role agent" in err.details() and "'vera' has role viewer" in err.details()
    # an agent may reply (past the role check: the item does not exist) ...
    err = _refused(cluster, "SendReply", agent, reply)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    # ... but cannot delete an account or make tokens
    spec = common_pb2.AccountSpec(
        platform=common_pb2.PLATFORM_SYNTHETIC, enabled=False, monitor_interval_ms=1000
    )
    _call(
        cluster,
        "CreateAccount",
        control_pb2.CreateAccountRequest(account_id="keep", spec=spec),
        admin,
    )
    delete = control_pb2.DeleteAccountRequest(account_id="keep")
    err = _refused(cluster, "DeleteAccount", agent, delete)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "needs role admin" in err.details()
    assert _refused(cluster, "CreateToken", agent).code() == grpc.StatusCode.PERMISSION_DENIED
    assert cluster.call("GetAccount", control_pb2.GetAccountRequest(account_id="keep"))
    # listed without secrets; stored only as hashes
    listed = cluster.call("ListTokens", control_pb2.ListTokensRequest())
    names = {t.name: t for t in listed.tokens}  # type: ignore[attr-defined]
    assert names["alex"].role == control_pb2.ROLE_AGENT
    assert names["first-admin"].role == control_pb2.ROLE_ADMIN
    raw = listed.SerializeToString()  # type: ignore[attr-defined]
    for secret in (viewer, agent, admin):
        assert secret.encode() not in raw
    # the database (and its WAL) holds only their hashes
    stored = b"".join(p.read_bytes() for p in cluster.home.glob("hiscrm.db*"))
    assert b"first-admin" in stored
    for secret in (viewer, agent, admin):
        assert secret.encode() not in stored
    # revoked: refused at once
    cluster.call("RevokeToken", control_pb2.RevokeTokenRequest(name="alex"))
    err = _refused(cluster, "ListAccounts", agent)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    # all of it audited, the refusals included
    entries = cluster.call("ListAuditLog", control_pb2.ListAuditLogRequest()).entries  # type: ignore[attr-defined]
    seen = {(e.actor, e.action, e.outcome) for e in entries}
    assert ("first-admin", "Control/CreateToken", "OK") in seen
    assert ("first-admin", "Control/RevokeToken", "OK") in seen
    assert ("first-admin", "Control/CreateAccount", "OK") in seen
    assert ("alex", "Control/DeleteAccount", "PERMISSION_DENIED") in seen
    assert ("vera", "Control/SendReply", "PERMISSION_DENIED") in seen
    deny = next(e for e in entries if e.action == "Control/DeleteAccount")
    assert deny.account_id == "keep" or "needs role admin" in deny.detail


def test_a_viewer_lists_assignees_but_not_tokens(cluster: Cluster) -> None:
    """ListAssignees names the live agents and admins (for the console's
    assign picker) and nothing else: no viewers, revoked tokens, worker
    credentials or secrets; ListTokens stays admin-only."""
    cluster.start_master()
    made = {}
    for name, role in (
        ("vic", control_pb2.ROLE_VIEWER),
        ("ann", control_pb2.ROLE_AGENT),
        ("old", control_pb2.ROLE_AGENT),
        ("boss", control_pb2.ROLE_ADMIN),
    ):
        resp = cluster.call("CreateToken", control_pb2.CreateTokenRequest(name=name, role=role))
        made[name] = resp.secret  # type: ignore[attr-defined]
    cluster.call("CreateToken", control_pb2.CreateTokenRequest(worker_id="w-x"))
    cluster.call("RevokeToken", control_pb2.RevokeTokenRequest(name="old"))
    raw = _call(cluster, "ListAssignees", control_pb2.ListAssigneesRequest(), made["vic"])
    listed = control_pb2.ListAssigneesResponse.FromString(raw)  # type: ignore[arg-type]
    roles = {a.name: a.role for a in listed.assignees}
    assert roles["ann"] == control_pb2.ROLE_AGENT and roles["boss"] == control_pb2.ROLE_ADMIN
    assert not {"vic", "old", "worker:w-x"} & set(roles)
    assert all(role >= control_pb2.ROLE_AGENT for role in roles.values())
    assert [a.name for a in listed.assignees] == sorted(roles)
    assert not any(secret.encode() in raw for secret in made.values())  # type: ignore[operator]
    err = _refused(cluster, "ListTokens", made["ann"])
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_worker_id_cannot_be_taken_over(cluster: Cluster) -> None:
    cluster.start_master()
    first = cluster.start_worker("tw-a", "--platforms", "synthetic")
    cluster.start_worker("tw-b", "--platforms", "synthetic")
    for wid in ("tw-a", "tw-b"):
        cluster.wait_worker_state(wid, common_pb2.WORKER_STATE_ONLINE)
    own_a = _credential(cluster, "tw-a")
    other = _credential(cluster, "tw-b")
    enroll = cluster.enrollment_token()
    pid = cluster.workers_by_id()["tw-a"].pid
    # live: neither the enrollment token nor another worker's credential
    for secret in (enroll, other):
        err = _connect(cluster, secret, "tw-a")
        assert err is not None and err.code() == grpc.StatusCode.PERMISSION_DENIED, err
    # recently broken: the same
    first.kill9()
    cluster.wait_worker_state("tw-a", common_pb2.WORKER_STATE_MISSING)
    for secret in (enroll, other):
        err = _connect(cluster, secret, "tw-a")
        assert err is not None and err.code() == grpc.StatusCode.PERMISSION_DENIED, err
        assert "tw-a" in err.details()
    assert cluster.workers_by_id()["tw-a"].state == common_pb2.WORKER_STATE_MISSING
    # the real one comes back with its own credential
    cluster.start_worker("tw-a", "--platforms", "synthetic")
    back = cluster.wait_worker_state("tw-a", common_pb2.WORKER_STATE_ONLINE)
    assert back.pid != pid
    assert _credential(cluster, "tw-a") == own_a
    # a new id enrolls once with the enrollment token; the second time it is bound
    assert _connect(cluster, enroll, "tw-new") is None
    err = _connect(cluster, enroll, "tw-new")
    assert err is not None and err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "already enrolled" in err.details()
    entries = cluster.call(
        "ListAuditLog", control_pb2.ListAuditLogRequest(action="worker/")
    ).entries  # type: ignore[attr-defined]
    assert any(
        e.action == "worker/register" and e.worker_id == "tw-a" and e.outcome == "PERMISSION_DENIED"
        for e in entries
    )
    assert any(e.action == "worker/enrolled" and e.worker_id == "tw-new" for e in entries)


def test_token_commands_and_short_or_open_tokens(cluster: Cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    cluster.start_master()
    env = cluster.env()

    def hiscrm(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "hiscrm"), *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )

    made = hiscrm("token", "create", "carol", "--role", "viewer")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    listed = hiscrm("token", "list")
    assert "carol" in listed.stdout and "viewer" in listed.stdout and secret not in listed.stdout
    # the viewer's token works for reading and not for making tokens
    ok = hiscrm("status", HISCRM_TOKEN=secret)
    assert ok.returncode == 0, ok.stderr
    denied = hiscrm("token", "list", HISCRM_TOKEN=secret)
    assert denied.returncode != 0 and "needs role admin" in denied.stderr
    assert hiscrm("token", "revoke", "carol").returncode == 0
    assert "carol" not in hiscrm("token", "list").stdout
    audit = hiscrm("audit", "--action", "Control/")
    assert "Control/CreateToken" in audit.stdout and "Control/RevokeToken" in audit.stdout
    # a worker credential made by an admin, for a worker on another host
    made = hiscrm("token", "create", "--worker", "remote-w")
    assert made.returncode == 0, made.stderr
    credential = made.stdout.strip().splitlines()[-1]
    cluster.start_worker(
        "remote-w", "--platforms", "synthetic", HISCRM_WORKER_CREDENTIAL=credential
    )
    cluster.wait_worker_state("remote-w", common_pb2.WORKER_STATE_ONLINE)
    assert not (cluster.home / "workers" / "remote-w" / "credential").exists()  # no enrollment
    # revoked: its stream ends and it cannot come back with it
    assert hiscrm("token", "revoke", "worker:remote-w").returncode == 0
    cluster.wait_worker_state("remote-w", common_pb2.WORKER_STATE_MISSING)
    wait_for(
        lambda: "UNAUTHENTICATED" in cluster.workers["remote-w"].log_text(),
        what="the revoked worker refused",
    )
    # a token shorter than 32 bytes, or a token file others can read, is refused
    short = hiscrm("status", HISCRM_TOKEN="short")
    assert short.returncode != 0 and "at least 32" in short.stderr
    loose = tmp_path / "loose-token"
    loose.write_text(secret)
    loose.chmod(0o644)
    refused = hiscrm("status", HISCRM_TOKEN_FILE=str(loose))
    assert refused.returncode != 0 and f"chmod 600 {loose}" in refused.stderr


def test_files_under_home_are_owner_only_and_demosite_admin_needs_its_token(
    cluster: Cluster,
) -> None:
    import stat
    import urllib.error
    import urllib.request

    from tests.demo_helpers import admin

    base = cluster.start_demosite()
    cluster.start_master()
    cluster.start_worker("perm-w", "--platforms", "synthetic")
    cluster.wait_worker_state("perm-w", common_pb2.WORKER_STATE_ONLINE)
    # the demo platform's admin API: refused without its token, sessions included
    for path in ("/admin/sessions?username=demo1", "/admin/users"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + path, timeout=10)
        assert err.value.code == 401
    assert admin(base, "/admin/users")  # the tests' helper sends the token
    # what the master, the worker and the demo platform made is theirs alone
    made = [
        p
        for p in cluster.home.rglob("*")
        # the test harness makes logs/ and opens the log files itself
        if p.name != "logs" and p.parent.name != "logs"
    ]
    assert any(p.name == "hiscrm.db" for p in made)
    assert any(p.name == "outbox.db" or p.suffix == ".db" for p in made if "workers" in p.parts)
    loose = [
        f"{p.relative_to(cluster.home)} {stat.S_IMODE(p.stat().st_mode):o}"
        for p in made
        if p.exists() and stat.S_IMODE(p.stat().st_mode) & 0o077
    ]
    assert not loose, loose
    assert stat.S_IMODE(cluster.home.stat().st_mode) == 0o700
