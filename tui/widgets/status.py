"""The status bar: the link to the master first, then the fleet at a glance."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from tui.messages import ConnectionChanged, Link


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    StatusBar.-connected { background: $success 30%; }
    StatusBar.-connecting { background: $warning 30%; }
    StatusBar.-reconnecting { background: $error 40%; }
    StatusBar.-problems { background: $error 40%; }
    """

    link: reactive[Link] = reactive(Link.CONNECTING)
    link_text: reactive[str] = reactive("connecting…")
    summary: reactive[str] = reactive("")
    problems: reactive[str] = reactive("")  # the master's problems, one line

    def __init__(self, address: str, **kwargs: object) -> None:
        # Server text (error details) goes in here: never parse it as markup.
        super().__init__(markup=False, **kwargs)  # type: ignore[arg-type]  # Static's kwargs
        self.address = address
        self.reconnects = 0

    def on_mount(self) -> None:
        self.set_class(True, "-connecting")

    def show(self, change: ConnectionChanged) -> None:
        for link in Link:
            self.set_class(link is change.link, f"-{link.value}")
        self.link = change.link
        if change.link is Link.CONNECTING:
            self.link_text = f"◌ connecting to {self.address}…"
        elif change.link is Link.CONNECTED:
            version = f" · master {change.master_version}" if change.master_version else ""
            db = f" · {change.database}" if change.database else ""
            text = f"● connected to {self.address}{version}{db}"
            if change.reconnected:
                self.reconnects += 1
                text += f" · reconnected after {change.offline_s:.1f}s"
                if self.reconnects > 1:
                    text += f" ({self.reconnects} reconnects)"
            self.link_text = text
        else:
            self.link_text = (
                f"✕ master {self.address} unreachable ({change.detail}); "
                f"reconnecting in {change.retry_in_s:.1f}s, attempt {change.attempt}"
            )

    def show_problems(self, problems: list[str], task_failures: dict[str, int]) -> None:
        """GetStats.problems first (what needs an operator now), then task
        failures since the master started; details are in the Fleet pane."""
        parts = []
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            parts.append(f"⚠ {problems[0]}{more}")
        if task_failures:
            failed = ", ".join(f"{task} {n}x" for task, n in task_failures.items())
            parts.append(f"task failures: {failed}")
        self.problems = " · ".join(parts)
        self.set_class(bool(problems), "-problems")

    def render(self) -> str:
        text = f"{self.link_text}   {self.summary}" if self.summary else self.link_text
        return f"{text}   {self.problems}" if self.problems else text
