"""One conversation drawn as a thread: the customer's messages and the
account's own ("me", with the operator who sent them) in the platform's
order; in a comment thread a reply sits indented under its parent. The
message the reply box answers is marked (tui/reply_target.py)."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from rich.text import Text

from hiscrm.v1 import common_pb2, control_pb2
from tui import format as fmt
from tui.theme import COMMENT_STYLE, DM_STYLE, ME_STYLE, QUIET

THREAD = control_pb2.CONVERSATION_KIND_COMMENT_THREAD
OUTGOING = control_pb2.DIRECTION_OUTGOING
MARKER = "▶"  # the message a reply answers


def outgoing(stored: control_pb2.StoredItem) -> bool:
    return stored.direction == OUTGOING or stored.item.outgoing


def when(stored: control_pb2.StoredItem) -> Timestamp:
    """The platform's time where it gave one, else when the master stored it."""
    created = stored.item.created_at
    return created if created.seconds or created.nanos else stored.received_at


def title(c: control_pb2.Conversation) -> str:
    if c.kind == THREAD:
        return f"comments on 「{c.post_title or c.post_id}」 · {c.account_id}"
    who = c.customer_name or c.customer_id or "?"
    return f"DM with {who} · {c.account_id}"


def depth_of(items: list[control_pb2.StoredItem]) -> dict[int, int]:
    """How deep each item sits under its parents (0 for a top-level one)."""
    parents = {s.id: s.parent_item_id for s in items}
    depth: dict[int, int] = {}
    for s in items:
        d, up, seen = 0, parents.get(s.id, 0), {s.id}
        while up and up in parents and up not in seen and d < 4:
            seen.add(up)
            d += 1
            up = parents[up]
        depth[s.id] = d
    return depth


def render(thread: control_pb2.ConversationThread, now: float, target: int = 0) -> Text:
    """The thread; the message a reply answers (`target`) is marked ▶ and
    drawn reversed."""
    c = thread.conversation
    items = list(thread.items)
    depth = depth_of(items) if c.kind == THREAD else {}
    out = Text()
    if thread.truncated:
        out.append("… older messages left out\n", style=QUIET)
    for s in items:
        indent = "  " * depth.get(s.id, 0) + ("↳ " if depth.get(s.id) else "")
        out.append(f"{fmt.clock(when(s), now)} ", style=QUIET)
        out.append(indent)
        if s.id == target:
            out.append(f"{MARKER} ", style="bold reverse")
            start = len(out)
            _message(out, s)
            out.stylize("reverse", start, len(out))
        else:
            _message(out, s)
        out.append("\n")
    if not items:
        out.append("(no messages)", style=QUIET)
    out.rstrip()
    return out


def _message(out: Text, s: control_pb2.StoredItem) -> None:
    if outgoing(s):
        by = f" ({s.replied_by})" if s.replied_by else ""
        out.append(f"me{by}", style=f"bold {ME_STYLE}")
    else:
        style = DM_STYLE if s.item.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE else COMMENT_STYLE
        out.append(s.item.author_name or "?", style=f"bold {style}")
    out.append(": ")
    out.append(s.item.content, style="" if s.read or outgoing(s) else "bold")
