"""SupervisorClient against a real supervisord on a unix socket in a temp dir."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import xmlrpc.client
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from supervisor.xmlrpc import SupervisorTransport

from hiscrm_common.supervisor_client import SupervisorClient, SupervisorError

SLOTS = 4
INITIAL = 2
DEADLINE = 20.0

PROGRAM = textwrap.dedent(
    """
    import itertools, os, sys, time
    name = os.environ.get("SUPERVISOR_PROCESS_NAME", "?")
    parent = os.getppid()
    for i in itertools.count():
        print(f"tick {name} {i} 你好", flush=True)
        if os.getppid() != parent:  # supervisord died: do not outlive it
            sys.exit(0)
        time.sleep(0.1)
    """
)


def _conf(d: Path) -> str:
    return textwrap.dedent(
        f"""
        [unix_http_server]
        file={d}/s.sock
        chmod=0700

        [supervisord]
        logfile={d}/supervisord.log
        pidfile={d}/supervisord.pid
        childlogdir={d}
        nodaemon=true

        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

        [supervisorctl]
        serverurl=unix://{d}/s.sock

        [program:worker]
        command={sys.executable} -u {d}/prog.py
        process_name=worker-%(process_num)s
        numprocs={SLOTS}
        autostart=false
        autorestart=true
        startsecs=1
        stopwaitsecs=5
        stopasgroup=true
        killasgroup=true
        redirect_stderr=true
        stdout_logfile={d}/worker-%(process_num)s.log
        """
    )


def _rpc(sock: Path) -> xmlrpc.client.ServerProxy:
    transport = SupervisorTransport(None, None, serverurl=f"unix://{sock}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


@pytest.fixture
def supervisord() -> Iterator[Path]:
    """A running supervisord; yields its socket path. Always shut down."""
    d = Path(tempfile.mkdtemp(prefix="hsv"))  # short: AF_UNIX paths are limited
    sock = d / "s.sock"
    (d / "prog.py").write_text(PROGRAM)
    (d / "supervisord.conf").write_text(_conf(d))
    out = (d / "stdout.txt").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(d / "supervisord.conf")],
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            with contextlib.suppress(OSError):
                if _rpc(sock).supervisor.getState()["statename"] == "RUNNING":
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"supervisord did not come up: {(d / 'stdout.txt').read_text()}")
            time.sleep(0.05)
        yield sock
    finally:
        with contextlib.suppress(Exception):
            _rpc(sock).supervisor.shutdown()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=5)
        out.close()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
async def client(supervisord: Path) -> SupervisorClient:
    c = SupervisorClient(supervisord, timeout=30)
    result = await c.scale_group("worker", INITIAL)
    assert result.ok, result
    return c


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _pids(c: SupervisorClient) -> dict[str, int]:
    return {p.name: p.pid for p in await c.group_processes("worker") if p.state == "RUNNING"}


async def test_list_processes(client: SupervisorClient) -> None:
    procs = await client.list_processes()
    assert [p.name for p in procs] == [f"worker:worker-{i}" for i in range(SLOTS)]
    running = [p for p in procs if p.state == "RUNNING"]
    assert [p.name for p in running] == ["worker:worker-0", "worker:worker-1"]
    for p in running:
        assert p.group == "worker" and p.pid > 0 and p.start > 0
        assert p.description.startswith(f"pid {p.pid}")
        assert p.stdout_logfile.endswith(f"{p.process}.log") and p.logfile == p.stdout_logfile
    assert all(p.state == "STOPPED" and p.pid == 0 for p in procs if p not in running)
    assert await client.group_process_names("worker") == [p.name for p in procs]
    assert (await client.process_info("worker:worker-1")).pid == running[1].pid


async def test_stop_start_restart(client: SupervisorClient) -> None:
    name = "worker:worker-0"
    stopped = await client.stop(name)
    assert stopped.state == "STOPPED" and stopped.pid == 0 and stopped.stop > 0
    started = await client.start(name)
    assert started.state == "RUNNING" and started.pid > 0
    restarted = await client.restart(name)
    assert restarted.state == "RUNNING" and restarted.pid not in (0, started.pid)

    with pytest.raises(SupervisorError) as e:
        await client.start(name)
    assert e.value.code == "ALREADY_STARTED"
    with pytest.raises(SupervisorError) as e:
        await client.stop("worker:worker-3")
    assert e.value.code == "NOT_RUNNING"
    with pytest.raises(SupervisorError) as e:
        await client.process_info("worker:nope")
    assert e.value.code == "BAD_NAME" and "supervisorctl status" in e.value.message


async def test_many_ops_report_per_name(client: SupervisorClient) -> None:
    before = await _pids(client)
    res = await client.start_many(["worker:worker-0", "worker:nope", "worker:worker-2"])
    by = {r.name: r for r in res}
    assert by["worker:worker-0"].ok and "already running" in by["worker:worker-0"].message
    assert by["worker:worker-2"].ok and by["worker:worker-2"].state == "RUNNING"
    assert not by["worker:nope"].ok and "BAD_NAME" in by["worker:nope"].message
    assert by["worker:nope"].state == ""

    res = await client.restart_many(["worker:worker-0", "bogus:x"])
    assert [r.ok for r in res] == [True, False]
    assert (await client.process_info("worker:worker-0")).pid != before["worker:worker-0"]

    res = await client.stop_many(["worker:worker-1", "worker:worker-3", "worker:nope"])
    assert [(r.ok, r.state) for r in res] == [(True, "STOPPED"), (True, "STOPPED"), (False, "")]
    assert "not running" in res[1].message


async def test_tail_log(client: SupervisorClient) -> None:
    name = "worker:worker-1"

    async def has_lines() -> bool:
        return (await client.tail_last(name, 4096))[0].count("\n") >= 3

    await _until(has_lines, "log lines")
    text, offset, _ = await client.tail_last(name, 4096)
    assert "tick worker-1 " in text and "你好" in text
    assert offset > 0

    # Following from the offset returns only new lines, never repeats.
    seen = text

    async def grew() -> bool:
        nonlocal seen, offset
        more, offset, overflow = await client.tail_log(name, offset, 65536)
        assert not overflow
        seen += more
        return seen.count("\n") >= text.count("\n") + 3

    await _until(grew, "new log lines")
    lines = [ln for ln in seen.splitlines() if ln.startswith("tick")][1:]
    numbers = [int(ln.split()[2]) for ln in lines]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))

    # A window smaller than the log starts at a line, not in the middle of one.
    window, _, overflow = await client.tail_last(name, len(text.encode()) // 2)
    assert overflow and window.splitlines()[0].startswith("tick"), window

    # Tiny windows cut through multi-byte characters and still decode.
    for n in range(1, 12):
        small, _, overflow = await client.tail_last(name, n)
        assert overflow and len(small.encode()) <= n + 3


async def test_scale_up_keeps_existing_pids(client: SupervisorClient) -> None:
    before = await _pids(client)
    assert list(before) == ["worker:worker-0", "worker:worker-1"]
    result = await client.scale_group("worker", 3)
    assert result.ok
    assert [r.name for r in result.started] == ["worker:worker-2"] and not result.stopped
    after = await _pids(client)
    assert list(after) == ["worker:worker-0", "worker:worker-1", "worker:worker-2"]
    assert {k: after[k] for k in before} == before
    again = await client.scale_group("worker", 3)
    assert not again.started and not again.stopped and await _pids(client) == after


async def test_scale_down_keeps_remaining_pids(client: SupervisorClient) -> None:
    await client.scale_group("worker", 4)
    before = await _pids(client)
    assert len(before) == 4
    result = await client.scale_group("worker", 1)
    assert result.ok and not result.started
    stopped = [r.name for r in result.stopped]
    assert stopped == ["worker:worker-1", "worker:worker-2", "worker:worker-3"]
    assert await _pids(client) == {"worker:worker-0": before["worker:worker-0"]}
    states = {p.name: p.state for p in await client.group_processes("worker")}
    assert list(states.values()) == ["RUNNING", "STOPPED", "STOPPED", "STOPPED"]

    await client.scale_group("worker", 0)
    assert await _pids(client) == {}


async def test_scale_limits(client: SupervisorClient) -> None:
    with pytest.raises(SupervisorError) as e:
        await client.scale_group("worker", SLOTS + 1)
    assert e.value.code == "SCALE_LIMIT" and "numprocs" in e.value.message
    with pytest.raises(SupervisorError) as e:
        await client.scale_group("nosuchgroup", 1)
    assert e.value.code == "BAD_NAME"


async def test_crashed_active_slot_is_restarted_by_supervisord(client: SupervisorClient) -> None:
    info = await client.process_info("worker:worker-1")
    os.kill(info.pid, signal.SIGKILL)

    async def respawned() -> bool:
        p = await client.process_info("worker:worker-1")
        return p.state == "RUNNING" and p.pid not in (0, info.pid)

    await _until(respawned, "autorestart")


async def test_socket_missing_or_stale() -> None:
    d = Path(tempfile.mkdtemp(prefix="hsv"))
    try:
        missing = SupervisorClient(d / "nope.sock")
        with pytest.raises(SupervisorError) as e:
            await missing.list_processes()
        assert e.value.code == "UNAVAILABLE"
        assert "not running" in e.value.message and str(d / "nope.sock") in e.value.message
        assert "hiscrm up" in e.value.message

        stale = d / "stale.sock"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(stale))
        s.close()
        with pytest.raises(SupervisorError) as e:
            await SupervisorClient(stale).start("worker:worker-0")
        assert e.value.code == "UNAVAILABLE" and "stale socket" in e.value.message
    finally:
        shutil.rmtree(d, ignore_errors=True)
