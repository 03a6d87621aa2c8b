"""Which message of the open thread a reply answers. In a comment thread
(one per post, many customers) answering the newest comment is wrong
whenever the agent means an earlier one, so the agent moves a marker over
the customer's messages in the order the thread shows them.

The marker starts on the newest incoming message and then stays on its
message: a new comment arriving while the agent types must not silently
take the reply. When its message is no longer in the thread it falls back
to the newest, with a note saying so."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len

from hiscrm.v1 import control_pb2
from tui import format as fmt
from tui.widgets.thread import outgoing, when

HINT = "  ([ ] to choose)"
GONE = "the message you were replying to is no longer in the thread; replying to the newest"


@dataclass(frozen=True)
class Target:
    item_id: int  # 0: nothing in the thread to reply to
    note: str = ""  # why the marker moved on its own, said once


def candidates(thread: control_pb2.ConversationThread) -> list[control_pb2.StoredItem]:
    """What a reply may answer, in the thread's order: the customer's
    messages, or the account's own when the thread has nothing else."""
    incoming = [s for s in thread.items if not outgoing(s)]
    return incoming or list(thread.items)


def newest(thread: control_pb2.ConversationThread) -> int:
    pool = candidates(thread)
    if not pool:
        return 0
    last = thread.conversation.last_incoming_item_id
    if any(s.id == last for s in pool):
        return last
    # thread order puts replies under their parents, so the newest is by time
    return max(pool, key=lambda s: (fmt.seconds(when(s)) or 0.0, s.id)).id


def settle(thread: control_pb2.ConversationThread, pinned: int) -> Target:
    """The target after a (re)load: the pinned message while it is there."""
    if pinned and any(s.id == pinned for s in candidates(thread)):
        return Target(pinned)
    fallback = newest(thread)
    return Target(fallback, GONE if pinned and fallback else "")


def move(thread: control_pb2.ConversationThread, current: int, step: int) -> int:
    """The candidate `step` places from the current one (negative: up, older),
    stopping at either end."""
    ids = [s.id for s in candidates(thread)]
    if not ids:
        return 0
    at = ids.index(current) if current in ids else ids.index(newest(thread))
    return ids[max(0, min(len(ids) - 1, at + step))]


def describe(thread: control_pb2.ConversationThread, target: int, width: int = 60) -> str:
    """The line under the reply box, at most `width` cells: whom the reply
    goes to, and how many messages below the marker it does not answer."""
    pool = candidates(thread)
    ids = [s.id for s in pool]
    if target not in ids:
        return "nothing to reply to in this conversation"
    s = pool[ids.index(target)]
    who = "me" if outgoing(s) else s.item.author_name or "?"
    head = f"replying to {who}: "
    below = len(ids) - 1 - ids.index(target)
    tail = f" · {below} later below" if below else ""
    room = max(8, width - cell_len(head) - cell_len(tail))
    line = head + fmt.fit(s.item.content, room) + tail
    return line + HINT if cell_len(line + HINT) <= width else line
