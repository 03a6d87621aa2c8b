"""Sessions and replies stay with the worker they belong to; proxy
passwords are write-only and never reach a response, an error or a log."""

from __future__ import annotations

import contextlib
import sqlite3
import threading

import grpc
import pytest

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2, gateway_pb2_grpc
from tests.delivery_helpers import create, items_total, synthetic_spec
from tests.harness import Cluster, wait_for

PASSWORD = "PLANTED-pw-5f1c9e"


def test_a_forged_command_result_is_refused(cluster: Cluster) -> None:
    cluster.start_master()
    real = cluster.start_worker("fr-a", "--platforms", "synthetic")
    cluster.wait_worker_state("fr-a", common_pb2.WORKER_STATE_ONLINE)
    create(cluster, "fr-1", synthetic_spec(rate=20, total=5))
    wait_for(lambda: items_total(cluster) >= 5, what="items stored")
    items = cluster.call("ListItems", control_pb2.ListItemsRequest(account_ids=["fr-1"]))
    item_id = items.items[0].id  # type: ignore[attr-defined]
    real.kill9()
    cluster.wait_worker_state("fr-a", common_pb2.WORKER_STATE_MISSING)
    request = control_pb2.SendReplyRequest(request_id="forge-1", item_id=item_id, text="hello")
    with pytest.raises(grpc.RpcError) as err:
        cluster.call("SendReply", request, timeout=3)  # stays pending: no worker holds it
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # another worker (it never held the account) claims to have sent it
    stub = gateway_pb2_grpc.WorkerGatewayStub(cluster.channel())
    frames = [
        gateway_pb2.WorkerFrame(
            register=gateway_pb2.Register(
                worker_id="fr-forger", platforms=[common_pb2.PLATFORM_DEMO], max_accounts=1
            )
        ),
        gateway_pb2.WorkerFrame(
            command_result=gateway_pb2.CommandResult(
                request_id="forge-1", account_id="fr-1", ok=True, platform_item_id="forged"
            )
        ),
    ]
    call = stub.Connect(iter(frames), metadata=cluster.gateway_metadata(), timeout=30)
    assert next(call).WhichOneof("frame") == "welcome"
    assert cluster.master is not None
    wait_for(
        lambda: "refused a result for reply forge-1" in cluster.master.log_text(),  # type: ignore[union-attr]
        what="the forged result refused in the master's log",
    )
    call.cancel()
    # the reply is still pending, and the real worker settles it when it is back
    cluster.start_worker("fr-a", "--platforms", "synthetic")
    cluster.wait_worker_state("fr-a", common_pb2.WORKER_STATE_ONLINE)
    resp = cluster.call("SendReply", request, timeout=60)
    assert resp.platform_item_id != "forged"  # type: ignore[attr-defined]
    assert "cannot reply" in resp.error  # type: ignore[attr-defined]  (the synthetic platform's answer)
    assert resp.operator == "first-admin"  # type: ignore[attr-defined]
    entries = cluster.call(
        "ListAuditLog", control_pb2.ListAuditLogRequest(action="worker/command_result")
    ).entries  # type: ignore[attr-defined]
    assert [(e.actor, e.outcome, e.account_id) for e in entries] == [
        ("worker:fr-forger", "PERMISSION_DENIED", "fr-1")
    ]
    sent = cluster.call("ListAuditLog", control_pb2.ListAuditLogRequest(action="Control/SendReply"))
    assert any(e.actor == "first-admin" and e.item_id == item_id for e in sent.entries)  # type: ignore[attr-defined]


