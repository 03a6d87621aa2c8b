"""hiscrm_common.supervise: a failing task is logged, counted, restarted;
a crash loop is reported; a fatal task ends the process (here: a stand-in)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hiscrm_common.backoff import Backoff
from hiscrm_common.supervise import CRASH_LOOP_FAILURES, FATAL_EXIT_CODE, Failures, supervise


def fast() -> Backoff:
    return Backoff(base=0.001, cap=0.002)


async def test_a_failing_task_is_logged_counted_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = Failures()
    runs: list[int] = []
    done = asyncio.Event()

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise ValueError(f"boom {len(runs)}")
        done.set()
        await asyncio.Event().wait()  # then runs for good

    with caplog.at_level(logging.ERROR):
        task = asyncio.create_task(
            supervise("flaky", flaky, failures=failures, backoff=fast(), context="worker w-1")
        )
        await asyncio.wait_for(done.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert failures.counts() == {"flaky": 2}
    assert failures.tasks["flaky"].last_error == "ValueError: boom 2"
    errors = [r for r in caplog.records if "task flaky failed" in r.getMessage()]
    assert len(errors) == 2 and all(r.exc_info for r in errors)  # with the traceback
    assert all(r.getMessage().startswith("worker w-1: ") for r in errors)


async def test_a_task_that_returns_is_a_failure_too_and_loops_are_reported() -> None:
    failures = Failures()
    runs: list[int] = []
    looped = asyncio.Event()

    async def returns() -> None:
        runs.append(1)
        if len(runs) > CRASH_LOOP_FAILURES:
            looped.set()

    task = asyncio.create_task(supervise("quitter", returns, failures=failures, backoff=fast()))
    await asyncio.wait_for(looped.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert failures.counts()["quitter"] >= CRASH_LOOP_FAILURES
    (problem,) = failures.crash_looping()
    assert problem.startswith("task quitter failed") and "must run until cancelled" in problem


async def test_a_fatal_task_exits_the_process() -> None:
    exits: list[int] = []

    async def broken() -> None:
        raise RuntimeError("no way on")

    await supervise("core", broken, failures=Failures(), fatal=True, exit_process=exits.append)
    assert exits == [FATAL_EXIT_CODE]
