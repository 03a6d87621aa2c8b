"""Conversations against a real master, worker, Chromium and demo platform
(issue 15): a DM conversation in order with the agent's reply (not unread),
a comment reply under its parent, two agents with their own read state,
claim and assignment seen by the other agent, a saved reply rendered and
sent, the audit trail and the report of who answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from hiscrm.v1 import common_pb2, control_pb2
from tests.demo_helpers import admin, demo_spec, logged_in, stored_item
from tests.harness import Cluster, wait_for
from tests.workspace_helpers import call_as, operator_token

OUT = control_pb2.DIRECTION_OUTGOING
IN = control_pb2.DIRECTION_INCOMING
CUSTOMER = "顾客丙"


def _conversation(cluster: Cluster, secret: str, **filters: object) -> control_pb2.Conversation:
    resp = call_as(
        cluster, secret, "ListConversations", control_pb2.ListConversationsRequest(**filters)
    )
    assert len(resp.conversations) <= 1, resp
    return resp.conversations[0] if resp.conversations else None  # type: ignore[no-any-return]


def _thread(cluster: Cluster, secret: str, ref: int) -> control_pb2.ConversationThread:
    return call_as(  # type: ignore[no-any-return]
        cluster, secret, "GetConversation", control_pb2.GetConversationRequest(conversation_ref=ref)
    )


def test_conversations_replies_read_state_claims_and_saved_replies(cluster: Cluster) -> None:
    base = cluster.start_demosite()
    cluster.start_master()
    cluster.start_worker("ws-w")
    cluster.wait_worker_state("ws-w", common_pb2.WORKER_STATE_ONLINE)
    logged_in(cluster, base, "w1", demo_spec(base, "demo1", interval_ms=2000))
    started = datetime.now(UTC)
    alice = operator_token(cluster, "alice")
    bob = operator_token(cluster, "bob")

    # -- a DM conversation: the customer's messages in order
    for text in ("在吗 ws-dm-1", "这个多少钱 ws-dm-2"):
        admin(base, "/admin/messages", {"username": "demo1", "from_name": CUSTOMER, "text": text})
        wait_for(lambda t=text: stored_item(cluster, "w1", t), timeout=60, what=text)
    conv = wait_for(
        lambda: _conversation(cluster, alice, customer=CUSTOMER, account_ids=["w1"]),
        what="the DM conversation",
    )
    assert conv.kind == control_pb2.CONVERSATION_KIND_DIRECT_MESSAGE
    assert conv.status == control_pb2.CONVERSATION_STATUS_OPEN and not conv.assignee
    assert conv.last_message_text == "这个多少钱 ws-dm-2" and conv.waiting_since.seconds
    thread = _thread(cluster, alice, conv.conversation_ref)
    texts = [i.item.content for i in thread.items]
    assert texts.index("在吗 ws-dm-1") < texts.index("这个多少钱 ws-dm-2")
    incoming = [i for i in thread.items if i.direction == IN]
    assert conv.unread_count == len(incoming) >= 2
    assert all(not i.read for i in incoming) and all(
        i.read for i in thread.items if i.direction == OUT
    )

    # -- items by the platform's time: the seeded history is older than it was stored;
    # paging by (time, id) gives every item once (polled: history may still arrive)
    def by_created() -> list[control_pb2.StoredItem]:
        found, token = [], ""
        while True:
            page = cluster.call(
                "ListItems",
                control_pb2.ListItemsRequest(
                    account_ids=["w1"],
                    sort=control_pb2.ITEM_SORT_CREATED,
                    page_size=7,
                    page_token=token,
                ),
            )
            found.extend(page.items)
            token = page.next_page_token
            if not token:
                return found

    def paged_all() -> list[control_pb2.StoredItem] | None:
        paged = by_created()
        every = cluster.call(
            "ListItems", control_pb2.ListItemsRequest(account_ids=["w1"], page_size=1000)
        ).items
        return paged if sorted(i.id for i in paged) == sorted(i.id for i in every) else None

    paged = wait_for(paged_all, what="every item once, by platform time")
    stamps = [(i.item.created_at.ToNanoseconds(), i.id) for i in paged]
    assert stamps == sorted(stamps, reverse=True)
    assert [i.id for i in paged] != sorted((i.id for i in paged), reverse=True)  # not stored order

    # -- claim: the other agent sees the assignee and cannot claim it silently
    claimed = call_as(
        cluster,
        alice,
        "ClaimConversation",
        control_pb2.ClaimConversationRequest(conversation_ref=conv.conversation_ref),
    )
    assert claimed.assignee == "alice"
    seen_by_bob = _conversation(cluster, bob, customer=CUSTOMER, account_ids=["w1"])
    assert seen_by_bob.assignee == "alice"
    assert _conversation(cluster, bob, assigned_to_me=True, customer=CUSTOMER) is None
    with pytest.raises(grpc.RpcError) as err:
        call_as(
            cluster,
            bob,
            "ClaimConversation",
            control_pb2.ClaimConversationRequest(conversation_ref=conv.conversation_ref),
        )
    assert err.value.code() == grpc.StatusCode.ABORTED and "alice" in (err.value.details() or "")

    # -- a saved reply, rendered for this customer and sent by alice
    saved = call_as(
        cluster,
        alice,
        "CreateSavedReply",
        control_pb2.CreateSavedReplyRequest(name="price", text="{customer} 您好，我是{operator}"),
    )
    rendered = call_as(
        cluster,
        alice,
        "RenderSavedReply",
        control_pb2.RenderSavedReplyRequest(id=saved.id, conversation_ref=conv.conversation_ref),
    ).text
    assert rendered == f"{CUSTOMER} 您好，我是alice"
    last_in = max(incoming, key=lambda i: i.id)
    sent = call_as(
        cluster,
        alice,
        "SendReply",
        control_pb2.SendReplyRequest(request_id="ws-r1", item_id=last_in.id, text=rendered),
    )
    assert sent.ok, sent.error
    thread = _thread(cluster, alice, conv.conversation_ref)
    mine = [i for i in thread.items if i.item.content == rendered]
    assert len(mine) == 1 and mine[0].direction == OUT and mine[0].read
    assert mine[0].replied_by == "alice" and thread.items[-1].item.content == rendered
    assert thread.conversation.unread_count == 0  # replying marked it read for alice
    assert not thread.conversation.HasField("waiting_since")
    # ... but not for bob: read state is per operator
    assert _thread(cluster, bob, conv.conversation_ref).conversation.unread_count == len(incoming)
    call_as(
        cluster,
        bob,
        "MarkConversationRead",
        control_pb2.MarkConversationReadRequest(conversation_ref=conv.conversation_ref),
    )
    state = call_as(
        cluster,
        alice,
        "MarkConversationUnread",
        control_pb2.MarkConversationUnreadRequest(conversation_ref=conv.conversation_ref),
    )
    assert state.unread_count == 1 and state.operator == "alice"
    assert _conversation(cluster, bob, customer=CUSTOMER).unread_count == 0
    assert _conversation(cluster, alice, customer=CUSTOMER, unread_only=True) is not None
    assert _conversation(cluster, bob, customer=CUSTOMER, unread_only=True) is None

    # -- a comment reply sits under the comment it answers
    admin(base, "/admin/comments", {"username": "demo1", "text": "有优惠吗 ws-c-1"})
    parent = wait_for(lambda: stored_item(cluster, "w1", "ws-c-1"), timeout=60, what="comment")
    answer = call_as(
        cluster,
        bob,
        "SendReply",
        control_pb2.SendReplyRequest(request_id="ws-r2", item_id=parent.id, text="有的 ws-c-r"),
    )
    assert answer.ok, answer.error
    thread = _thread(cluster, bob, parent.conversation_ref)
    assert thread.conversation.kind == control_pb2.CONVERSATION_KIND_COMMENT_THREAD
    assert thread.conversation.post_id == parent.item.post_id and thread.conversation.post_title
    ids = [i.id for i in thread.items]
    reply = next(i for i in thread.items if i.item.content == "有的 ws-c-r")
    assert reply.parent_item_id == parent.id and reply.direction == OUT
    assert ids.index(reply.id) > ids.index(parent.id)
    between = thread.items[ids.index(parent.id) + 1 : ids.index(reply.id)]
    assert all(i.parent_item_id == parent.id for i in between)  # only siblings in between

    # -- assignment, status and labels by an agent; audited
    moved = call_as(
        cluster,
        alice,
        "AssignConversation",
        control_pb2.AssignConversationRequest(
            conversation_ref=conv.conversation_ref, assignee="bob"
        ),
    )
    assert moved.assignee == "bob"
    done = call_as(
        cluster,
        bob,
        "SetConversationStatus",
        control_pb2.SetConversationStatusRequest(
            conversation_ref=conv.conversation_ref, status=control_pb2.CONVERSATION_STATUS_DONE
        ),
    )
    assert done.status == control_pb2.CONVERSATION_STATUS_DONE
    assert _conversation(cluster, alice, customer=CUSTOMER, assignee="bob").status == (
        control_pb2.CONVERSATION_STATUS_DONE
    )
    with pytest.raises(grpc.RpcError) as err:
        call_as(
            cluster,
            alice,
            "AssignConversation",
            control_pb2.AssignConversationRequest(
                conversation_ref=conv.conversation_ref, assignee="nobody-here"
            ),
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # a new message from the customer reopens it
    admin(base, "/admin/messages", {"username": "demo1", "from_name": CUSTOMER, "text": "ws-dm-3"})
    wait_for(
        lambda: (
            _conversation(cluster, bob, customer=CUSTOMER).status
            == control_pb2.CONVERSATION_STATUS_OPEN
        ),
        timeout=60,
        what="the conversation reopened",
    )
    # the platform showed the reply before that message (one live channel, in
    # order): the monitor's copy of it is the same item, not a second one
    copies = cluster.call(
        "ListItems", control_pb2.ListItemsRequest(account_ids=["w1"], query="您好，我是alice")
    ).items
    assert len(copies) == 1 and copies[0].item.outgoing
    audit = cluster.call("ListAuditLog", control_pb2.ListAuditLogRequest(action="Control/")).entries
    done_by = {(e.actor, e.action) for e in audit}
    status_entry = next(e for e in audit if e.action == "Control/SetConversationStatus")
    assert f"conversation_ref={conv.conversation_ref}" in status_entry.detail
    assert "status=CONVERSATION_STATUS_DONE" in status_entry.detail
    assign_entry = next(e for e in audit if e.action == "Control/AssignConversation")
    assert "assignee=" in assign_entry.detail
    assert {
        ("alice", "Control/ClaimConversation"),
        ("alice", "Control/AssignConversation"),
        ("bob", "Control/SetConversationStatus"),
        ("alice", "Control/CreateSavedReply"),
    } <= done_by

    # -- who answered, and how fast
    report = cluster.call(
        "GetReport",
        control_pb2.GetReportRequest(
            since=_ts(started - timedelta(minutes=1)),
            until=_ts(datetime.now(UTC) + timedelta(minutes=1)),
            account_ids=["w1"],
        ),
    )
    by_operator = {o.operator: o for o in report.operators}
    assert by_operator["alice"].replies == 1 and by_operator["alice"].first_responses == 1
    assert by_operator["bob"].replies == 1 and by_operator["bob"].first_responses == 1
    assert by_operator["alice"].first_response_avg_seconds >= 0


def _ts(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts
