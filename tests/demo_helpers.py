"""Driving the demo platform's admin API from tests (the 'phone' side)."""

from __future__ import annotations

import asyncio
from typing import Any

from demosite.client import DemoAdmin, call_sync, qr_token
from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc
from hiscrm_common.channel import open_channel
from tests.delivery_helpers import account, create
from tests.harness import DEMOSITE_TOKENS, Cluster, wait_for


def admin_token(base: str) -> str:
    """The token of the demo platform at base (each test's site has its own)."""
    return DEMOSITE_TOKENS.get(base.rstrip("/"), "")


def admin(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return call_sync(base, path, body, token=admin_token(base))


def scan(base: str, qr_content: str, username: str) -> Any:
    """What the phone does: open the QR's confirm URL as the user."""
    return call_sync(
        base,
        "/admin/scan",
        {"username": username, "token": qr_token(qr_content)},
        token=admin_token(base),
    )


def demo_spec(base: str, username: str, interval_ms: int = 2000) -> common_pb2.AccountSpec:
    return common_pb2.AccountSpec(
        platform=common_pb2.PLATFORM_DEMO,
        enabled=True,
        monitor_interval_ms=interval_ms,
        display_name=username,
        demo=common_pb2.DemoOptions(base_url=base, username=username),
    )


def stored_item(cluster: Cluster, account_id: str, text: str) -> control_pb2.StoredItem | None:
    """The account's first stored item whose text matches `text` (ListItems query), or None."""
    resp = cluster.call(
        "ListItems", control_pb2.ListItemsRequest(account_ids=[account_id], query=text)
    )
    return resp.items[0] if resp.items else None  # type: ignore[attr-defined]


async def qr_login(
    cluster: Cluster, base: str, account_id: str, username: str, *, scan_on_qr: int = 0
) -> list[control_pb2.LoginUpdate]:
    """Runs a login; scans the (scan_on_qr)-th QR shown; answers SMS codes."""
    updates: list[control_pb2.LoginUpdate] = []
    phone = DemoAdmin(base, admin_token(base))
    async with open_channel(cluster.address, cluster.token()) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        stream = stub.StartLogin(control_pb2.StartLoginRequest(account_id=account_id))
        async with asyncio.timeout(120):
            async for update in stream:
                updates.append(update)
                kind = update.WhichOneof("event")
                if kind == "qr" and update.qr.refresh_count == scan_on_qr:
                    await phone.scan(username, update.qr.content)
                elif kind == "verification_required":
                    await stub.SubmitVerification(
                        control_pb2.SubmitVerificationRequest(
                            session_id=update.session_id, code=await phone.sms_code(username)
                        )
                    )
    return updates


def logged_in(
    cluster: Cluster, base: str, account_id: str, spec: common_pb2.AccountSpec
) -> list[control_pb2.LoginUpdate]:
    """Create a demo account, wait until its worker asks for a login, log it
    in by QR (scanned through the platform's admin API) and wait until it runs."""
    create(cluster, account_id, spec)
    wait_for(
        lambda: account(cluster, account_id).state == common_pb2.RUN_STATE_NEEDS_LOGIN,
        timeout=60,
        what=f"{account_id} waiting for a login",
    )
    updates = asyncio.run(qr_login(cluster, base, account_id, spec.demo.username))
    assert updates[-1].WhichOneof("event") == "success", updates[-1]
    wait_for(
        lambda: account(cluster, account_id).state == common_pb2.RUN_STATE_RUNNING,
        timeout=60,
        what=f"{account_id} running",
    )
    return updates
