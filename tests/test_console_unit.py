"""ops/console.py: every event kind has a line of its own in `hiscrm watch`."""

from __future__ import annotations

from hiscrm.v1 import control_pb2
from ops.console import event_line


def test_every_event_kind_gets_a_readable_line() -> None:
    oneof = control_pb2.Event.DESCRIPTOR.oneofs_by_name["event"]
    for fld in oneof.fields:
        event = control_pb2.Event()
        event.at.FromSeconds(1_795_000_000)
        getattr(event, fld.name).SetInParent()
        line = event_line(event)
        assert line.split(" ", 1)[1] != fld.name, f"{fld.name} events print only their kind"


def test_unread_and_deletion_lines_say_what_changed() -> None:
    event = control_pb2.Event(unread=control_pb2.UnreadCount(account_id="a1", comments=3))
    assert event_line(event).endswith("unread  a1: 3 comments, 0 DMs")
    event = control_pb2.Event(
        account_deleted=control_pb2.AccountDeleted(account_id="a1", items_deleted=7)
    )
    assert event_line(event).endswith("account a1 deleted (7 items removed)")
