"""Fleet: the workers, their processes and load; start/stop/restart/scale;
a worker's log, followed live."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Log, Sparkline

from hiscrm.v1 import common_pb2
from tui import format as fmt
from tui.client import ControlError, WorkerOp
from tui.screens.base import Pane
from tui.state import Topic
from tui.theme import process_state_cell, worker_state_cell
from tui.widgets.modals import ConfirmModal, NumberModal
from tui.widgets.tables import selected_key, sync

MAX_WORKERS = 16  # slots in etc/supervisord.conf
COLUMNS = (
    "✓",
    "worker",
    "gateway",
    "process",
    "accts",
    "cpu%",
    "cpu trend",
    "mem",
    "mem trend",
    "beat",
    "pid",
    "outbox",
    "host",
)


class FleetPane(Pane):
    TAB = "fleet"
    TITLE = "Fleet"
    FOCUS = "#workers"
    WATCHES = frozenset({Topic.WORKERS, Topic.STATS})
    TICKS = True
    DEFAULT_CSS = """
    FleetPane #workers { height: 1fr; }
    FleetPane #fleet-detail { height: 4; padding: 0 1; }
    FleetPane #fleet-detail Vertical { width: 1fr; }
    FleetPane #fleet-detail Sparkline { height: 2; }
    FleetPane #fleet-problems { height: auto; max-height: 8; padding: 0 1; color: $error;
        display: none; }
    FleetPane.-problems #fleet-problems { display: block; }
    FleetPane #worker-log { height: 1fr; border: round $primary; display: none; }
    FleetPane.-log #worker-log { display: block; }
    FleetPane.-log #workers { height: 12; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *Pane.BINDINGS,
        Binding("space", "mark", "Mark"),
        Binding("s", "act('start')", "Start"),
        Binding("x", "act('stop')", "Stop"),
        Binding("r", "act('restart')", "Restart"),
        Binding("n", "scale", "Scale"),
        Binding("l", "toggle_log", "Log"),
    ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # Pane's
        self.marked: set[str] = set()
        self.tailing: str | None = None

    def compose(self) -> ComposeResult:
        table: DataTable[object] = DataTable(
            id="workers", cursor_type="row", zebra_stripes=True, classes="framed"
        )
        table.border_title = "Workers"
        table.add_columns(*COLUMNS)
        yield table
        # what the master reports (GetStats) and workers whose outbox fails
        yield Label("", id="fleet-problems", markup=False)
        with Horizontal(id="fleet-detail"):
            with Vertical():
                yield Label("CPU", id="cpu-label", markup=False)
                yield Sparkline([], id="cpu-spark")
            with Vertical():
                yield Label("Memory", id="mem-label", markup=False)
                yield Sparkline([], id="mem-spark")
        yield Log(id="worker-log", max_lines=5000)

    # ------------------------------------------------------------ view

    def show(self) -> None:
        """Redraw from the store (called on events, polls and the 1 s tick)."""
        store, now = self.store, self.now()
        self.marked &= set(store.workers)
        rows = []
        for wid in sorted(store.workers):
            w = store.workers[wid]
            rows.append(
                (
                    wid,
                    (
                        "✓" if wid in self.marked else "",
                        wid,
                        worker_state_cell(w.state),
                        process_state_cell(w.process_state),
                        f"{len(w.account_ids)}/{w.max_accounts}",
                        f"{w.stats.cpu_percent:.1f}",
                        fmt.sparkline(store.cpu.get(wid, ())),
                        fmt.mib(w.stats.rss_bytes),
                        fmt.sparkline(store.mem.get(wid, ())),
                        fmt.age(w.last_heartbeat_at, now),
                        str(w.pid or "-"),
                        str(w.outbox_pending),
                        w.host,
                    ),
                )
            )
        sync(self.query_one("#workers", DataTable), rows)
        self._show_problems()
        self._show_detail()

    def _show_problems(self) -> None:
        store = self.store
        lines = [f"⚠ {p}" for p in store.problems]
        # GetStats.problems names failing deliveries too; list those not named there
        lines += [f"⚠ {e}" for e in store.delivery_errors() if not _named(e, store.problems)]
        if store.task_failures:
            failed = ", ".join(f"{task} {n}x" for task, n in store.task_failures.items())
            lines.append(f"task failures since the master started (see its log): {failed}")
        self.query_one("#fleet-problems", Label).update("\n".join(lines))
        self.set_class(bool(lines), "-problems")

    def _show_detail(self) -> None:
        store = self.store
        wid = self.selected()
        cpu = list(store.cpu.get(wid, ())) if wid else []
        mem = list(store.mem.get(wid, ())) if wid else []
        self.query_one("#cpu-spark", Sparkline).data = cpu
        self.query_one("#mem-spark", Sparkline).data = mem
        worker = store.workers.get(wid or "")
        cpu_now = f" {worker.stats.cpu_percent:.1f}%" if worker else ""
        mem_now = ""
        if worker:
            stats = worker.stats
            mem_now = (
                f" {fmt.mib(stats.rss_bytes)} (browser {fmt.mib(stats.browser_rss_bytes)},"
                f" {stats.process_count} processes)"
            )
        self.query_one("#cpu-label", Label).update(f"CPU {wid or ''}{cpu_now}")
        self.query_one("#mem-label", Label).update(f"Memory{mem_now}")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def selected(self) -> str | None:
        return selected_key(self.query_one("#workers", DataTable))

    def targets(self) -> list[str]:
        if self.marked:
            return sorted(self.marked)
        wid = self.selected()
        return [wid] if wid else []

    # ------------------------------------------------------------ actions

    def action_mark(self) -> None:
        wid = self.selected()
        if wid is None:
            return
        self.marked ^= {wid}
        self.show()

    def action_act(self, op: WorkerOp) -> None:
        ids = self.targets()
        if not ids:
            self.notify("no worker selected", severity="warning", markup=False)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.act_on(op, ids)

        what = ", ".join(ids)
        self.app.push_screen(
            ConfirmModal(f"{op.capitalize()} {what}?", yes=op.capitalize()), confirmed
        )

    # Not run_action: that is Widget's own action runner, which Textual calls.
    @work(group="fleet-action", exit_on_error=False)
    async def act_on(self, op: WorkerOp, ids: list[str]) -> None:
        self.notify(f"{op} {', '.join(ids)}…", markup=False)
        try:
            results = await self.client.worker_action(op, ids)
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        for r in results:
            state = fmt.process_state(r.process_state)
            if r.ok:
                self.notify(f"{r.worker_id}: {op} done ({state})", markup=False)
            else:
                self.notify(
                    f"{r.worker_id}: {op} failed: {r.message}", severity="error", markup=False
                )
        self.marked.clear()
        self.want_refresh("workers")

    def action_scale(self) -> None:
        running = common_pb2.PROCESS_STATE_RUNNING
        current = sum(1 for w in self.store.workers.values() if w.process_state == running)

        def chosen(count: int | None) -> None:
            if count is not None:
                self.run_scale(count)

        self.app.push_screen(
            NumberModal(
                f"How many workers should run? (0-{MAX_WORKERS})",
                minimum=0,
                maximum=MAX_WORKERS,
                value=current,
            ),
            chosen,
        )

    @work(group="fleet-action", exit_on_error=False)
    async def run_scale(self, count: int) -> None:
        try:
            results = await self.client.scale(count)
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        changed = ", ".join(r.worker_id for r in results) or "nothing to change"
        self.notify(f"scaled to {count} workers: {changed}", markup=False)
        self.want_refresh("workers")

    def action_toggle_log(self) -> None:
        wid = self.selected()
        if self.tailing is not None and (wid is None or wid == self.tailing):
            self.workers.cancel_group(self, "tail")
            self.tailing = None
            self.remove_class("-log")
            return
        if wid is None:
            return
        self.tailing = wid
        log_view = self.query_one("#worker-log", Log)
        log_view.clear()
        log_view.border_title = f"log of {wid} (l closes)"
        self.add_class("-log")
        self.tail(wid)

    @work(exclusive=True, group="tail", exit_on_error=False)
    async def tail(self, worker_id: str) -> None:
        log_view = self.query_one("#worker-log", Log)
        try:
            async for chunk in self.client.tail_log(worker_id, follow=True):
                if chunk.overflow:
                    log_view.write_line("… (earlier output skipped)")
                log_view.write(chunk.text)
        except ControlError as exc:
            log_view.write_line(f"\n[log tail stopped: {exc.code}: {exc.details}]")

    def commands(self) -> Iterable[SystemCommand]:
        for op in ("restart", "stop", "start"):
            yield SystemCommand(
                f"{op.capitalize()} worker(s)",
                f"{op} the marked or selected workers",
                lambda op=op: self.action_act(op),
            )
        yield SystemCommand("Scale workers", "run N workers", self.action_scale)
        yield SystemCommand(
            "Tail worker log", "follow the selected worker's log", self.action_toggle_log
        )


def _named(delivery_error: str, problems: list[str]) -> bool:
    wid = delivery_error.split(":", 1)[0]
    return any(f"worker {wid}:" in p for p in problems)
