"""A worker whose disk fills up: a real full disk (a small tmpfs under the
worker's data directory, filled by the test), not a fake outbox.

Delivery keeps retrying instead of ending; the worker's error shows in
ListWorkers and GetStats.problems and in both logs; when the disk frees,
the items flow again on the same stream (no reconnect): 0 lost, 0 duplicated.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hiscrm.v1 import common_pb2, control_pb2
from tests.delivery_helpers import create, stored_ids, synthetic_spec
from tests.harness import Cluster, wait_for


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path) -> Path:
    """Take every free byte of the file system under path."""
    filler = path / "filler"
    chunk = b"\0" * (64 * 1024)
    with filler.open("wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def in_flight(data: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{data / 'outbox.db'}?mode=ro", uri=True)) as db:
        return db.execute("SELECT COUNT(*) FROM items WHERE batch_seq IS NOT NULL").fetchone()[0]


def test_a_full_disk_stalls_delivery_visibly_and_it_resumes_by_itself(cluster: Cluster) -> None:
    total = 3000
    account_id = "df-acc"
    cluster.start_master()
    data = cluster.home / "workers" / "df-1"
    with small_disk(data, "8m"):
        worker = cluster.start_worker("df-1")
        try:
            cluster.wait_worker_state("df-1", common_pb2.WORKER_STATE_ONLINE)
            create(cluster, account_id, synthetic_spec(rate=300, total=total, content_bytes=500))
            wait_for(lambda: len(stored_ids(cluster)) >= 300, timeout=60, what="first items")
            connections = cluster.workers_by_id()["df-1"].connections
            # Batches in flight when the disk fills: the master pauses, so
            # the worker's next outbox write is the Ack of what it sent.
            master = cluster.master
            assert master is not None
            os.killpg(master.pid, signal.SIGSTOP)
            try:
                wait_for(lambda: in_flight(data) > 0, what="batches sent and not acked")
                # the WAL gives back its space now, so that the worker's next
                # writes must take new blocks, which the filler then holds
                with sqlite3.connect(data / "outbox.db") as db:
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                filler = fill(data)
            finally:
                os.killpg(master.pid, signal.SIGCONT)

            def failing() -> control_pb2.Worker | None:
                w = cluster.workers_by_id()["df-1"]
                return w if w.delivery_error else None

            shown = wait_for(failing, timeout=90, what="the worker's delivery error")
            assert "full" in shown.delivery_error.lower(), shown.delivery_error
            stats = cluster.call("GetStats", control_pb2.GetStatsRequest())
            assert any("df-1" in p and "delivery" in p for p in stats.problems), stats.problems
            stalled = len(stored_ids(cluster))
            assert stalled < total

            filler.unlink()  # the disk frees
            wait_for(
                lambda: len(stored_ids(cluster)) == total, timeout=120, what=f"all {total} items"
            )
            wait_for(lambda: not cluster.workers_by_id()["df-1"].delivery_error, what="recovery")
            after = cluster.workers_by_id()["df-1"]
            assert after.connections == connections  # the same stream: no reconnect needed
            assert after.delivery_errors > 0  # counted
            rows = stored_ids(cluster)
            assert len(rows) == total
            assert set(rows) == {(account_id, f"{account_id}-{n}") for n in range(total)}
            assert not (data / "quarantine").exists()
            stats = cluster.call("GetStats", control_pb2.GetStatsRequest())
            assert list(stats.problems) == []
            assert "delivery failing" in cluster.master.log_text()  # type: ignore[union-attr]
            wlog = worker.log_text()
            assert "retrying until it works" in wlog and "outbox works again" in wlog
        finally:
            worker.stop()
