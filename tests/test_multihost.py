"""The master here, workers on two other 'hosts' (network namespaces joined
by veth pairs), over TLS with client certificates: delivery, and failover
from one host to the other."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import pytest

from hiscrm.v1 import common_pb2
from tests import netns
from tests.delivery_helpers import account, create, items_total, synthetic_spec
from tests.harness import BIN, Proc, wait_for
from worker.browser.crypto import encode_key

WHY_NOT = netns.available()
pytestmark = pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT or "ok")


def test_tls_delivery_and_failover_across_hosts(tmp_path: Path) -> None:
    with netns.hosts(2, subnet_base=213) as (host_a, host_b):
        master_ip = host_a.gateway  # the master listens on our side of host A's link
        cluster, certs = netns.mtls_cluster(tmp_path, master_ip)
        home = cluster.home
        session_key = encode_key(secrets.token_bytes(32))  # shared by every host
        try:
            cluster.start_master(**netns.master_tls(certs))
            workers = {}
            for host, wid in ((host_a, "host-a-w"), (host_b, "host-b-w")):
                worker_home = tmp_path / wid
                worker_home.mkdir()
                env = cluster.env(
                    HISCRM_ENROLL_TOKEN=cluster.enrollment_token(),
                    HISCRM_HOME=str(worker_home),
                    HISCRM_SECRET_KEY=session_key,
                )
                command = [str(BIN / "hiscrm-worker"), "--id", wid, "--platforms", "synthetic"]
                proc = Proc(wid, [*host.prefix(), *command], env, worker_home / "worker.log")
                workers[wid] = proc.start()
                cluster.procs.append(proc)
            for wid in workers:
                got = cluster.wait_worker_state(wid, common_pb2.WORKER_STATE_ONLINE, timeout=60)
                assert got.host  # registered from its own host
            for i in range(4):
                create(cluster, f"mh-{i}", synthetic_spec(rate=50, total=0))
            wait_for(lambda: items_total(cluster) > 200, timeout=60, what="items across hosts")
            on_a = [
                f"mh-{i}" for i in range(4) if account(cluster, f"mh-{i}").worker_id == "host-a-w"
            ]
            assert on_a, "expected accounts on host A"
            workers["host-a-w"].kill9()

            def moved_and_delivering() -> bool:
                if not all(account(cluster, a).worker_id == "host-b-w" for a in on_a):
                    return False
                with sqlite3.connect(home / "hiscrm.db") as db:
                    return all(
                        db.execute(
                            "SELECT 1 FROM items WHERE account_id=? AND worker_id='host-b-w'", (a,)
                        ).fetchone()
                        for a in on_a
                    )

            wait_for(moved_and_delivering, timeout=60, what="failover to host B")
        finally:
            cluster.stop_all()
