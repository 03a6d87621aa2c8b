"""Fleet: the workers grouped by host, each host's health (CPU, free memory
and disk, accounts against its cap); the workers' processes and load;
start/stop/restart/scale; a worker's log, followed live; a host gone for
good forgotten (Control.ForgetHost)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Log, Sparkline

from hiscrm.v1 import common_pb2, control_pb2
from tui import format as fmt
from tui.client import ControlError, WorkerOp
from tui.screens.base import Pane
from tui.state import Topic
from tui.theme import process_state_cell, worker_state_cell
from tui.widgets.modals import ConfirmModal, NumberModal
from tui.widgets.tables import selected_key, sync

MAX_WORKERS = 16  # slots in etc/supervisord.conf
HOST_POLL_S = 2.0
HOST_ROW = "host:"  # row keys of host headers; never a worker action's target
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
        Binding("f", "forget_host", "Forget host"),
    ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # Pane's
        self.marked: set[str] = set()
        self.tailing: str | None = None
        self.hosts: dict[str, control_pb2.Host] = {}
        self.hosts_loaded = False

    def on_mount(self) -> None:
        self.refresh_hosts()
        self.set_interval(HOST_POLL_S, self.refresh_hosts)

    @work(exclusive=True, group="hosts", exit_on_error=False)
    async def refresh_hosts(self) -> None:
        try:
            hosts = await self.client.list_hosts()
        except ControlError as exc:
            # an older master has no ListHosts: workers stay grouped by host name
            self.log.warning(f"host poll failed: {exc}")
            return
        self.hosts = {h.host_id: h for h in hosts}
        self.hosts_loaded = True
        self.show()

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
        rows: list[tuple[str, tuple[str | Text, ...]]] = []
        groups: dict[str, list[str]] = {h: [] for h in self.hosts}
        for wid in sorted(store.workers):
            groups.setdefault(store.workers[wid].host, []).append(wid)
        for host_id in sorted(groups):
            rows.append((HOST_ROW + host_id, self._host_row(host_id, groups[host_id], now)))
            rows.extend(self._worker_row(wid, now) for wid in groups[host_id])
        sync(self.query_one("#workers", DataTable), rows)
        self._show_problems()
        self._show_detail()

    def _host_row(self, host_id: str, worker_ids: list[str], now: float) -> tuple[str | Text, ...]:
        host = self.hosts.get(host_id)
        if host is None:  # no host agent there: the master's own supervisord
            blank = ("",) * 9
            return ("", f"▸ {host_id or 'local'}", "no agent", *blank, f"{len(worker_ids)} workers")
        r = host.resources
        running = sum(1 for p in host.processes if p.state == common_pb2.PROCESS_STATE_RUNNING)
        state = worker_state_cell(host.state)  # a host is coloured like its workers
        if host.state != common_pb2.WORKER_STATE_ONLINE and host.state_reason:
            state.append(f": {host.state_reason}", style=state.style)
        return (
            "",
            f"▸ {host_id}",
            state,
            f"{running}/{host.slots} run",
            f"{host.account_count}/{host.account_cap or '-'}",
            f"{r.cpu_percent:.1f}",
            f"{r.cpu_count} cpu",
            f"{fmt.mib(r.memory_available_bytes)} free",
            f"of {fmt.mib(r.memory_total_bytes)}",
            fmt.age(host.last_report_at, now),
            "",
            f"{fmt.mib(r.disk_free_bytes)} disk",
            host.hostname,
        )

    def _worker_row(self, wid: str, now: float) -> tuple[str, tuple[str | Text, ...]]:
        store = self.store
        w = store.workers[wid]
        return (
            wid,
            (
                "✓" if wid in self.marked else "",
                f"  {wid}",
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
        """The worker under the cursor (None on a host's header row)."""
        key = selected_key(self.query_one("#workers", DataTable))
        return None if key is None or key.startswith(HOST_ROW) else key

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

    def selected_host(self) -> control_pb2.Host | None:
        """The worker host whose header row is under the cursor (one with an agent)."""
        key = selected_key(self.query_one("#workers", DataTable))
        if key is None or not key.startswith(HOST_ROW):
            return None
        return self.hosts.get(key.removeprefix(HOST_ROW))

    def action_scale(self) -> None:
        running = common_pb2.PROCESS_STATE_RUNNING
        host = self.selected_host()  # on a host's header row: that host's workers
        if host is not None:
            current = sum(1 for p in host.processes if p.state == running)
            maximum, where = host.slots, f" on {host.host_id}"
        else:
            workers = self.store.workers.values()
            current = sum(1 for w in workers if w.process_state == running)
            maximum, where = MAX_WORKERS, ""
        host_id = host.host_id if host is not None else ""

        def chosen(count: int | None) -> None:
            if count is not None:
                self.run_scale(count, host_id)

        self.app.push_screen(
            NumberModal(
                f"How many workers should run{where}? (0-{maximum})",
                minimum=0,
                maximum=maximum,
                value=current,
            ),
            chosen,
        )

    @work(group="fleet-action", exit_on_error=False)
    async def run_scale(self, count: int, host: str = "") -> None:
        try:
            results = await self.client.scale(count, host)
        except ControlError as exc:
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            return
        changed = ", ".join(r.worker_id for r in results) or "nothing to change"
        self.notify(f"scaled to {count} workers: {changed}", markup=False)
        self.want_refresh("workers")

    def action_forget_host(self) -> None:
        """On a host's header row: asks, then has the master forget that host."""
        host = self.selected_host()
        if host is None:
            self.notify("select a worker host's row to forget it", severity="warning", markup=False)
            return
        host_id = host.host_id

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.forget(host_id)

        # What ForgetHost does (master/control/hosts.py): refused while the agent
        # is connected; else the credential is revoked and the host's record
        # dropped; the workers' own records are left alone.
        self.app.push_screen(
            ConfirmModal(
                f"Forget host {host_id}? Its credential is revoked and it leaves the"
                " list of hosts; the records of workers it ran stay listed. The master"
                " refuses while its agent is connected.",
                yes="Forget",
            ),
            confirmed,
        )

    @work(group="fleet-action", exit_on_error=False)
    async def forget(self, host_id: str) -> None:
        try:
            done = await self.client.forget_host(host_id)
        except ControlError as exc:  # connected, not an admin, already gone...
            self.notify(str(exc), severity="error", timeout=10, markup=False)
        else:
            revoked = (
                f"credential {done.revoked_token_id} revoked"
                if done.revoked_token_id
                else "it had no credential"
            )
            kept = f"; its workers stay listed: {', '.join(done.worker_ids)}"
            self.notify(
                f"host {done.host_id} forgotten; {revoked}{kept if done.worker_ids else ''}",
                markup=False,
            )
        self.refresh_hosts()

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
            "Forget host", "remove the selected worker host for good", self.action_forget_host
        )
        yield SystemCommand(
            "Tail worker log", "follow the selected worker's log", self.action_toggle_log
        )


def _named(delivery_error: str, problems: list[str]) -> bool:
    wid = delivery_error.split(":", 1)[0]
    return any(f"worker {wid}:" in p for p in problems)
