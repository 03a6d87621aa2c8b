"""The team's saved replies from the console: pick one (to insert it into
the reply box, rendered for the conversation by the master) or delete one.
Control errors propagate to the pane, which shows them."""

from __future__ import annotations

from typing import Any

from textual.app import App

from hiscrm.v1 import control_pb2
from tui import format as fmt
from tui.client import ControlClient
from tui.widgets.modals import ConfirmModal, PickModal

HOW_TO_SAVE = (
    "type the reply first, then S saves it for the team; "
    "{customer} {account} {operator} {post} are filled in when it is used"
)


async def pick(app: App[Any], client: ControlClient, title: str) -> control_pb2.SavedReply | None:
    """The saved reply the operator picks; None when there are none or Esc."""
    saved = await client.list_saved_replies()
    if not saved:
        app.notify(f"no saved replies yet: {HOW_TO_SAVE}", severity="warning", markup=False)
        return None
    choices = [(f"{r.name}: {fmt.fit(r.text, 50)}", r) for r in saved]
    return await app.push_screen_wait(PickModal(title, choices))


async def pick_and_delete(app: App[Any], client: ControlClient) -> control_pb2.SavedReply | None:
    """The saved reply deleted after a confirmation; None when nothing was."""
    picked = await pick(app, client, "Delete which saved reply?")
    if picked is None:
        return None
    question = f"Delete the saved reply {picked.name!r} for the whole team?"
    if not await app.push_screen_wait(ConfirmModal(question, yes="Delete")):
        return None
    await client.delete_saved_reply(picked.id)
    return picked
