"""The demo on the local demo platform: accounts, logins through its admin
API (the 'phone'), and a gentle traffic generator, so a fresh start shows a
living inbox without a real phone or platform."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc

from demosite.client import DemoAdmin
from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc

log = logging.getLogger(__name__)

DEMO_USERS = ("demo1", "demo2", "demo3")


def account_id_of(username: str) -> str:
    return f"demo-{username.removeprefix('demo')}"


async def admin(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One admin call with this host's token (demosite/client.py)."""
    return await DemoAdmin(base).call(path, body)


async def wait_for_demosite(base: str, within_s: float = 30.0) -> None:
    try:
        await DemoAdmin(base).wait_up(within_s)
    except TimeoutError as exc:
        raise SystemExit(str(exc)) from None


async def ensure_accounts(
    stub: control_pb2_grpc.ControlStub, base: str, interval_ms: int = 5000
) -> list[str]:
    made = []
    for username in DEMO_USERS:
        account_id = account_id_of(username)
        spec = common_pb2.AccountSpec(
            platform=common_pb2.PLATFORM_DEMO,
            display_name=f"演示账号 {username}",
            enabled=True,
            monitor_interval_ms=interval_ms,
            demo=common_pb2.DemoOptions(base_url=base, username=username),
        )
        try:
            await stub.CreateAccount(
                control_pb2.CreateAccountRequest(account_id=account_id, spec=spec), timeout=10
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
        made.append(account_id)
    return made


async def wait_assigned(stub: control_pb2_grpc.ControlStub, account_id: str) -> control_pb2.Account:
    for _ in range(300):
        acc = await stub.GetAccount(
            control_pb2.GetAccountRequest(account_id=account_id), timeout=10
        )
        if acc.worker_id and acc.state != common_pb2.RUN_STATE_STARTING:
            return acc
        await asyncio.sleep(0.2)
    raise SystemExit(f"no worker took {account_id}; is a worker running? (`hiscrm status`)")


async def login(
    stub: control_pb2_grpc.ControlStub, account_id: str, base: str, username: str
) -> str:
    """Log a demo account in, scanning its QR through the demo platform."""
    phone = DemoAdmin(base)
    stream = stub.StartLogin(control_pb2.StartLoginRequest(account_id=account_id))
    async for update in stream:
        kind = update.WhichOneof("event")
        if kind == "qr":
            await phone.scan(username, update.qr.content)
        elif kind == "verification_required":
            await stub.SubmitVerification(
                control_pb2.SubmitVerificationRequest(
                    session_id=update.session_id, code=await phone.sms_code(username)
                ),
                timeout=10,
            )
        elif kind == "success":
            return update.success.nickname
        elif kind in ("failed", "expired", "cancelled"):
            detail = getattr(update, kind)
            raise SystemExit(f"demo login of {account_id} {kind}: {detail.reason}")
    raise SystemExit(f"demo login of {account_id} ended without a result")


async def log_in_all(stub: control_pb2_grpc.ControlStub, base: str, out: Any) -> None:
    for username in DEMO_USERS:
        account_id = account_id_of(username)
        acc = await wait_assigned(stub, account_id)
        if acc.has_session and acc.state != common_pb2.RUN_STATE_NEEDS_LOGIN:
            continue
        nickname = await login(stub, account_id, base, username)
        out(f"{account_id} logged in as {nickname} (QR scanned on the demo platform)")


async def traffic(base: str, per_minute: int) -> None:
    await DemoAdmin(base).traffic(per_minute)