def test_proxy_passwords_are_never_returned_or_logged(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("px-w", "--platforms", "synthetic")
    cluster.wait_worker_state("px-w", common_pb2.WORKER_STATE_ONLINE)
    spec = synthetic_spec(rate=5, total=0, interval_ms=300)
    spec.proxy = f"http://puser:{PASSWORD}@127.0.0.1:9"
    # what a live subscriber sees of the account (its events keep coming as
    # the worker acks and reports)
    watch = cluster.control().WatchEvents(
        control_pb2.WatchEventsRequest(account_ids=["px-1"]),
        metadata=cluster.metadata(),
        timeout=120,
    )
    seen: list[bytes] = []

    def follow() -> None:
        with contextlib.suppress(grpc.RpcError):
            for event in watch:
                seen.append(event.SerializeToString())
                if event.HasField("account") and event.account.proxy_has_password:
                    return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    watch.initial_metadata()  # the master sends it once subscribed
    created = cluster.call(
        "CreateAccount", control_pb2.CreateAccountRequest(account_id="px-1", spec=spec)
    )
    assert PASSWORD.encode() not in created.SerializeToString()  # type: ignore[attr-defined]
    got = cluster.call("GetAccount", control_pb2.GetAccountRequest(account_id="px-1"))
    assert got.spec.proxy == "http://puser@127.0.0.1:9"  # type: ignore[attr-defined]
    assert got.proxy_has_password  # type: ignore[attr-defined]
    listed = cluster.call("ListAccounts", control_pb2.ListAccountsRequest())
    assert PASSWORD.encode() not in listed.SerializeToString()  # type: ignore[attr-defined]
    # written back as read (no password): the stored one is kept
    same = control_pb2.UpdateAccountRequest(account_id="px-1", spec=got.spec)  # type: ignore[attr-defined]
    same.update_mask.paths.extend(["proxy", "monitor_interval_ms"])
    same.spec.monitor_interval_ms = 400
    assert cluster.call("UpdateAccount", same).proxy_has_password  # type: ignore[attr-defined]
    # a bad proxy is refused without echoing its password
    bad = control_pb2.UpdateAccountRequest(account_id="px-1")
    bad.spec.proxy = f"http://puser:{PASSWORD}@127.0.0.1"
    bad.update_mask.paths.append("proxy")
    with pytest.raises(grpc.RpcError) as err:
        cluster.call("UpdateAccount", bad)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "missing port" in err.value.details() and PASSWORD not in err.value.details()
    # the worker got it (only the account's own worker does) and runs the account
    wait_for(
        lambda: (
            cluster.call(
                "GetAccount", control_pb2.GetAccountRequest(account_id="px-1")
            ).acked_config_version  # type: ignore[attr-defined]
            >= 2
        ),
        what="the worker acked the config with the proxy",
    )
    reader.join(60)
    watch.cancel()
    assert any(b"puser@127.0.0.1:9" in e for e in seen), "no account event seen"
    assert not any(PASSWORD.encode() in e for e in seen)
    # every write to accounts now fails: the worker's reports (the gateway
    # path) and an operator's update (the Control path) both hit it
    db = cluster.home / "hiscrm.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER planted_failure BEFORE UPDATE ON accounts "
            "BEGIN SELECT RAISE(ABORT, 'planted write failure'); END"
        )
    other = control_pb2.UpdateAccountRequest(account_id="px-1")
    other.spec.display_name = "renamed"
    other.update_mask.paths.append("display_name")
    with pytest.raises(grpc.RpcError) as err:
        cluster.call("UpdateAccount", other)
    assert PASSWORD not in err.value.details()
    assert cluster.master is not None
    wait_for(
        lambda: cluster.master.log_text().count("planted write failure") >= 2,  # type: ignore[union-attr]
        timeout=60,
        what="failed account writes logged by the master",
    )
    stored = b"".join(p.read_bytes() for p in cluster.home.glob("hiscrm.db*"))
    assert b"puser@127.0.0.1:9" in stored
    assert PASSWORD.encode() not in stored  # encrypted at rest
    cluster.stop_all()
    logs = list((cluster.home / "logs").glob("*.log"))
    assert len(logs) >= 2
    for path in logs:
        assert PASSWORD not in path.read_text(errors="replace"), f"the password is in {path.name}"


