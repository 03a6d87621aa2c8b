"""Accounts through Control with a real master and worker: errors with
clear statuses, and the live event stream."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc
from hiscrm_common.channel import open_channel
from tests.delivery_helpers import create, synthetic_spec
from tests.harness import Cluster, free_port
from tests.metrics_helpers import scrape, value


def _code(cluster: Cluster, method: str, request: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        cluster.call(method, request)
    return err.value.code(), err.value.details()


def test_bad_requests_get_clear_statuses(cluster: Cluster) -> None:
    cluster.start_master()
    spec = synthetic_spec(rate=1, total=1)
    spec.proxy = "ftp://proxy:21"
    code, details = _code(
        cluster, "CreateAccount", control_pb2.CreateAccountRequest(account_id="a1", spec=spec)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "scheme must be one of" in details
    create(cluster, "a1", synthetic_spec(rate=1, total=1))
    code, _ = _code(
        cluster,
        "CreateAccount",
        control_pb2.CreateAccountRequest(account_id="a1", spec=synthetic_spec(rate=1, total=1)),
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS
    update = control_pb2.UpdateAccountRequest(account_id="a1", spec=spec)
    update.update_mask.paths.append("platform")
    code, details = _code(cluster, "UpdateAccount", update)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "cannot be updated" in details
    update.update_mask.paths[:] = ["proxy"]
    code, details = _code(cluster, "UpdateAccount", update)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "ftp://proxy:21" in details
    update.spec.proxy = "socks5://u:p@127.0.0.1:1080"
    update.expected_config_version = 7
    code, details = _code(cluster, "UpdateAccount", update)
    assert code == grpc.StatusCode.ABORTED and "config version 1" in details
    update.expected_config_version = 1
    assert cluster.call("UpdateAccount", update).config_version == 2
    code, _ = _code(cluster, "GetAccount", control_pb2.GetAccountRequest(account_id="nope"))
    assert code == grpc.StatusCode.NOT_FOUND
    deleted = cluster.call("DeleteAccount", control_pb2.DeleteAccountRequest(account_id="a1"))
    assert deleted.account_id == "a1"
    assert cluster.call("ListAccounts", control_pb2.ListAccountsRequest()).accounts == []


async def _watch(cluster: Cluster) -> dict[str, list[control_pb2.Event]]:
    seen: dict[str, list[control_pb2.Event]] = {}
    async with open_channel(cluster.address, cluster.token()) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        stream = stub.WatchEvents(control_pb2.WatchEventsRequest())
        await stream.initial_metadata()  # the master sends it once subscribed
        await asyncio.to_thread(create, cluster, "live-1", synthetic_spec(rate=20, total=10))
        async with asyncio.timeout(60):
            async for event in stream:
                seen.setdefault(event.WhichOneof("event"), []).append(event)
                if len(seen.get("item", [])) >= 10 and "config_acked" in seen:
                    break
        stream.cancel()
    return seen


def test_watch_events_streams_accounts_acks_and_items(cluster: Cluster) -> None:
    metrics_port = free_port()
    cluster.start_master(HISCRM_METRICS_LISTEN=f"127.0.0.1:{metrics_port}")
    cluster.start_worker("live-w")
    cluster.wait_worker_state("live-w", common_pb2.WORKER_STATE_ONLINE)
    seen = asyncio.run(_watch(cluster))
    assert {e.item.item.platform_item_id for e in seen["item"]} == {
        f"live-1-{n}" for n in range(10)
    }
    assert all(e.item.id > 0 and e.item.worker_id == "live-w" for e in seen["item"])
    ack = seen["config_acked"][0].config_acked
    assert (ack.account_id, ack.config_version, ack.ok) == ("live-1", 1, True)
    states = [e.account.state for e in seen["account"]]
    assert common_pb2.RUN_STATE_RUNNING in states
    metrics = scrape(metrics_port)
    assert value(metrics, "hiscrm_items_ingested_total") == 10
    assert value(metrics, "hiscrm_workers", state="online") == 1
