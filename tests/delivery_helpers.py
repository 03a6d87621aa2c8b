"""Shared steps for the delivery tests."""

from __future__ import annotations

import sqlite3

from hiscrm.v1 import common_pb2, control_pb2
from tests.harness import Cluster


def synthetic_spec(
    *, rate: float, total: int, interval_ms: int = 200, content_bytes: int = 0
) -> common_pb2.AccountSpec:
    return common_pb2.AccountSpec(
        platform=common_pb2.PLATFORM_SYNTHETIC,
        enabled=True,
        monitor_interval_ms=interval_ms,
        synthetic=common_pb2.SyntheticOptions(
            items_per_second=rate, total_items=total, content_bytes=content_bytes, dm_percent=30
        ),
    )


def create(cluster: Cluster, account_id: str, spec: common_pb2.AccountSpec) -> None:
    cluster.call(
        "CreateAccount", control_pb2.CreateAccountRequest(account_id=account_id, spec=spec)
    )


def account(cluster: Cluster, account_id: str) -> control_pb2.Account:
    return cluster.call("GetAccount", control_pb2.GetAccountRequest(account_id=account_id))  # type: ignore[return-value]


def items_total(cluster: Cluster) -> int:
    return cluster.call("GetStats", control_pb2.GetStatsRequest()).items_total  # type: ignore[attr-defined]


def stored_ids(cluster: Cluster) -> list[tuple[str, str]]:
    """(account_id, platform_item_id) of every stored row, read from the file."""
    with sqlite3.connect(cluster.home / "hiscrm.db") as db:
        return list(db.execute("SELECT account_id, platform_item_id FROM items"))
