"""Whom a conversation goes to, picked from the team: the master's live
agents and admins (ListAssignees) and "nobody" to unassign, the current
assignee highlighted; typing narrows the list. Control errors propagate to
the pane, which shows them."""

from __future__ import annotations

from typing import Any

from textual.app import App

from hiscrm.v1 import control_pb2
from tui.client import ControlClient
from tui.widgets.modals import PickModal

NOBODY = "nobody (unassign)"


def choices(people: list[control_pb2.Assignee], current: str, me: str) -> list[tuple[str, str]]:
    """(label, name) pairs; name "" unassigns. A current assignee whose token
    is gone stays listed, so the highlight shows who holds it now."""
    out = [(NOBODY, "")]
    names = [p.name for p in people]
    roles = {p.name: control_pb2.Role.Name(p.role).removeprefix("ROLE_").lower() for p in people}
    if current and current not in roles:
        names.append(current)
    for name in names:
        label = f"{name} · {roles.get(name, 'no live token')}"
        if name == me:
            label += " (you)"
        if name == current:
            label += " · assigned now"
        out.append((label, name))
    return out


async def pick(
    app: App[Any], client: ControlClient, question: str, current: str, me: str
) -> str | None:
    """The picked operator's name, "" for nobody, None on Esc."""
    people = await client.list_assignees()
    return await app.push_screen_wait(
        PickModal(question, choices(people, current, me), current=current)
    )
