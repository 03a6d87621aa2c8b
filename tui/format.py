"""Turning protobuf values into the short strings the tables show.

Pure functions with the clock passed in, so snapshot tests render the same
text on every run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp
from rich.cells import cell_len

from hiscrm.v1 import common_pb2

SPARK_BARS = "▁▂▃▄▅▆▇█"


def enum_label(enum: object, value: int, prefix: str) -> str:
    """RUN_STATE_NEEDS_LOGIN -> 'needs login'."""
    try:
        # enum is a generated protobuf enum type (any of them), which has Name().
        name = enum.Name(value)  # type: ignore[attr-defined]
    except ValueError:
        return str(value)
    return name.removeprefix(prefix).lower().replace("_", " ")


def worker_state(value: int) -> str:
    return enum_label(common_pb2.WorkerState, value, "WORKER_STATE_")


def process_state(value: int) -> str:
    return "-" if value == 0 else enum_label(common_pb2.ProcessState, value, "PROCESS_STATE_")


def run_state(value: int) -> str:
    return enum_label(common_pb2.RunState, value, "RUN_STATE_")


def platform(value: int) -> str:
    return enum_label(common_pb2.Platform, value, "PLATFORM_")


def error_kind(value: int) -> str:
    return "" if value == 0 else enum_label(common_pb2.ErrorKind, value, "ERROR_KIND_")


def seconds(ts: Timestamp) -> float | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.seconds + ts.nanos / 1e9


def age(ts: Timestamp, now: float) -> str:
    """How long ago, coarse: '4s', '3m', '2h', '5d'; '-' when never."""
    at = seconds(ts)
    if at is None:
        return "-"
    return duration(max(0.0, now - at))


def duration(delta: float) -> str:
    """Seconds, coarse: '4s', '3m', '2h', '5d'."""
    if delta < 60:
        return f"{delta:.0f}s"
    if delta < 3600:
        return f"{delta / 60:.0f}m"
    if delta < 86400:
        return f"{delta / 3600:.0f}h"
    return f"{delta / 86400:.0f}d"


def clock(ts: Timestamp, now: float) -> str:
    """HH:MM:SS for today, else MM-DD HH:MM (UTC, like the logs)."""
    at = seconds(ts)
    if at is None:
        return "-"
    fmt = "%H:%M:%S" if now - at < 86400 else "%m-%d %H:%M"
    return time.strftime(fmt, time.gmtime(at))


def mib(n: int) -> str:
    return f"{n / 1048576:.0f}M"


def sparkline(values: Sequence[float], width: int = 12) -> str:
    """A one-line bar chart, scaled to the window's own max."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    top = max(tail)
    if top <= 0:
        return SPARK_BARS[0] * len(tail)
    last = len(SPARK_BARS) - 1
    return "".join(SPARK_BARS[min(last, round(v / top * last))] for v in tail)


def one_line(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def fit(text: str, cells: int) -> str:
    """One line at most `cells` terminal cells wide: a Chinese character
    takes two, so a character limit would overflow a column."""
    flat = " ".join(text.split())
    if cell_len(flat) <= cells:
        return flat
    out, used = [], 0
    for ch in flat:
        width = cell_len(ch)
        if used + width > cells - 1:
            break
        out.append(ch)
        used += width
    return "".join(out) + "…"
