"""Issue 17: hosts are kept across master restarts. A real host agent (under
the supervisord `hiscrm join` starts, on loopback with the master) joins;
the master restarts while the agent is stopped -> the host is still listed,
missing since the restart, and a problem; the agent comes back -> online; a
restart with a short deadline -> offline, with when it was last seen; after
`hiscrm leave` and a restart it is offline, "left"; `hiscrm hosts forget`
removes it for good and its credential no longer opens anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import grpc
import pytest

from hiscrm.v1 import common_pb2, control_pb2
from master.host_store import RESTARTED
from tests.harness import BIN, Cluster, cluster, wait_for
from tests.test_hosts_trust import _hello_refused

ONLINE = common_pb2.WORKER_STATE_ONLINE
MISSING = common_pb2.WORKER_STATE_MISSING
OFFLINE = common_pb2.WORKER_STATE_OFFLINE
HOST = "keptb"
LONG_DEADLINE = {"HISCRM_OFFLINE_AFTER_MS": "600000"}  # missing stays missing while we look


def _host_env(c: Cluster, home: Path) -> dict[str, str]:
    """The worker host's own commands: its run directory says where the master is."""
    env = c.env(HISCRM_HOME=str(home))
    for key in ("HISCRM_LISTEN", "HISCRM_MASTER"):
        env.pop(key, None)
    return env


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _agent(home: Path, action: str) -> None:
    """The host agent stopped or started by its own supervisord."""
    _run(
        [str(BIN / "supervisorctl"), "-c", str(home / "supervisord.conf"), action, "hostagent"],
        dict(os.environ),
    )


def _host(c: Cluster) -> control_pb2.Host | None:
    resp = c.call("ListHosts", control_pb2.ListHostsRequest(), timeout=10)
    return next((h for h in resp.hosts if h.host_id == HOST), None)  # type: ignore[attr-defined]


def _in_state(c: Cluster, state: int, what: str) -> control_pb2.Host:
    return wait_for(
        lambda: (h := _host(c)) is not None and h.state == state and h,
        timeout=90,
        what=what,
    )


def _problems(c: Cluster) -> list[str]:
    stats = c.call("GetStats", control_pb2.GetStatsRequest(), timeout=10)
    return list(stats.problems)  # type: ignore[attr-defined]


def _restart_master(c: Cluster, **env: str) -> None:
    assert c.master is not None
    assert c.master.stop(timeout=60) == 0, c.master.log_text()[-3000:]
    c.procs.remove(c.master)
    c.start_master(**env)


def test_hosts_are_kept_across_master_restarts(tmp_path: Path) -> None:
    home = tmp_path / HOST
    with cluster(tmp_path / "main") as c:
        try:
            c.start_master(**LONG_DEADLINE)
            joined = _run(
                [
                    str(BIN / "hiscrm"),
                    "join",
                    c.address,
                    "--enroll-token",
                    c.enrollment_token(),
                    "--workers",
                    "0",
                    "--slots",
                    "1",
                    "--host-id",
                    HOST,
                    "--home",
                    str(home),
                ],
                _host_env(c, home),
            )
            assert f"host {HOST} joined" in joined
            first = _in_state(c, ONLINE, "the host online")
            assert first.slots == 1 and first.resources.memory_total_bytes > 0
            credential = (home / "host-credential").read_text().strip()

            # connected: it cannot be forgotten
            with pytest.raises(grpc.RpcError) as refused:
                c.call("ForgetHost", control_pb2.ForgetHostRequest(host_id=HOST))
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "connected" in refused.value.details()

            # the agent is down while the master restarts: still listed, missing
            _agent(home, "stop")
            _in_state(c, MISSING, "the host missing once its agent stopped")
            _restart_master(c, **LONG_DEADLINE)
            kept = _host(c)
            assert kept is not None, "the host was forgotten by the restart"
            assert kept.state == MISSING and kept.state_reason == RESTARTED
            assert kept.hostname == first.hostname and kept.slots == 1
            assert kept.resources.memory_total_bytes == first.resources.memory_total_bytes
            assert kept.account_cap == first.account_cap
            assert kept.HasField("last_report_at")
            assert f"host {HOST}: missing ({RESTARTED})" in _problems(c)
            listing = _run([str(BIN / "hiscrm"), "hosts"], c.env())
            assert HOST in listing and "missing" in listing and RESTARTED in listing

            # it comes back
            _agent(home, "start")
            _in_state(c, ONLINE, "the host online again")
            wait_for(
                lambda: not any(HOST in p for p in _problems(c)),
                timeout=30,
                what="no problem about the host",
            )

            # down through a restart with the usual short deadline: offline, still listed
            _agent(home, "stop")
            _in_state(c, MISSING, "the host missing again")
            _restart_master(c)
            gone = _in_state(c, OFFLINE, "the host offline after the deadline")
            assert gone.state_reason.startswith("missing for too long (last seen 20")
            assert not any(HOST in p for p in _problems(c))
            _agent(home, "start")
            _in_state(c, ONLINE, "the host online after being offline")

            # it leaves; a restart keeps it offline, "left"
            left = _run([str(BIN / "hiscrm"), "leave", "--home", str(home)], _host_env(c, home))
            assert f"host {HOST} left" in left
            _in_state(c, OFFLINE, "the host offline after leaving")
            _restart_master(c, **LONG_DEADLINE)
            after = _host(c)
            assert after is not None and after.state == OFFLINE
            assert after.state_reason.startswith("left the fleet"), after.state_reason
            assert after.HasField("left_at")
            assert not any(HOST in p for p in _problems(c))

            # only an admin forgets a host, and it is audited
            agent = c.call(
                "CreateToken",
                control_pb2.CreateTokenRequest(name="ana", role=control_pb2.ROLE_AGENT),
            ).secret  # type: ignore[attr-defined]
            with pytest.raises(grpc.RpcError) as denied:
                c.control().ForgetHost(
                    control_pb2.ForgetHostRequest(host_id=HOST),
                    metadata=[("authorization", f"Bearer {agent}")],
                    timeout=10,
                )
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert _host(c) is not None

            # forgotten for good: gone from the list, its credential refused
            forgot = _run([str(BIN / "hiscrm"), "hosts", "forget", HOST], c.env())
            assert f"host {HOST} forgotten" in forgot and "revoked" in forgot
            assert _host(c) is None
            with pytest.raises(grpc.RpcError) as unknown:
                c.call("GetHost", control_pb2.GetHostRequest(host_id=HOST))
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
            err = _hello_refused(c, credential, HOST)
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
            _restart_master(c, **LONG_DEADLINE)
            assert _host(c) is None
            audit = c.call("ListAuditLog", control_pb2.ListAuditLogRequest()).entries  # type: ignore[attr-defined]
            done = {(e.actor, e.action, e.outcome) for e in audit}
            assert ("first-admin", "Control/ForgetHost", "OK") in done
            assert ("ana", "Control/ForgetHost", "PERMISSION_DENIED") in done
        finally:
            _stop_supervisord(home)


def _stop_supervisord(home: Path) -> None:
    """The host's supervisord, if a failure left it running (through its own socket)."""
    if (home / "supervisor.sock").exists():
        subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(home / "supervisord.conf"), "shutdown"],
            capture_output=True,
            timeout=60,
        )
