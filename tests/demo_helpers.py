"""Driving the demo platform's admin API from tests (the 'phone' side)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from hiscrm.v1 import common_pb2, control_pb2
from tests.harness import Cluster


def admin(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=15) as resp:
        return json.loads(resp.read() or b"null")


def scan(base: str, qr_content: str, username: str) -> Any:
    """What the phone does: open the QR's confirm URL as the user."""
    token = qr_content.split("token=", 1)[1]
    return admin(base, "/admin/scan", {"username": username, "token": token})


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
