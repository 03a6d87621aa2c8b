"""Reading the inbox through Control: paging, filters, read marks, counts."""

from __future__ import annotations

import grpc
import pytest

from hiscrm.v1 import common_pb2, control_pb2
from tests.delivery_helpers import account, create, items_total, synthetic_spec
from tests.harness import Cluster, wait_for

DM = common_pb2.ITEM_KIND_DIRECT_MESSAGE
COMMENT = common_pb2.ITEM_KIND_COMMENT


def test_list_filter_mark_and_count(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("inbox-w")
    cluster.wait_worker_state("inbox-w", common_pb2.WORKER_STATE_ONLINE)
    create(cluster, "ib-1", synthetic_spec(rate=1000, total=30))
    create(cluster, "ib-2", synthetic_spec(rate=1000, total=5))
    wait_for(lambda: items_total(cluster) == 35, what="35 items")

    pages, token = [], ""
    while True:
        resp = cluster.call(
            "ListItems",
            control_pb2.ListItemsRequest(account_ids=["ib-1"], page_size=10, page_token=token),
        )
        pages.append(resp.items)
        token = resp.next_page_token
        if not token:
            break
    ids = [i.id for page in pages for i in page]
    assert len(pages) == 3 and len(ids) == 30 == len(set(ids))
    assert ids == sorted(ids, reverse=True)  # newest first

    dms = cluster.call("ListItems", control_pb2.ListItemsRequest(account_ids=["ib-1"], kinds=[DM]))
    assert dms.items and all(i.item.kind == DM for i in dms.items)
    found = cluster.call("ListItems", control_pb2.ListItemsRequest(query="item 7 of ib-1"))
    assert [i.item.platform_item_id for i in found.items] == ["ib-1-7"]

    counts = cluster.call("GetUnreadCounts", control_pb2.GetUnreadCountsRequest())
    assert counts.total == 35
    by_account = {c.account_id: c for c in counts.counts}
    assert by_account["ib-1"].direct_messages == len(dms.items)
    assert account(cluster, "ib-1").unread_count == 30

    marked = cluster.call("MarkRead", control_pb2.MarkReadRequest(item_ids=ids[:4]))
    assert marked.updated == 4
    assert account(cluster, "ib-1").unread_count == 26
    unread = cluster.call(
        "ListItems",
        control_pb2.ListItemsRequest(account_ids=["ib-1"], unread_only=True, page_size=100),
    )
    assert len(unread.items) == 26 and not {i.id for i in unread.items} & set(ids[:4])

    cluster.call("MarkRead", control_pb2.MarkReadRequest(account_id="ib-1"))
    after = cluster.call(
        "GetUnreadCounts", control_pb2.GetUnreadCountsRequest(account_ids=["ib-1"])
    )
    assert after.total == 0
    cluster.call("MarkRead", control_pb2.MarkReadRequest(item_ids=ids[:2], unread=True))
    assert account(cluster, "ib-1").unread_count == 2

    with pytest.raises(grpc.RpcError) as err:
        cluster.call("MarkRead", control_pb2.MarkReadRequest())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
