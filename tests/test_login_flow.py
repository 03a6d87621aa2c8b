"""The login pipeline through Control with the browserless synthetic platform:
StartLogin streams QR → scanned → verification; SubmitVerification; success
stores the session, bumps the config and the worker acknowledges it."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc
from hiscrm_common.channel import open_channel
from tests.delivery_helpers import account, create, synthetic_spec
from tests.harness import Cluster, wait_for


async def _login(cluster: Cluster, codes: list[str]) -> list[control_pb2.LoginUpdate]:
    updates: list[control_pb2.LoginUpdate] = []
    async with open_channel(cluster.address, cluster.token()) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        stream = stub.StartLogin(control_pb2.StartLoginRequest(account_id="lg-1"))
        async with asyncio.timeout(60):
            async for update in stream:
                updates.append(update)
                kind = update.WhichOneof("event")
                if kind == "verification_required":
                    await stub.SubmitVerification(
                        control_pb2.SubmitVerificationRequest(
                            session_id=update.session_id, code=codes.pop(0)
                        )
                    )
    return updates


def test_login_success_reaches_the_running_worker(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("lg-w")
    cluster.wait_worker_state("lg-w", common_pb2.WORKER_STATE_ONLINE)
    create(cluster, "lg-1", synthetic_spec(rate=1, total=0))
    wait_for(lambda: account(cluster, "lg-1").acked_config_version == 1, what="assigned")
    updates = asyncio.run(_login(cluster, ["000000", "123456"]))
    kinds = [u.WhichOneof("event") for u in updates]
    assert kinds == [
        "qr",
        "scanned",
        "verification_required",
        "verification_required",  # the wrong code asked again
        "success",
    ]
    assert updates[0].qr.png.startswith(b"\x89PNG")
    assert updates[-1].success.nickname == "合成账号 lg-1"
    acc = account(cluster, "lg-1")
    assert acc.has_session and acc.user.platform_user_id == "syn-lg-1"
    assert acc.config_version == 2
    wait_for(lambda: account(cluster, "lg-1").acked_config_version == 2, what="v2 acked")
    stats = cluster.call("GetStats", control_pb2.GetStatsRequest())
    assert stats.pending_config_acks == 0


def test_login_errors_are_clear(cluster: Cluster) -> None:
    cluster.start_master()
    create(cluster, "lg-x", synthetic_spec(rate=1, total=0))
    stub = cluster.control()
    with pytest.raises(grpc.RpcError) as err:
        list(
            stub.StartLogin(
                control_pb2.StartLoginRequest(account_id="lg-x"),
                metadata=cluster.metadata(),
                timeout=10,
            )
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no online worker" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        cluster.call("CancelLogin", control_pb2.CancelLoginRequest(session_id="nope"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_account_shows_logging_in_while_a_login_runs(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("lg-w")
    cluster.wait_worker_state("lg-w", common_pb2.WORKER_STATE_ONLINE)
    create(cluster, "lg-1", synthetic_spec(rate=1, total=0))
    wait_for(lambda: account(cluster, "lg-1").state == common_pb2.RUN_STATE_RUNNING, what="run")

    async def cancelled_after_first_qr() -> list[int]:
        states = []
        async with open_channel(cluster.address, cluster.token()) as channel:
            stub = control_pb2_grpc.ControlStub(channel)
            stream = stub.StartLogin(control_pb2.StartLoginRequest(account_id="lg-1"))
            async for update in stream:
                if update.WhichOneof("event") == "qr":
                    got = await stub.GetAccount(control_pb2.GetAccountRequest(account_id="lg-1"))
                    states.append(got.state)
                    await stub.CancelLogin(
                        control_pb2.CancelLoginRequest(session_id=update.session_id)
                    )
        return states

    assert asyncio.run(cancelled_after_first_qr()) == [common_pb2.RUN_STATE_LOGGING_IN]
    # cancelled: the account shows what it showed before, and the database agrees
    wait_for(lambda: account(cluster, "lg-1").state == common_pb2.RUN_STATE_RUNNING, what="back")
    updates = asyncio.run(_login(cluster, ["123456"]))
    assert updates[-1].WhichOneof("event") == "success"
    wait_for(lambda: account(cluster, "lg-1").acked_config_version == 2, what="v2 acked")
    cluster.stop_all()
    cluster.start_master()
    assert account(cluster, "lg-1").state != common_pb2.RUN_STATE_LOGGING_IN
