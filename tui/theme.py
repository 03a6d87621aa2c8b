"""The console's look: one dark theme, framed panes whose frame lights up
with focus, and the colours that carry meaning in the tables.

The palette is our own (ink blue with a teal primary and an amber accent);
the grammar follows the Textual apps operators already know, such as
posting and harlequin: titled, rounded frames, the focused one in the
accent colour, muted everything else.
"""

from __future__ import annotations

from rich.text import Text
from textual.theme import Theme

from hiscrm.v1 import common_pb2
from tui import format as fmt

THEME = Theme(
    name="hiscrm-ink",
    primary="#4FB0C6",
    secondary="#7D8CC4",
    accent="#F2A65A",
    success="#7BC47F",
    warning="#E8C547",
    error="#E5625C",
    foreground="#DCDFE8",
    background="#14161F",
    surface="#1C1F2B",
    panel="#262A3A",
    dark=True,
)

# Meaning, not decoration: the same word has the same colour in every pane.
GOOD = "#7BC47F"  # online, running, sent
BAD = "#E5625C"  # missing, error, blocked
ATTENTION = "#E8C547"  # needs login, pending, waiting long
QUIET = "#8A90A6"  # offline, disabled, read, done
DM_STYLE = "#C792EA"  # direct messages
COMMENT_STYLE = "#4FB0C6"  # comments
ME_STYLE = "#F2A65A"  # the account's own messages, the operator

CSS = """
TabbedContent { height: 1fr; }
TabPane { padding: 0; }
/* A framed widget: a rounded, titled frame that takes the accent on focus. */
.framed {
    border: round $panel-lighten-2;
    border-title-color: $text-muted;
    border-subtitle-color: $text-muted;
}
.framed:focus, .framed:focus-within {
    border: round $accent;
    border-title-color: $accent;
    border-title-style: bold;
}
DataTable > .datatable--header { text-style: bold; color: $text-muted; }
Input { border: tall $panel-lighten-1; }
Input:focus { border: tall $accent; }
Footer { background: $panel; }
"""


def styled(text: str, style: str) -> Text:
    """Text whose style is a span, so two cells differing only in style are
    unequal (Rich compares spans, not a Text's base style) and a table sync
    repaints them."""
    out = Text(text)
    if text and style:
        out.stylize(style)
    return out


def _pick(value: int, styles: dict[int, str]) -> str:
    return styles.get(value, "")


def _cell(label: str, style: str) -> Text:
    return styled(label, style)


def worker_state_cell(value: int) -> Text:
    style = _pick(
        value,
        {
            common_pb2.WORKER_STATE_ONLINE: GOOD,
            common_pb2.WORKER_STATE_MISSING: BAD,
            common_pb2.WORKER_STATE_OFFLINE: QUIET,
            common_pb2.WORKER_STATE_DRAINING: ATTENTION,
        },
    )
    return _cell(fmt.worker_state(value), style)


def process_state_cell(value: int) -> Text:
    style = _pick(
        value,
        {
            common_pb2.PROCESS_STATE_RUNNING: GOOD,
            common_pb2.PROCESS_STATE_STARTING: ATTENTION,
            common_pb2.PROCESS_STATE_BACKOFF: BAD,
            common_pb2.PROCESS_STATE_FATAL: BAD,
            common_pb2.PROCESS_STATE_STOPPED: QUIET,
            common_pb2.PROCESS_STATE_EXITED: QUIET,
        },
    )
    return _cell(fmt.process_state(value), style)


def run_state_cell(value: int, enabled: bool = True) -> Text:
    if not enabled:
        return _cell("disabled", QUIET)
    style = _pick(
        value,
        {
            common_pb2.RUN_STATE_RUNNING: GOOD,
            common_pb2.RUN_STATE_NEEDS_LOGIN: ATTENTION,
            common_pb2.RUN_STATE_LOGGING_IN: ATTENTION,
            common_pb2.RUN_STATE_STARTING: ATTENTION,
            common_pb2.RUN_STATE_BACKING_OFF: ATTENTION,
            common_pb2.RUN_STATE_CAPTCHA: BAD,
            common_pb2.RUN_STATE_RATE_LIMITED: BAD,
            common_pb2.RUN_STATE_ERROR: BAD,
            common_pb2.RUN_STATE_OUTBOX_FULL: BAD,
            common_pb2.RUN_STATE_DISABLED: QUIET,
            common_pb2.RUN_STATE_UNASSIGNED: QUIET,
        },
    )
    return _cell(fmt.run_state(value), style)


def kind_cell(dm: bool) -> Text:
    return _cell("DM", DM_STYLE) if dm else _cell("comment", COMMENT_STYLE)
