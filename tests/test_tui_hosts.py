"""The console's Fleet tab groups workers by host and shows each host's
health (issue 17); a host's header row is never a worker action's target."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from tests.test_tui_problems import _until
from tui.app import HiscrmApp
from tui.fake import NOW, FakeClient


async def test_fleet_groups_workers_by_host_with_host_health() -> None:
    client = FakeClient()
    app = HiscrmApp("fake:0", "", client=client, clock=lambda: NOW, initial_tab="fleet")
    async with app.run_test(size=(150, 40)) as pilot:
        table = app.fleet.query_one("#workers", DataTable)
        await _until(pilot, lambda: app.fleet.hosts_loaded and table.row_count == 5, "hosts")
        keys = [row.key.value for row in table.ordered_rows]
        assert keys == ["host:ops-1", "worker-0", "worker-1", "worker-2", "host:ops-2"]
        ops1 = [str(c) for c in table.get_row("host:ops-1")]
        assert ops1[1] == "▸ ops-1" and ops1[2] == "online"
        assert ops1[4] == "2/368"  # accounts against the host's cap
        assert "17408M free" in ops1 and "62464M disk" in ops1
        ops2 = [str(c) for c in table.get_row("host:ops-2")]
        assert ops2[2] == "missing: no report for 5.2s"
        assert any(m == "ListHosts" for m, _ in client.calls)

        # on a host's header row, restart asks nothing and calls nothing
        table.move_cursor(row=0)
        await pilot.press("r")
        await pilot.pause()
        assert app.screen.__class__.__name__ != "ConfirmModal"
        assert not any(m == "RestartWorker" for m, _ in client.calls)
        # on a worker's row it asks first
        table.move_cursor(row=1)
        await pilot.press("r")
        await _until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmModal", "confirm")
        await pilot.press("escape")

        # on a host's header row, scale asks for that host's count
        await _until(pilot, lambda: app.screen.__class__.__name__ != "ConfirmModal", "closed")
        table.move_cursor(row=0)
        await pilot.press("n")
        await _until(pilot, lambda: app.screen.__class__.__name__ == "NumberModal", "scale")
        number = app.screen.query_one("#number", Input)
        assert number.value == "2"  # ops-1 runs two of its 16 slots
        number.value = "5"
        await pilot.press("enter")
        await _until(
            pilot,
            lambda: any(m == "ScaleWorkers" for m, _ in client.calls),
            "ScaleWorkers called",
        )
        ((request,),) = [(r,) for m, r in client.calls if m == "ScaleWorkers"]
        assert (request.count, request.host) == (5, "ops-1")