def test_chromium_runs_sandboxed_and_cannot_read_the_workers_secrets(cluster: Cluster) -> None:
    """The worker runs as root here: its Chromium runs as `nobody`, with the
    sandbox on (seccomp in the renderers), without the worker's environment,
    and unable to read anything under HISCRM_HOME."""
    import os
    import pwd
    import subprocess

    import psutil

    from tests.demo_helpers import demo_spec, logged_in

    if os.getuid() != 0:
        pytest.skip("the unprivileged-user path is for root workers")
    base = cluster.start_demosite()
    cluster.start_master()
    worker = cluster.start_worker("sbx-w")
    cluster.wait_worker_state("sbx-w", common_pb2.WORKER_STATE_ONLINE)
    logged_in(cluster, base, "sbx-1", demo_spec(base, "demo1", interval_ms=1000))
    assert "Chromium runs with its sandbox as user nobody" in worker.log_text()
    nobody = pwd.getpwnam("nobody")
    # Chromium starts and ends helper processes as it likes (a renderer per
    # page): one that ends between the listing and the reading is skipped.
    seen: list[tuple[list[str], int, bytes, str]] = []
    for p in psutil.Process(worker.pid).children(recursive=True):
        try:
            cmdline = p.cmdline()
            if "chrom" not in " ".join(cmdline[:1]):
                continue
            with open(f"/proc/{p.pid}/environ", "rb") as env, open(f"/proc/{p.pid}/status") as st:
                seen.append((cmdline, p.uids().real, env.read(), st.read()))
        except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
            continue
    assert seen, "no Chromium processes found in the worker's group"
    renderers = 0
    for cmdline, uid, environ, status in seen:
        assert uid == nobody.pw_uid, cmdline[:2]
        assert "--no-sandbox" not in cmdline
        assert b"HISCRM_" not in environ
        if "--type=renderer" in cmdline:
            renderers += 1
            assert "Seccomp:\t2" in status, status  # the sandbox's seccomp filter is on
    assert renderers
    secrets = [
        cluster.home / "token",
        cluster.home / "enroll-token",
        cluster.home / "secret.key",
        cluster.home / "workers" / "sbx-w" / "credential",
        cluster.home / "hiscrm.db",
    ]
    for path in secrets:
        assert path.exists(), path
        read = subprocess.run(
            [
                "setpriv",
                f"--reuid={nobody.pw_uid}",
                f"--regid={nobody.pw_gid}",
                "--clear-groups",
                "cat",
                str(path),
            ],
            capture_output=True,
        )
        assert read.returncode != 0 and not read.stdout, f"the browser's user can read {path}"


def test_a_proxy_password_stored_in_clear_before_is_encrypted_at_start(cluster: Cluster) -> None:
    cluster.start_master()
    spec = synthetic_spec(rate=1, total=0)
    spec.enabled = False
    create(cluster, "legacy-1", spec)
    assert cluster.master is not None
    cluster.master.stop()
    with sqlite3.connect(cluster.home / "hiscrm.db") as conn:  # as an older master wrote it
        conn.execute(
            "UPDATE accounts SET proxy = ?, proxy_secret = NULL WHERE account_id = 'legacy-1'",
            (f"socks5://old:{PASSWORD}@127.0.0.1:1080",),
        )
    cluster.start_master()
    got = cluster.call("GetAccount", control_pb2.GetAccountRequest(account_id="legacy-1"))
    assert got.spec.proxy == "socks5://old@127.0.0.1:1080"  # type: ignore[attr-defined]
    assert got.proxy_has_password  # type: ignore[attr-defined]
    with sqlite3.connect(cluster.home / "hiscrm.db") as conn:
        (proxy, secret) = conn.execute(
            "SELECT proxy, proxy_secret FROM accounts WHERE account_id = 'legacy-1'"
        ).fetchone()
    assert PASSWORD not in proxy and secret and PASSWORD.encode() not in secret
