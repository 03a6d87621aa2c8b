"""What every pane is: a titled tab that reads the store, calls the client
from its own workers, and posts messages for anything beyond itself.

A pane gets the client, the store and the clock when it is made, subscribes
to the store's announcements while mounted, and never imports the app: the
app lists its panes once (tui/app.py PANES) and routes their messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input

from tui.client import ControlClient, ControlError
from tui.messages import OpenWanted, Refreshable, RefreshWanted
from tui.state import Change, Store, Topic

T = TypeVar("T")


@dataclass(frozen=True)
class PaneContext:
    """What a pane needs of the running console."""

    client: ControlClient
    store: Store
    now: Callable[[], float]


class Pane(Vertical):
    TAB: ClassVar[str] = ""  # the tab's id
    TITLE: ClassVar[str] = ""  # the tab's label
    FOCUS: ClassVar[str] = ""  # selector of the widget focused when the tab opens
    WATCHES: ClassVar[frozenset[Topic]] = frozenset()  # topics that redraw it
    TICKS: ClassVar[bool] = False  # redraw on the 1 s tick while visible (ages)

    BINDINGS: ClassVar[list[BindingType]] = [
        # Input does not use Esc: it bubbles here and leaves the field.
        Binding("escape", "leave_input", "Leave field", show=False),
    ]

    def __init__(self, context: PaneContext, **kwargs: object) -> None:
        # the widget's own keyword arguments (id, classes, ...), passed through.
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.context = context

    @property
    def store(self) -> Store:
        return self.context.store

    @property
    def client(self) -> ControlClient:
        return self.context.client

    def now(self) -> float:
        return self.context.now()

    def on_mount(self) -> None:
        self.store.subscribe(self.changed)

    def on_unmount(self) -> None:
        self.store.unsubscribe(self.changed)

    # ------------------------------------------------------------ to override

    def changed(self, change: Change) -> None:
        """The store announced a change; redraw if it touches this pane."""
        if change.touches(*self.WATCHES):
            self.show()

    def show(self) -> None:
        """Redraw from the store."""

    def open(self, key: str) -> None:
        """Another pane asked to show this one at key (see OpenWanted)."""

    def commands(self) -> Iterable[SystemCommand]:
        """This pane's entries in the command palette."""
        return ()

    # ------------------------------------------------------------ helpers

    async def call(self, pending: Awaitable[T]) -> T | None:
        """Await a Control call; a failure is an error toast and None."""
        try:
            return await pending
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return None

    def want_refresh(self, what: Refreshable) -> None:
        self.post_message(RefreshWanted(what))

    def want_open(self, tab: str, key: str) -> None:
        self.post_message(OpenWanted(tab, key))

    def focus_home(self) -> None:
        if self.FOCUS:
            self.query_one(self.FOCUS).focus()

    def action_leave_input(self) -> None:
        if isinstance(self.screen.focused, Input):
            self.focus_home()
