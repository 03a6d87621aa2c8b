"""What WatchEvents tells a console beyond items and states: unread counts
after new items and read marks, deleted accounts, and logins that another
client started. A real master and worker; synthetic accounts (no browser)."""

from __future__ import annotations

import asyncio

from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc
from hiscrm_common.channel import open_channel
from tests.delivery_helpers import account, create, synthetic_spec
from tests.harness import Cluster, wait_for

TOTAL = 40


async def _events_until(
    stream: object, done: object, seen: list[control_pb2.Event], within: float = 60
) -> None:
    async with asyncio.timeout(within):
        async for event in stream:  # type: ignore[attr-defined]
            seen.append(event)
            if done(event):  # type: ignore[operator]
                return


def _unread_of(events: list[control_pb2.Event], account_id: str) -> list[control_pb2.UnreadCount]:
    return [e.unread for e in events if e.HasField("unread") and e.unread.account_id == account_id]


async def _scenario(cluster: Cluster) -> None:
    seen: list[control_pb2.Event] = []
    async with open_channel(cluster.address, cluster.token()) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        stream = stub.WatchEvents(control_pb2.WatchEventsRequest())
        await stream.initial_metadata()  # the master sends it once subscribed
        await asyncio.to_thread(create, cluster, "ev-1", synthetic_spec(rate=200, total=TOTAL))

        # new items: the count follows, to the last one, in far fewer events
        def all_counted(e: control_pb2.Event) -> bool:
            return e.HasField("unread") and e.unread.comments + e.unread.direct_messages == TOTAL

        await _events_until(stream, all_counted, seen)
        items = [e for e in seen if e.HasField("item")]
        counts = _unread_of(seen, "ev-1")
        assert len(items) == TOTAL and len(counts) < TOTAL
        totals = [c.comments + c.direct_messages for c in counts]
        assert totals == sorted(totals)
        last_item = max(i for i, e in enumerate(seen) if e.HasField("item"))
        assert seen[-1].seq > seen[last_item].seq  # the count comes after the items
        master = await stub.GetUnreadCounts(
            control_pb2.GetUnreadCountsRequest(account_ids=["ev-1"])
        )
        assert master.counts[0] == counts[-1]

        # a read mark by any client: the count at once
        await stub.MarkRead(control_pb2.MarkReadRequest(account_id="ev-1"))
        await _events_until(
            stream,
            lambda e: e.HasField("unread") and e.unread.comments + e.unread.direct_messages == 0,
            seen,
        )

        # a login another client starts: the watcher sees it start, on which
        # worker, then follows it; the caller's own stream starts with the QR
        mark = len(seen)
        caller: list[control_pb2.LoginUpdate] = []
        login = stub.StartLogin(control_pb2.StartLoginRequest(account_id="ev-1"))
        async with asyncio.timeout(60):
            async for update in login:
                caller.append(update)
                if update.HasField("verification_required"):
                    await stub.CancelLogin(
                        control_pb2.CancelLoginRequest(session_id=update.session_id)
                    )
        await _events_until(
            stream, lambda e: e.HasField("login") and e.login.HasField("cancelled"), seen
        )
        watched = [e.login for e in seen[mark:] if e.HasField("login")]
        kinds = [u.WhichOneof("event") for u in watched]
        assert kinds == ["started", "qr", "scanned", "verification_required", "cancelled"]
        assert [u.WhichOneof("event") for u in caller] == kinds[1:]
        assert {u.session_id for u in watched} == {caller[0].session_id}
        assert watched[0].worker_id == "ev-w" and watched[0].account_id == "ev-1"

        # a deletion: one event, and the account is heard of no more
        await stub.DeleteAccount(control_pb2.DeleteAccountRequest(account_id="ev-1"))
        await _events_until(stream, lambda e: e.HasField("account_deleted"), seen)
        mark = len(seen)  # what was published before the deletion may still arrive before it
        gone = seen[-1].account_deleted
        assert (gone.account_id, gone.items_deleted) == ("ev-1", TOTAL)
        await asyncio.to_thread(create, cluster, "ev-2", synthetic_spec(rate=1, total=0))
        await _events_until(
            stream, lambda e: e.HasField("account") and e.account.account_id == "ev-2", seen
        )
        assert not [
            e for e in seen[mark:] if e.HasField("account") and e.account.account_id == "ev-1"
        ]
        assert not _unread_of(seen[mark:], "ev-1")
        stream.cancel()


def test_console_events_for_counts_deletions_and_logins(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("ev-w")
    cluster.wait_worker_state("ev-w", common_pb2.WORKER_STATE_ONLINE)
    asyncio.run(_scenario(cluster))
    wait_for(lambda: account(cluster, "ev-2").worker_id == "ev-w", timeout=30, what="ev-2 held")
