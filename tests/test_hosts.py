"""Issue 17: one fleet across three hosts (network namespaces), over mutual
TLS, controlled from the master: a host joins with one command; a worker on
a remote host is restarted, scaled 1->3->1 and its log tailed through
Control; a whole host killed -> its accounts run elsewhere, nothing lost;
the host comes back and rejoins; a host leaves (drained first)."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import pytest

from hiscrm.v1 import common_pb2, control_pb2
from tests import netns
from tests.delivery_helpers import account, create, stored_ids, synthetic_spec
from tests.harness import BIN, Cluster, wait_for

log = logging.getLogger(__name__)
WHY_NOT = netns.available()
pytestmark = pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT or "ok")

ONLINE = common_pb2.WORKER_STATE_ONLINE
PER_ACCOUNT = 400
ACCOUNTS = 6


def _join(
    cluster: Cluster, host: netns.Host, host_id: str, home: Path, certs: dict[str, Path]
) -> None:
    """One command on the new host."""
    env = cluster.env(HISCRM_HOME=str(home))
    for key in ("HISCRM_TLS_CA", "HISCRM_TLS_CERT", "HISCRM_TLS_KEY", "HISCRM_LISTEN"):
        env.pop(key, None)
    env["HISCRM_MASTER"] = cluster.address
    env["HISCRM_HEARTBEAT_MS"] = "500"
    done = subprocess.run(
        [
            *host.prefix(),
            str(BIN / "hiscrm"),
            "join",
            cluster.address,
            "--enroll-token",
            cluster.enrollment_token(),
            "--ca",
            str(certs["ca"]),
            "--cert",
            str(certs["client_cert"]),
            "--key",
            str(certs["client_key"]),
            "--workers",
            "1",
            "--slots",
            "3",
            "--host-id",
            host_id,
            "--platforms",
            "synthetic",
            "--home",
            str(home),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"host {host_id} joined" in done.stdout


def _hiscrm(cluster: Cluster, *args: str) -> str:
    """The operator program on the main host (its token, its TLS client)."""
    done = subprocess.run(
        [str(BIN / "hiscrm"), *args], env=cluster.env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _hosts(cluster: Cluster) -> dict[str, control_pb2.Host]:
    resp = cluster.call("ListHosts", control_pb2.ListHostsRequest(), timeout=10)
    return {h.host_id: h for h in resp.hosts}  # type: ignore[attr-defined]


def _online(cluster: Cluster, *worker_ids: str) -> bool:
    workers = cluster.workers_by_id()
    return all(w in workers and workers[w].state == ONLINE for w in worker_ids)


def test_three_hosts_joined_controlled_failed_over_and_back(tmp_path: Path) -> None:
    with netns.hosts(3, subnet_base=217) as hosts:
        master_ip = hosts[0].gateway
        cluster, certs = netns.mtls_cluster(tmp_path, master_ip)
        names = ["hostb", "hostc", "hostd"]
        homes = {n: tmp_path / n for n in names}
        try:
            cluster.start_master(**netns.master_tls(certs))
            for host, name in zip(hosts, names, strict=True):
                _join(cluster, host, name, homes[name], certs)
            workers = [f"{n}-worker-0" for n in names]
            wait_for(lambda: _online(cluster, *workers), timeout=90, what="a worker per host")
            listed = wait_for(
                lambda: (h := _hosts(cluster)) and all(h[n].state == ONLINE for n in names) and h,
                timeout=30,
                what="three hosts online",
            )
            for name in names:
                assert listed[name].slots == 3
                assert listed[name].resources.memory_total_bytes > 0
                assert listed[name].account_cap > 0
            for i in range(ACCOUNTS):
                create(cluster, f"mh-{i}", synthetic_spec(rate=20, total=PER_ACCOUNT))

            # restart a remote worker through Control
            before = cluster.workers_by_id()["hostb-worker-0"]
            resp = cluster.call(
                "RestartWorker", control_pb2.WorkerTargets(worker_ids=["hostb-worker-0"]), 120
            )
            assert [(r.worker_id, r.ok) for r in resp.results] == [("hostb-worker-0", True)]
            wait_for(
                lambda: (
                    (w := cluster.workers_by_id()["hostb-worker-0"]).state == ONLINE
                    and w.boot_id != before.boot_id
                ),
                timeout=60,
                what="hostb-worker-0 back after its restart",
            )
            wait_for(
                lambda: (
                    cluster.workers_by_id()["hostb-worker-0"].process_state
                    == common_pb2.PROCESS_STATE_RUNNING
                ),
                timeout=30,
                what="its host's supervisord state in ListWorkers",
            )

            # scale host b 1 -> 3 -> 1
            cluster.call(
                "ScaleWorkers", control_pb2.ScaleWorkersRequest(count=3, host="hostb"), 120
            )
            extra = ["hostb-worker-1", "hostb-worker-2"]
            wait_for(lambda: _online(cluster, *extra), timeout=90, what="host b at 3 workers")
            cluster.call(
                "ScaleWorkers", control_pb2.ScaleWorkersRequest(count=1, host="hostb"), 120
            )
            wait_for(
                lambda: all(cluster.workers_by_id()[w].state != ONLINE for w in extra),
                timeout=90,
                what="host b back at 1 worker",
            )
            running = {
                p.worker_id
                for p in _hosts(cluster)["hostb"].processes
                if p.state == common_pb2.PROCESS_STATE_RUNNING
            }
            assert running == {"hostb-worker-0"}

            # its log, from the master
            chunks = cluster.control().TailWorkerLog(
                control_pb2.TailWorkerLogRequest(worker_id="hostb-worker-0", max_bytes=8192),
                metadata=cluster.metadata(),
                timeout=30,
            )
            text = "".join(c.text for c in chunks)
            assert "hostb-worker-0" in text and "connected to" in text

            # a whole host dies
            wait_for(
                lambda: any(
                    account(cluster, f"mh-{i}").worker_id == "hostc-worker-0"
                    for i in range(ACCOUNTS)
                ),
                timeout=60,
                what="accounts on host c",
            )
            on_c = [
                f"mh-{i}"
                for i in range(ACCOUNTS)
                if account(cluster, f"mh-{i}").worker_id == "hostc-worker-0"
            ]
            killed_at = time.monotonic()
            assert netns.kill_all(hosts[1]) > 0

            def moved() -> bool:
                rows = [account(cluster, a) for a in on_c]
                return all(
                    r.worker_id not in ("", "hostc-worker-0")
                    and r.state == common_pb2.RUN_STATE_RUNNING
                    for r in rows
                )

            wait_for(moved, timeout=60, interval=0.05, what="host c's accounts running elsewhere")
            failover_s = time.monotonic() - killed_at
            log.warning(
                "host failover: %d accounts running elsewhere %.2fs after the kill",
                len(on_c),
                failover_s,
            )
            (tmp_path.parent / "host_failover_seconds").write_text(f"{failover_s:.2f}\n")
            assert _hosts(cluster)["hostc"].state == common_pb2.WORKER_STATE_MISSING
            problems = cluster.call("GetStats", control_pb2.GetStatsRequest()).problems  # type: ignore[attr-defined]
            assert any(p.startswith("host hostc: missing") for p in problems), problems
            spread = {account(cluster, a).worker_id for a in on_c}
            assert spread <= {"hostb-worker-0", "hostd-worker-0"}

            # it comes back (supervisord again, as after a reboot) and rejoins
            env = cluster.env(HISCRM_HOME=str(homes["hostc"]))
            for key in ("HISCRM_TLS_CA", "HISCRM_TLS_CERT", "HISCRM_TLS_KEY", "HISCRM_MASTER"):
                env.pop(key, None)
            subprocess.run(
                [
                    *hosts[1].prefix(),
                    str(BIN / "supervisord"),
                    "-c",
                    str(homes["hostc"] / "supervisord.conf"),
                ],
                env=env,
                check=True,
                timeout=60,
            )
            wait_for(
                lambda: (
                    _hosts(cluster)["hostc"].state == ONLINE and _online(cluster, "hostc-worker-0")
                ),
                timeout=90,
                what="host c rejoined",
            )

            # nothing lost: every item of every account stored exactly once
            expected = {
                (f"mh-{a}", f"mh-{a}-{n}") for a in range(ACCOUNTS) for n in range(PER_ACCOUNT)
            }
            wait_for(
                lambda: set(stored_ids(cluster)) >= expected,
                timeout=180,
                interval=0.5,
                what=f"all {len(expected)} items",
            )
            rows = stored_ids(cluster)
            assert len(rows) == len(expected) and set(rows) == expected

            # the operator's commands on the main host: list, and spread over the hosts
            listing = _hiscrm(cluster, "hosts")
            for name in names:
                assert f"{name} " in listing and "online" in listing
            _hiscrm(cluster, "scale", "4", "--spread")

            def running_total() -> int:
                return sum(
                    p.state == common_pb2.PROCESS_STATE_RUNNING
                    for h in _hosts(cluster).values()
                    for p in h.processes
                )

            wait_for(lambda: running_total() == 4, timeout=90, what="4 workers over the hosts")
            _hiscrm(cluster, "scale", "3", "--spread")
            wait_for(lambda: running_total() == 3, timeout=90, what="3 workers over the hosts")

            # host d leaves: drained first, then stopped
            env = cluster.env(HISCRM_HOME=str(homes["hostd"]))
            for key in ("HISCRM_TLS_CA", "HISCRM_TLS_CERT", "HISCRM_TLS_KEY", "HISCRM_MASTER"):
                env.pop(key, None)
            left = subprocess.run(
                [*hosts[2].prefix(), str(BIN / "hiscrm"), "leave", "--home", str(homes["hostd"])],
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert left.returncode == 0, left.stdout + left.stderr
            assert "host hostd left" in left.stdout
            wait_for(
                lambda: _hosts(cluster)["hostd"].state == common_pb2.WORKER_STATE_OFFLINE,
                timeout=60,
                what="host d offline after leaving",
            )
            assert all(
                account(cluster, f"mh-{i}").worker_id != "hostd-worker-0" for i in range(ACCOUNTS)
            )
        finally:
            for host in hosts:
                netns.kill_all(host)
            cluster.stop_all()


def test_a_silent_host_goes_missing_and_its_accounts_move(tmp_path: Path) -> None:
    """A host cut off without a word (no RST, no FIN): the master's host
    sweep notices the silence, the host and its workers are missing, the
    accounts move; when the link is back the host is online again."""
    with netns.hosts(2, subnet_base=219) as hosts:
        cluster, certs = netns.mtls_cluster(tmp_path, hosts[0].gateway)
        names = ["hoste", "hostf"]
        try:
            cluster.start_master(**netns.master_tls(certs))
            for host, name in zip(hosts, names, strict=True):
                _join(cluster, host, name, tmp_path / name, certs)
            wait_for(
                lambda: _online(cluster, "hoste-worker-0", "hostf-worker-0"),
                timeout=90,
                what="a worker per host",
            )
            for i in range(4):
                create(cluster, f"sh-{i}", synthetic_spec(rate=20, total=0))

            def on_f() -> list[str]:
                return [
                    f"sh-{i}"
                    for i in range(4)
                    if account(cluster, f"sh-{i}").worker_id == "hostf-worker-0"
                ]

            moved_off = wait_for(on_f, timeout=60, what="accounts on host f")
            cut_at = time.monotonic()
            netns.set_link(hosts[1], up=False)

            def running_on_e() -> bool:
                return all(
                    (a := account(cluster, name)).worker_id == "hoste-worker-0"
                    and a.state == common_pb2.RUN_STATE_RUNNING
                    for name in moved_off
                )

            wait_for(running_on_e, timeout=60, interval=0.05, what="host f's accounts on host e")
            silent_s = time.monotonic() - cut_at
            log.warning(
                "silent host: %d accounts running elsewhere %.2fs after its link was cut "
                "(heartbeat 500 ms, missing after 2.5 beats)",
                len(moved_off),
                silent_s,
            )
            missing = wait_for(
                lambda: (
                    (h := _hosts(cluster)["hostf"]).state == common_pb2.WORKER_STATE_MISSING and h
                ),
                timeout=30,
                what="host f missing",
            )
            assert missing.state_reason.startswith("no report for")
            assert cluster.workers_by_id()["hostf-worker-0"].state != ONLINE

            netns.set_link(hosts[1], up=True)
            wait_for(
                lambda: (
                    _hosts(cluster)["hostf"].state == ONLINE and _online(cluster, "hostf-worker-0")
                ),
                timeout=90,
                what="host f back",
            )
        finally:
            for host in hosts:
                netns.kill_all(host)
            cluster.stop_all()
