"""The demo on the local demo platform: accounts, logins through its admin
API (the 'phone'), and a gentle traffic generator, so a fresh start shows a
living inbox without a real phone or platform."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import grpc

from demosite import token as admin_token
from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc

log = logging.getLogger(__name__)

DEMO_USERS = ("demo1", "demo2", "demo3")


def account_id_of(username: str) -> str:
    return f"demo-{username.removeprefix('demo')}"


async def admin(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout, headers=admin_token.headers()) as http:
        if body is None:
            async with http.get(base + path) as resp:
                resp.raise_for_status()
                return await resp.json()
        async with http.post(base + path, json=body) as resp:
            resp.raise_for_status()
            return await resp.json()


async def wait_for_demosite(base: str, within_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        try:
            await admin(base, "/admin/health")
            return
        except (aiohttp.ClientError, OSError):
            if loop.time() > deadline:
                raise SystemExit(f"the demo platform at {base} did not come up") from None
            await asyncio.sleep(0.3)


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
    stream = stub.StartLogin(control_pb2.StartLoginRequest(account_id=account_id))
    async for update in stream:
        kind = update.WhichOneof("event")
        if kind == "qr":
            token = update.qr.content.split("token=", 1)[-1]
            await admin(base, "/admin/scan", {"username": username, "token": token})
        elif kind == "verification_required":
            code = await admin(base, f"/admin/sms_code?username={username}")
            await stub.SubmitVerification(
                control_pb2.SubmitVerificationRequest(
                    session_id=update.session_id, code=str(code["code"])
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
    await admin(base, "/admin/traffic", {"on": per_minute > 0, "per_minute": per_minute})
