"""Logging in again an account that is running (real Chromium, demo
platform): while the login runs the account shows LOGGING_IN and its monitor
holds its cycles; a cancelled login leaves the account running on its old
session, and a completed one continues on the new session."""

from __future__ import annotations

import asyncio

from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc
from hiscrm_common.channel import open_channel
from tests.delivery_helpers import account
from tests.demo_helpers import admin, demo_spec, logged_in, qr_login, stored_item
from tests.harness import Cluster, wait_for

RUNNING = common_pb2.RUN_STATE_RUNNING


async def _start_and_cancel(cluster: Cluster, hold_s: float) -> list[int]:
    """Start a login, keep its QR up for hold_s, sampling the account's state, then cancel."""
    states: list[int] = []
    async with open_channel(cluster.address, cluster.token()) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        stream = stub.StartLogin(control_pb2.StartLoginRequest(account_id="r1"))
        async for update in stream:
            if update.WhichOneof("event") == "qr" and not states:
                for _ in range(int(hold_s / 0.25)):
                    got = await stub.GetAccount(control_pb2.GetAccountRequest(account_id="r1"))
                    states.append(got.state)
                    await asyncio.sleep(0.25)
                await stub.CancelLogin(control_pb2.CancelLoginRequest(session_id=update.session_id))
    return states


def test_relogin_of_a_running_account(cluster: Cluster) -> None:
    base = cluster.start_demosite()
    cluster.start_master()
    cluster.start_worker("re-w")
    cluster.wait_worker_state("re-w", common_pb2.WORKER_STATE_ONLINE)
    logged_in(cluster, base, "r1", demo_spec(base, "demo1", interval_ms=1000))

    # several monitor intervals pass with the QR up: no cycle reports the account logged out
    states = asyncio.run(_start_and_cancel(cluster, hold_s=4))
    assert set(states) == {common_pb2.RUN_STATE_LOGGING_IN}, states
    wait_for(lambda: account(cluster, "r1").state == RUNNING, timeout=30, what="back to running")
    admin(base, "/admin/comments", {"username": "demo1", "text": "after-cancelled-relogin"})
    wait_for(
        lambda: stored_item(cluster, "r1", "after-cancelled-relogin"), timeout=60, what="comment"
    )
    after_cancel = account(cluster, "r1")
    assert after_cancel.state == RUNNING and after_cancel.config_version == 2

    # a completed re-login: the new session is pushed and monitoring goes on
    assert asyncio.run(qr_login(cluster, base, "r1", "demo1"))[-1].WhichOneof("event") == "success"
    wait_for(lambda: account(cluster, "r1").acked_config_version == 3, timeout=60, what="v3")
    admin(base, "/admin/comments", {"username": "demo1", "text": "after-relogin"})
    wait_for(lambda: stored_item(cluster, "r1", "after-relogin"), timeout=60, what="comment")
    # (the comment may come over the live channel before the first cycle ends)
    wait_for(lambda: account(cluster, "r1").state == RUNNING, timeout=60, what="running on v3")
