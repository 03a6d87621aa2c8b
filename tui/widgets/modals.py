"""Small modal dialogs: yes/no confirmation and a one-number prompt."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Button, Input, Label

R = TypeVar("R")


class Dialog(ModalScreen[R]):
    """A centred box over the dimmed screen; the base of every dialog here."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog .dialog {
        width: 64;
        height: auto;
        padding: 1 2;
        border: thick $primary;
        background: $surface;
    }
    Dialog .dialog .buttons { height: auto; margin-top: 1; align-horizontal: right; }
    Dialog .dialog Button { margin-left: 1; }
    Dialog .dialog .error { color: $error; height: auto; }
    """


class ConfirmModal(Dialog[bool]):
    """Asks before anything that stops processes or deletes data."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, *, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, id="question", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class NumberModal(Dialog[int | None]):
    """Asks for one whole number in a range (e.g. how many workers)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, *, minimum: int, maximum: int, value: int) -> None:
        super().__init__()
        self.question = question
        self.minimum = minimum
        self.maximum = maximum
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, markup=False)
            yield Input(
                str(self.value),
                id="number",
                validators=[Integer(minimum=self.minimum, maximum=self.maximum)],
            )
            yield Label("", classes="error", id="error")
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _submit(self) -> None:
        field = self.query_one("#number", Input)
        result = field.validate(field.value)
        if result is not None and not result.is_valid:
            self.query_one("#error", Label).update(
                f"enter a whole number from {self.minimum} to {self.maximum}"
            )
            return
        self.dismiss(int(field.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
