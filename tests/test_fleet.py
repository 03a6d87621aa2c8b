"""The main command: supervisord runs the master, the workers and the demo
platform from etc/supervisord.conf; scaling; nothing left after `down`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hiscrm.v1 import common_pb2, control_pb2
from tests.certs import make_certs
from tests.harness import Cluster, free_port, wait_for

BIN = Path(sys.executable).parent


def hiscrm(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = cluster.env(HISCRM_DEMOSITE_PORT=str(free_port()))
    return subprocess.run(
        [str(BIN / "hiscrm"), *args], env=env, capture_output=True, text=True, timeout=180
    )


def fleet_processes(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            if (proc.info["environ"] or {}).get("HISCRM_HOME") == str(home):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_up_scale_kill_and_down(cluster: Cluster) -> None:
    try:  # `down` even when `up` fails or times out: nothing of the fleet outlives the test
        up = hiscrm(cluster, "up", "--no-follow", "--workers", "2")
        assert up.returncode == 0, up.stderr + up.stdout
        for wid in ("worker-0", "worker-1"):
            cluster.wait_worker_state(wid, common_pb2.WORKER_STATE_ONLINE, timeout=60)

        status = subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(cluster.home / "supervisord.conf"), "status"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "master" in status.stdout and "RUNNING" in status.stdout

        # supervisord restarts a worker killed with -9, under the same id
        old_pid = cluster.workers_by_id()["worker-0"].pid
        os.kill(old_pid, signal.SIGKILL)
        wait_for(
            lambda: (
                (w := cluster.workers_by_id()["worker-0"]).pid != old_pid
                and w.state == common_pb2.WORKER_STATE_ONLINE
            ),
            timeout=60,
            what="worker-0 restarted by supervisord",
        )

        # and the accounts run again, without a new login
        def demo_accounts_running() -> bool:
            accounts = cluster.call("ListAccounts", control_pb2.ListAccountsRequest()).accounts
            return len(accounts) == 3 and all(
                a.state == common_pb2.RUN_STATE_RUNNING and a.config_version == 2 for a in accounts
            )

        wait_for(demo_accounts_running, timeout=90, what="demo accounts running again")

        pids = {w: cluster.workers_by_id()[w].pid for w in ("worker-0", "worker-1")}
        scaled = hiscrm(cluster, "scale", "3")
        assert scaled.returncode == 0, scaled.stderr
        cluster.wait_worker_state("worker-2", common_pb2.WORKER_STATE_ONLINE, timeout=60)
        assert {w: cluster.workers_by_id()[w].pid for w in pids} == pids  # others untouched

        # Control acts on processes through supervisord
        restarted = cluster.call(
            "RestartWorker", control_pb2.WorkerTargets(worker_ids=["worker-1"])
        )
        assert [(r.worker_id, r.ok) for r in restarted.results] == [("worker-1", True)]
        wait_for(
            lambda: (
                (w := cluster.workers_by_id()["worker-1"]).pid != pids["worker-1"]
                and w.state == common_pb2.WORKER_STATE_ONLINE
            ),
            timeout=60,
            what="worker-1 restarted through Control",
        )
        listed = cluster.workers_by_id()
        assert listed["worker-1"].process_state == common_pb2.PROCESS_STATE_RUNNING

        def tail() -> str:
            chunks = cluster.control().TailWorkerLog(
                control_pb2.TailWorkerLogRequest(worker_id="worker-1", max_bytes=4096),
                metadata=cluster.metadata(),
                timeout=30,
            )
            return "".join(c.text for c in chunks)

        # logged once the master's welcome arrived, after it showed the worker
        # online, then copied to the log by supervisord: waited for
        wait_for(lambda: "worker worker-1: connected to" in tail(), what="the log's tail")
        stopped = cluster.call("StopWorker", control_pb2.WorkerTargets(worker_ids=["worker-2"]))
        assert stopped.results[0].ok
        cluster.wait_worker_state("worker-2", common_pb2.WORKER_STATE_OFFLINE, timeout=60)
        bad = cluster.call("StartWorker", control_pb2.WorkerTargets(worker_ids=["nope"]))
        assert not bad.results[0].ok and bad.results[0].message

        shown = hiscrm(cluster, "status")
        assert shown.returncode == 0 and "worker-2" in shown.stdout and "STOPPED" in shown.stdout
        # the stopped worker is neither online nor missing from the count
        assert "workers 2/2 online (1 stopped)" in shown.stdout, shown.stdout
    finally:
        down = hiscrm(cluster, "down")
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not fleet_processes(cluster.home), timeout=60, what="no processes left")


def test_headless_demo_runs_and_stops(cluster: Cluster) -> None:
    try:
        demo = hiscrm(cluster, "demo", "--seconds", "20", "--workers", "2")
    finally:  # a demo that failed or timed out leaves no fleet behind (else a no-op)
        if fleet_processes(cluster.home):
            hiscrm(cluster, "down")
    assert demo.returncode == 0, demo.stderr[-3000:] + demo.stdout[-3000:]
    assert "logged in as" in demo.stdout
    summary = [line for line in demo.stdout.splitlines() if line.startswith("demo: ")]
    assert summary and "items arrived" in summary[0]
    assert int(summary[0].split()[1]) > 0
    assert "demo: stopped" in demo.stdout
    wait_for(lambda: not fleet_processes(cluster.home), timeout=60, what="no processes left")
    # Chromium has neither the run directory on its command line nor HISCRM_*
    # in its environment: the workers' logs name its processes (their groups)
    browsers = launched_browsers(cluster.home)
    assert len(browsers) >= 2, browsers  # one per worker
    wait_for(lambda: not chromium_of(browsers), timeout=60, what="no Chromium left")


def launched_browsers(home: Path) -> set[int]:
    found: set[int] = set()
    for log in (home / "logs").glob("worker-*.log*"):
        text = log.read_text(errors="replace")
        found.update(int(pid) for pid in re.findall(r"Chromium \S+ launched \(pid (\d+),", text))
    return found


def chromium_of(groups: set[int]) -> list[psutil.Process]:
    """Living Chromium processes of those browsers (each leads its process group)."""
    left = []
    for proc in psutil.process_iter(["name", "status"]):
        try:
            if (
                "chrom" in (proc.info["name"] or "")
                and proc.info["status"] != psutil.STATUS_ZOMBIE
                and (proc.pid in groups or os.getpgid(proc.pid) in groups)
            ):
                left.append(proc)
        except (psutil.Error, OSError):
            continue
    return left


def test_supervisord_reload_brings_back_the_chosen_worker_count(cluster: Cluster) -> None:
    """Workers are autostart=false: after a reload (as after a boot) the master
    applies the saved count, without `hiscrm up`."""
    try:  # `down` even when `up` fails or times out: nothing of the fleet outlives the test
        up = hiscrm(cluster, "up", "--no-follow", "--no-demo", "--workers", "3")
        assert up.returncode == 0, up.stderr + up.stdout
        ids = ("worker-0", "worker-1", "worker-2")
        for wid in ids:
            cluster.wait_worker_state(wid, common_pb2.WORKER_STATE_ONLINE, timeout=60)
        before = {w: cluster.workers_by_id()[w].pid for w in ids}
        reload = subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(cluster.home / "supervisord.conf"), "reload"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert reload.returncode == 0, reload.stderr + reload.stdout

        def all_back() -> bool:
            workers = cluster.workers_by_id()
            return all(
                workers[w].pid not in (0, before[w])
                and workers[w].state == common_pb2.WORKER_STATE_ONLINE
                for w in ids
            )

        wait_for(all_back, timeout=120, what="three workers back after the reload")
        assert "worker-3" not in cluster.workers_by_id()
    finally:
        down = hiscrm(cluster, "down")
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not fleet_processes(cluster.home), timeout=60, what="no processes left")


def test_up_with_tls_and_client_certificates(cluster: Cluster, tmp_path: Path) -> None:
    """supervisord gives the master and the workers one environment: the
    workers (and `hiscrm` itself) present HISCRM_TLS_CERT as their client
    certificate, the master serves HISCRM_TLS_SERVER_CERT."""
    certs = make_certs(tmp_path / "certs", ["127.0.0.1"])
    cluster.extra_env.update(
        HISCRM_TLS_CA=str(certs["ca"]),
        HISCRM_TLS_CERT=str(certs["client_cert"]),
        HISCRM_TLS_KEY=str(certs["client_key"]),
        HISCRM_TLS_SERVER_CERT=str(certs["server_cert"]),
        HISCRM_TLS_SERVER_KEY=str(certs["server_key"]),
    )
    try:  # `down` even when `up` fails or times out: nothing of the fleet outlives the test
        up = hiscrm(cluster, "up", "--no-follow", "--no-demo", "--workers", "1")
        assert up.returncode == 0, up.stderr + up.stdout
        assert "hiscrm is up" in up.stdout
        cluster.wait_worker_state("worker-0", common_pb2.WORKER_STATE_ONLINE, timeout=60)
        assert "TLS" in (cluster.home / "logs" / "master.log").read_text()
        # and plaintext is refused: the master really serves TLS only
        with grpc.insecure_channel(cluster.address) as plain:
            with pytest.raises(grpc.RpcError):
                health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=5)
        shown = hiscrm(cluster, "status")
        assert shown.returncode == 0, shown.stderr
        assert "worker-0" in shown.stdout
    finally:
        down = hiscrm(cluster, "down")
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not fleet_processes(cluster.home), timeout=60, what="no processes left")


def test_stopping_workers_get_no_accounts(cluster: Cluster) -> None:
    """A worker that stops says goodbye before its browser closes, and the
    master places nothing on a worker that is going away: one graceful stop
    moves its accounts to the other worker, and `hiscrm down` (every worker
    stopping at once) sends no account into a closing browser pool."""
    try:  # `down` even when `up` fails or times out: nothing of the fleet outlives the test
        up = hiscrm(cluster, "up", "--no-follow", "--workers", "2")
        assert up.returncode == 0, up.stderr + up.stdout
        for wid in ("worker-0", "worker-1"):
            cluster.wait_worker_state(wid, common_pb2.WORKER_STATE_ONLINE, timeout=60)

        def accounts() -> list[control_pb2.Account]:
            return list(cluster.call("ListAccounts", control_pb2.ListAccountsRequest()).accounts)

        def running_on(workers: set[str]) -> bool:
            listed = accounts()
            return len(listed) == 3 and all(
                a.state == common_pb2.RUN_STATE_RUNNING and a.worker_id in workers for a in listed
            )

        wait_for(lambda: running_on({"worker-0", "worker-1"}), timeout=90, what="demo running")
        stopping = accounts()[0].worker_id
        other = ({"worker-0", "worker-1"} - {stopping}).pop()
        stopped = cluster.call("StopWorker", control_pb2.WorkerTargets(worker_ids=[stopping]))
        assert stopped.results[0].ok
        cluster.wait_worker_state(stopping, common_pb2.WORKER_STATE_OFFLINE, timeout=60)
        wait_for(lambda: running_on({other}), timeout=90, what=f"all accounts on {other}")
        started = cluster.call("StartWorker", control_pb2.WorkerTargets(worker_ids=[stopping]))
        assert started.results[0].ok
        cluster.wait_worker_state(stopping, common_pb2.WORKER_STATE_ONLINE, timeout=60)
    finally:
        down = hiscrm(cluster, "down")
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not fleet_processes(cluster.home), timeout=60, what="no processes left")
    logs = {p.name: p.read_text(errors="replace") for p in (cluster.home / "logs").glob("*.log")}
    worker_logs = "".join(text for name, text in logs.items() if name.startswith("worker"))
    assert worker_logs.count("worker stopping") >= 3  # three stops happened
    assert not [n for n, text in logs.items() if "browser pool is closed" in text]
    # every stop reached the master as a goodbye, which is what keeps the
    # master from placing accounts on a worker that is stopping
    assert logs["master.log"].count("said goodbye") >= 3
