"""The console shows what the master reports as problems (GetStats.problems,
task_failures), workers whose delivery fails, and counts only online workers
against those meant to run."""

from __future__ import annotations

from textual.widgets import Label

from hiscrm.v1 import common_pb2
from hiscrm_common.worker_counts import count_workers
from tui.app import HiscrmApp
from tui.fake import NOW, FakeClient, workers

PROBLEM = "worker worker-1: delivery failing: database is locked"


async def _until(pilot, probe, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):
        if probe():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_problems_show_in_the_status_bar_and_the_fleet_pane() -> None:
    client = FakeClient()
    app = HiscrmApp("fake:0", "", client=client, clock=lambda: NOW, initial_tab="fleet")
    async with app.run_test(size=(160, 40)) as pilot:
        await _until(pilot, lambda: app.full_refreshes > 0, "first refresh")
        fleet_problems = app.fleet.query_one("#fleet-problems", Label)
        assert not app.status.problems and not fleet_problems.display
        assert not app.status.has_class("-problems")

        client.stats.problems.append(PROBLEM)
        client.stats.task_failures["ingest"] = 3
        client.workers[1].delivery_error = "database is locked"
        client.workers[0].delivery_error = "disk full"
        app.refresh_workers()
        app.refresh_stats()
        await _until(
            pilot,
            lambda: "ingest 3x" in str(app.status.render()),
            "problems and task failures in the status bar",
        )
        bar = str(app.status.render())
        assert f"⚠ {PROBLEM}" in bar and "task failures: ingest 3x" in bar
        assert app.status.has_class("-problems")
        # the list is made from two answers (stats, workers): wait for both
        await _until(
            pilot,
            lambda: fleet_problems.display and "disk full" in str(fleet_problems.content),
            "the Fleet pane's problem list",
        )
        shown = str(fleet_problems.content)
        assert f"⚠ {PROBLEM}" in shown
        # a failing delivery the master's problems do not name yet is listed too, once
        assert "⚠ worker-0: delivery failing: disk full" in shown
        assert shown.count("database is locked") == 1
        assert "ingest 3x" in shown

        # and they go away when the master stops reporting them
        client.stats.problems.clear()
        client.stats.task_failures.clear()
        for w in client.workers:
            w.delivery_error = ""
        app.refresh_workers()
        app.refresh_stats()
        await _until(pilot, lambda: not app.status.problems, "problems cleared")
        await _until(pilot, lambda: not fleet_problems.display, "Fleet pane cleared")
        assert not app.status.has_class("-problems")


async def test_summary_counts_online_against_workers_meant_to_run() -> None:
    client = FakeClient()
    # worker-2 said goodbye and its process was stopped: not "missing"
    client.workers[2].state = common_pb2.WORKER_STATE_OFFLINE
    client.workers[2].process_state = common_pb2.PROCESS_STATE_STOPPED
    app = HiscrmApp("fake:0", "", client=client, clock=lambda: NOW)
    async with app.run_test(size=(160, 40)) as pilot:
        await _until(pilot, lambda: app.full_refreshes > 0, "first refresh")
        await _until(pilot, lambda: "workers" in app.status.summary, "summary")
        assert "workers 2/2 online (1 stopped)" in app.status.summary
        # a worker that crashed and supervisord restarts is not online, and counts
        client.workers[1].state = common_pb2.WORKER_STATE_MISSING
        client.workers[1].process_state = common_pb2.PROCESS_STATE_BACKOFF
        app.refresh_workers()
        await _until(
            pilot, lambda: "workers 1/2 online (1 stopped)" in app.status.summary, "recount"
        )


def test_worker_counts() -> None:
    fleet = workers()  # two online, one missing in backoff
    assert count_workers(fleet).text() == "workers 2/3 online"
    fleet[1].state = common_pb2.WORKER_STATE_OFFLINE
    fleet[1].process_state = common_pb2.PROCESS_STATE_FATAL  # supervisord gave up: still counts
    fleet[2].state = common_pb2.WORKER_STATE_OFFLINE
    fleet[2].process_state = common_pb2.PROCESS_STATE_UNSPECIFIED  # said goodbye, no supervisor
    counts = count_workers(fleet)
    assert (counts.online, counts.expected, counts.stopped) == (1, 2, 1)
    assert counts.text() == "workers 1/2 online (1 stopped)"
