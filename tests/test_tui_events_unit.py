"""The console's handling of the newer live events without a master: unread
counts in stream order, deletions, and logins another client started."""

from __future__ import annotations

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from tui.app import HiscrmApp
from tui.fake import NOW, FakeClient, item_event, items, qr_png
from tui.messages import EventBatch
from tui.state import Store, Unread

DM = common_pb2.ITEM_KIND_DIRECT_MESSAGE


def _unread(account_id: str, comments: int, dms: int = 0) -> control_pb2.Event:
    return control_pb2.Event(
        unread=control_pb2.UnreadCount(
            account_id=account_id, comments=comments, direct_messages=dms
        )
    )


def _item(account_id: str, item_id: int, kind: int) -> control_pb2.Event:
    stored = items(1, first_id=item_id)[0]
    stored.item.account_id = account_id
    stored.item.kind = kind
    stored.read = False  # live items arrive unread
    return item_event(stored, item_id)


def test_counts_keep_the_stream_order_within_a_batch() -> None:
    store = Store()
    store.unread = {"a": Unread(999, 999), "b": Unread(1, 0)}
    batch = EventBatch()
    batch.add(_item("a", 1, common_pb2.ITEM_KIND_COMMENT))  # counted in the next count
    batch.add(_unread("a", 10, 2))
    batch.add(_item("a", 2, common_pb2.ITEM_KIND_COMMENT))  # after it: on top
    batch.add(_item("a", 3, DM))
    batch.add(_item("b", 4, DM))  # no count for b in this batch: counted here
    store.apply_live_counts(batch.items, batch.unread, batch.unread_after)
    assert store.unread["a"] == Unread(11, 3)
    assert store.unread["b"] == Unread(1, 1)


def test_a_deletion_wins_over_earlier_news_and_loses_to_a_new_account() -> None:
    batch = EventBatch()
    batch.add(control_pb2.Event(account=control_pb2.Account(account_id="a")))
    batch.add(_unread("a", 3))
    batch.add(control_pb2.Event(account_deleted=control_pb2.AccountDeleted(account_id="a")))
    assert "a" in batch.deleted and "a" not in batch.accounts and "a" not in batch.unread
    batch.add(control_pb2.Event(account=control_pb2.Account(account_id="a")))
    assert "a" not in batch.deleted and "a" in batch.accounts


def _login(session: str, account_id: str, **event: object) -> control_pb2.Event:
    return control_pb2.Event(
        login=control_pb2.LoginUpdate(
            session_id=session, account_id=account_id, worker_id="worker-0", **event
        )
    )


async def test_console_follows_what_other_clients_do() -> None:
    app = HiscrmApp("fake:0", "", client=FakeClient(), clock=lambda: NOW)
    async with app.run_test(size=(150, 40)) as pilot:
        for _ in range(100):
            if app.full_refreshes:
                break
            await pilot.pause(0.05)
        assert "demo-2" in app.store.accounts
        login = app.login
        qr = gateway_pb2.LoginQr(png=qr_png("http://x/scan?token=t1"), content="http://x?token=t1")
        for event in (
            _login("s1", "demo-1", started=control_pb2.LoginStarted()),
            _login("s1", "demo-1", qr=qr),
            control_pb2.Event(account_deleted=control_pb2.AccountDeleted(account_id="demo-2")),
            _unread("demo-1", 7, 1),
        ):
            app.pump.feed(event)
        app.pump.flush()
        await pilot.pause(0.3)
        assert login.watching and login.session_id == "s1" and login.account_id == "demo-1"
        assert "waiting for a scan" in login.state and "another client" in login.state
        assert login.qr_text
        assert "demo-2" not in app.store.accounts and "demo-2" not in app.store.unread
        assert app.store.unread["demo-1"] == Unread(7, 1)

        app.pump.feed(_login("s1", "demo-1", success=common_pb2.UserInfo(nickname="n")))
        app.pump.flush()
        await pilot.pause(0.3)
        assert not login.watching and "success" in login.state
        # an old login that ended before this console saw it: nothing to follow
        app.pump.feed(_login("s0", "demo-3", cancelled=gateway_pb2.LoginCancelled()))
        app.pump.flush()
        await pilot.pause(0.3)
        assert login.session_id == "s1" and not login.watching
    assert not app.task_errors
