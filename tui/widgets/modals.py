"""Small modal dialogs: yes/no confirmation, a one-number prompt, a
one-line prompt and a pick-one list. Each names its keys; Esc cancels."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

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
    Dialog .dialog .hint { color: $text-muted; height: auto; }
    Dialog .dialog #question { width: 1fr; }  /* a long question wraps, not cropped */
    """


class ConfirmModal(Dialog[bool]):
    """Asks before anything that stops processes or deletes data. The asked-for
    action is the default: its button has the focus, so Enter (or y) does it;
    n or Esc cancels. The buttons say so."""

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
                yield Button(f"{self.yes} [y/Enter]", variant="error", id="yes")
                yield Button("Cancel [n/Esc]", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

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


class TextModal(Dialog[str | None]):
    """Asks for one line of text (e.g. whom to assign a conversation to)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, *, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, markup=False)
            yield Input(self.value, placeholder=self.placeholder, id="text")
            yield Label("Enter to accept, Esc to cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickModal(Dialog[R | None]):
    """Pick one of a list, narrowed by typing (e.g. a saved reply, an
    assignee). The choice whose value is `current` starts highlighted."""

    DEFAULT_CSS = """
    PickModal OptionList { height: auto; max-height: 16; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self, title: str, choices: list[tuple[str, R]], current: R | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.shown: list[tuple[str, R]] = list(choices)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, markup=False)
            yield Input(placeholder="type to narrow; Enter picks, Esc cancels", id="narrow")
            yield OptionList(*self._options(), id="choices")

    def _options(self) -> list[Option]:
        return [Option(label, id=str(n)) for n, (label, _) in enumerate(self.shown)]

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        choices = self.query_one(OptionList)
        if self.shown:
            values = [value for _, value in self.shown]
            choices.highlighted = values.index(self.current) if self.current in values else 0

    def on_input_changed(self, event: Input.Changed) -> None:
        q = event.value.casefold()
        self.shown = [c for c in self.choices if q in c[0].casefold()]
        choices = self.query_one(OptionList)
        choices.clear_options()
        choices.add_options(self._options())
        if self.shown:
            choices.highlighted = 0

    def action_move(self, step: int) -> None:
        choices = self.query_one(OptionList)
        if self.shown:
            now = choices.highlighted or 0
            choices.highlighted = max(0, min(len(self.shown) - 1, now + step))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        picked = self.query_one(OptionList).highlighted
        if picked is not None and picked < len(self.shown):
            self.dismiss(self.shown[picked][1])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.shown[event.option_index][1])

    def action_cancel(self) -> None:
        self.dismiss(None)
