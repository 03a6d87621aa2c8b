"""SIGUSR1 to a master or worker logs where each of its asyncio tasks waits.

A task that never ends (a stop that hangs, a lock nobody releases) is
otherwise invisible from outside: py-spy needs ptrace, which containers
often forbid. `kill -USR1 PID` (or `supervisorctl signal USR1 worker-1`)
writes one WARNING with every task's name and stack to the process's log.
"""

from __future__ import annotations

import asyncio
import io
import logging
import signal

log = logging.getLogger(__name__)

MAX_FRAMES = 12  # per task: enough to see where it waits


def dump(context: str) -> str:
    """Every task of the running loop with its stack, as one text."""
    out = io.StringIO()
    tasks = sorted(asyncio.all_tasks(), key=lambda t: t.get_name())
    out.write(f"{context}: {len(tasks)} asyncio tasks\n")
    for task in tasks:
        out.write(f"--- {task.get_name()} ({task.get_coro()!r:.120})\n")
        try:
            task.print_stack(limit=MAX_FRAMES, file=out)
        except Exception as exc:  # compiled coroutines (grpc's) have no Python frames
            out.write(f"(no stack: {type(exc).__name__}: {exc})\n")
    return out.getvalue()


def install(context: str) -> None:
    """Log dump(context) on every SIGUSR1 (call inside the running loop)."""

    def on_signal() -> None:
        log.warning("%s", dump(context))

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, on_signal)
