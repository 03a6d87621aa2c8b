"""The Fleet tab forgets a worker host gone for good (Control.ForgetHost),
driven with Pilot against a real master: `f` on a host's row asks first; a
cancelled question forgets nothing; the master's refusal (the host is still
connected, or the operator is not an admin) is shown and the host stays; a
confirmed forget of a host whose agent went away removes it from the list
and from the master, and its credential opens nothing more."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from textual.widgets import DataTable

from hiscrm.v1 import common_pb2, control_pb2
from tests.harness import Cluster, wait_for
from tests.test_hosts_trust import Agent, _hello_refused
from tests.test_tui import console, select_row, until
from tui.app import HiscrmApp

pytestmark = pytest.mark.timeout(300)

GONE = "gone-host"
LIVE = "live-host"
ONLINE = common_pb2.WORKER_STATE_ONLINE
SILENT_OK_MS = "600000"


def _listed(cluster: Cluster) -> dict[str, control_pb2.Host]:
    resp = cluster.call("ListHosts", control_pb2.ListHostsRequest(), timeout=10)
    return {h.host_id: h for h in resp.hosts}  # type: ignore[attr-defined]


def _enroll(cluster: Cluster, host_id: str) -> tuple[Agent, str]:
    """A host agent's stream (as tests/test_hosts_trust.py holds one): enrolled
    with the enrollment token; its own credential comes back in the welcome."""
    agent = Agent(cluster, cluster.enrollment_token(), host_id, timeout=600)
    credential = agent.first().welcome.credential
    assert credential
    return agent, credential


def _messages(app: HiscrmApp) -> str:
    return "\n".join(n.message for n in app._notifications)


async def _ask_to_forget(app: HiscrmApp, pilot, host_id: str) -> None:  # type: ignore[no-untyped-def]
    table = app.fleet.query_one("#workers", DataTable)
    await until(pilot, lambda: f"host:{host_id}" in table.rows, f"{host_id}'s row")
    await select_row(pilot, table, f"host:{host_id}")
    await pilot.press("f")
    await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmModal", "the question")


async def _answered(app: HiscrmApp, pilot, key: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(key)
    await until(pilot, lambda: app.screen.__class__.__name__ != "ConfirmModal", "closed")


async def test_forget_a_host_from_the_fleet_tab(cluster: Cluster) -> None:
    # the live agent's stream sends no reports: with a long report interval the
    # master keeps it connected (not closed as silent) while the test runs
    await asyncio.to_thread(cluster.start_master, HISCRM_HEARTBEAT_MS=SILENT_OK_MS)
    gone, gone_credential = await asyncio.to_thread(_enroll, cluster, GONE)
    live, _ = await asyncio.to_thread(_enroll, cluster, LIVE)
    try:
        # the gone host's agent goes away: its stream ends, the record stays
        gone.close()
        await asyncio.to_thread(
            wait_for,
            lambda: (h := _listed(cluster).get(GONE)) is not None and h.state != ONLINE,
            timeout=60,
            what="the gone host no longer online",
        )
        viewer = cluster.call(
            "CreateToken", control_pb2.CreateTokenRequest(name="vic", role=control_pb2.ROLE_VIEWER)
        ).secret  # type: ignore[attr-defined]

        # a viewer is refused by the master: the console says why, nothing goes
        async with console(cluster, token=viewer, tab="fleet") as (app, pilot):
            await _ask_to_forget(app, pilot, GONE)
            await _answered(app, pilot, "y")
            await until(pilot, lambda: "PERMISSION_DENIED" in _messages(app), "the refusal")
            assert "ForgetHost" in _messages(app)
        assert GONE in _listed(cluster)

        async with console(cluster, tab="fleet") as (app, pilot):
            table = app.fleet.query_one("#workers", DataTable)
            # the question names what happens; cancelled, nothing is forgotten
            await _ask_to_forget(app, pilot, GONE)
            question = str(app.screen.query_one("#question").render())
            assert f"Forget host {GONE}?" in question and "credential is revoked" in question
            await _answered(app, pilot, "n")
            await until(pilot, lambda: app.fleet.hosts_loaded, "hosts polled")
            assert set(_listed(cluster)) == {GONE, LIVE}
            assert f"host:{GONE}" in table.rows and "forgotten" not in _messages(app)

            # a connected host: the master refuses, its message is shown, it stays
            await _ask_to_forget(app, pilot, LIVE)
            await _answered(app, pilot, "y")
            await until(pilot, lambda: "is connected" in _messages(app), "the refusal")
            assert "FAILED_PRECONDITION" in _messages(app)
            assert LIVE in _listed(cluster) and f"host:{LIVE}" in table.rows

            # confirmed on the gone host: gone from the console and the master
            await _ask_to_forget(app, pilot, GONE)
            await _answered(app, pilot, "y")
            await until(pilot, lambda: f"host {GONE} forgotten" in _messages(app), "done")
            await until(pilot, lambda: f"host:{GONE}" not in table.rows, "the row gone")
            assert f"host:{LIVE}" in table.rows
        assert set(_listed(cluster)) == {LIVE}
        refused = await asyncio.to_thread(_hello_refused, cluster, gone_credential, GONE)
        assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        gone.close()
        live.close()
