"""Unexpected exceptions in our handlers answer INTERNAL with an incident id
that names the logged traceback; aborts and cancellations pass untouched.

First on a real grpc.aio server in this process with handlers of every shape
that fail on purpose, then on a real master whose database breaks under it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from sqlalchemy.exc import OperationalError

from hiscrm.v1 import control_pb2
from master.errors import InternalErrorInterceptor
from tests.delivery_helpers import synthetic_spec
from tests.harness import Cluster, wait_for

SERVICE = "hiscrm.v1.Probe"
INCIDENT = re.compile(r"incident ([0-9a-f]{8})")
SECRET = "never-show-this-3f9"


async def boom(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise RuntimeError(f"broken ({SECRET})")


async def sql_boom(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise OperationalError(
        "UPDATE accounts SET session=? WHERE account_id=?",
        (SECRET.encode(), "a1"),
        Exception("no such table: accounts"),
    )


async def aborts(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    raise AssertionError("unreachable")


async def fine(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return b"ok:" + request


async def slow(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await asyncio.sleep(30)
    return b"late"


async def stream_boom(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    yield b"first"
    raise KeyError(SECRET)


async def writer_boom(request: bytes, context: grpc.aio.ServicerContext) -> None:
    await context.write(b"first")
    raise ValueError(SECRET)


async def bidi_boom(requests: Any, context: grpc.aio.ServicerContext) -> None:
    first = await context.read()
    await context.write(b"echo:" + first)
    raise ZeroDivisionError(SECRET)


async def client_stream_boom(requests: Any, context: grpc.aio.ServicerContext) -> bytes:
    async for _ in requests:
        pass
    raise TypeError(SECRET)


HANDLERS = {
    "Boom": grpc.unary_unary_rpc_method_handler(boom),
    "SqlBoom": grpc.unary_unary_rpc_method_handler(sql_boom),
    "Aborts": grpc.unary_unary_rpc_method_handler(aborts),
    "Fine": grpc.unary_unary_rpc_method_handler(fine),
    "Slow": grpc.unary_unary_rpc_method_handler(slow),
    "StreamBoom": grpc.unary_stream_rpc_method_handler(stream_boom),
    "WriterBoom": grpc.unary_stream_rpc_method_handler(writer_boom),
    "BidiBoom": grpc.stream_stream_rpc_method_handler(bidi_boom),
    "ClientStreamBoom": grpc.stream_unary_rpc_method_handler(client_stream_boom),
}


@pytest.fixture
async def probe() -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server(interceptors=[InternalErrorInterceptor()])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, HANDLERS)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel
    finally:
        await channel.close()
        await server.stop(None)


def _incident(exc: grpc.aio.AioRpcError, caplog: pytest.LogCaptureFixture) -> str:
    assert exc.code() == grpc.StatusCode.INTERNAL, exc
    details = exc.details() or ""
    assert SECRET not in details  # the exception's text stays on the server
    found = INCIDENT.search(details)
    assert found, details
    incident = found.group(1)
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert len(logged) == 1, "one log record per incident"
    assert logged[0].exc_info is not None  # with the full traceback
    return incident


async def test_unary_failure_is_internal_with_a_logged_incident(
    probe: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="master.errors")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await probe.unary_unary(f"/{SERVICE}/Boom")(b"x", timeout=10)
    incident = _incident(err.value, caplog)
    assert f"/{SERVICE}/Boom" in caplog.text and "RuntimeError" in caplog.text
    with pytest.raises(grpc.aio.AioRpcError) as second:
        await probe.unary_unary(f"/{SERVICE}/Boom")(b"x", timeout=10)
    assert _incident(second.value, caplog) != incident  # one id per failure
    assert await probe.unary_unary(f"/{SERVICE}/Fine")(b"y", timeout=10) == b"ok:y"


async def test_sql_parameters_stay_out_of_the_log(
    probe: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="master.errors")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await probe.unary_unary(f"/{SERVICE}/SqlBoom")(b"x", timeout=10)
    _incident(err.value, caplog)
    text = logging.Formatter().formatException(caplog.records[-1].exc_info)  # type: ignore[arg-type]
    assert "no such table" in text and "UPDATE accounts" in text
    assert SECRET not in text and SECRET not in caplog.text


async def test_aborts_and_cancellations_pass_through(
    probe: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="master.errors")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await probe.unary_unary(f"/{SERVICE}/Aborts")(b"x", timeout=10)
    assert (err.value.code(), err.value.details()) == (grpc.StatusCode.NOT_FOUND, "no such thing")
    call = probe.unary_unary(f"/{SERVICE}/Slow")(b"x", timeout=30)
    await asyncio.sleep(0.3)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    with pytest.raises(grpc.aio.AioRpcError) as late:
        await probe.unary_unary(f"/{SERVICE}/Slow")(b"x", timeout=0.5)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.sleep(0.3)  # the server side of both has unwound by now
    assert not [r for r in caplog.records if r.name == "master.errors"], caplog.text


@pytest.mark.parametrize("method", ["StreamBoom", "WriterBoom"])
async def test_server_streams_end_internal_after_what_they_sent(
    probe: grpc.aio.Channel, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    caplog.set_level(logging.ERROR, logger="master.errors")
    got: list[bytes] = []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for message in probe.unary_stream(f"/{SERVICE}/{method}")(b"x", timeout=10):
            got.append(message)
    assert got == [b"first"]
    _incident(err.value, caplog)


async def test_client_and_bidi_streams_end_internal(
    probe: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="master.errors")

    async def requests() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await probe.stream_unary(f"/{SERVICE}/ClientStreamBoom")(requests(), timeout=10)
    _incident(err.value, caplog)
    got: list[bytes] = []
    with pytest.raises(grpc.aio.AioRpcError) as bidi:
        async for message in probe.stream_stream(f"/{SERVICE}/BidiBoom")(requests(), timeout=10):
            got.append(message)
    assert got == [b"echo:a"]
    _incident(bidi.value, caplog)


# ---------------------------------------------------------------- a real master


def _code(cluster: Cluster, method: str, request: object) -> tuple[grpc.StatusCode, str]:
    try:
        cluster.call(method, request, timeout=20)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def test_a_broken_database_under_a_running_master_answers_internal(cluster: Cluster) -> None:
    master = cluster.start_master()
    spec = synthetic_spec(rate=1, total=1)
    spec.enabled = False  # no worker needed
    create = control_pb2.CreateAccountRequest(account_id="ok-1", spec=spec)
    assert _code(cluster, "CreateAccount", create)[0] == grpc.StatusCode.OK
    # Somebody renames the tables under the running master (a damaged or
    # foreign-migrated database): its writes and queries now fail for real.
    db = sqlite3.connect(cluster.home / "hiscrm.db", timeout=30)
    try:
        db.execute("ALTER TABLE accounts RENAME TO accounts_moved")
        db.execute("ALTER TABLE items RENAME TO items_moved")
        db.commit()
    finally:
        db.close()

    code, details = _code(
        cluster, "CreateAccount", control_pb2.CreateAccountRequest(account_id="no-1", spec=spec)
    )
    assert code == grpc.StatusCode.INTERNAL, (code, details)
    incident = INCIDENT.search(details)
    assert incident, details
    assert "CreateAccount" in details and "accounts" not in details
    code, details = _code(cluster, "ListItems", control_pb2.ListItemsRequest())
    assert code == grpc.StatusCode.INTERNAL, (code, details)
    second = INCIDENT.search(details)
    assert second and second.group(1) != incident.group(1)

    def logged() -> bool:
        text = master.log_text()
        return all(f"incident {i.group(1)}" in text for i in (incident, second))

    wait_for(logged, timeout=10, what="the incidents in the master's log")
    text = master.log_text()
    at = text.index(f"incident {incident.group(1)}")
    assert "Traceback" in text[at:] and "no such table: accounts" in text[at:]
    # typed answers are untouched, and the master keeps serving
    code, _ = _code(cluster, "GetAccount", control_pb2.GetAccountRequest(account_id="nope"))
    assert code == grpc.StatusCode.NOT_FOUND
    listed = cluster.call("ListAccounts", control_pb2.ListAccountsRequest())
    assert [a.account_id for a in listed.accounts] == ["ok-1"]  # type: ignore[attr-defined]
    assert cluster.workers_by_id() == {}
    assert master.alive()
