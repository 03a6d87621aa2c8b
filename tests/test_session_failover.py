"""A failover after the platform rotated the session cookie: real master,
two real workers (Chromium) and the demo platform with rotation on.

The login-time cookie is dead by the time the first worker is killed, so the
second worker can only go on without a new login if the master kept the
rotated session the first worker handed back (without that, it would start
from the login-time session and land in NEEDS_LOGIN).
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

import psutil
import pytest

from hiscrm.v1 import common_pb2
from tests.delivery_helpers import account
from tests.demo_helpers import admin, demo_spec, logged_in, stored_item
from tests.harness import Cluster, wait_for
from worker.browser.crypto import StateCipher, load_key

pytestmark = pytest.mark.timeout(300)

ONLINE = common_pb2.WORKER_STATE_ONLINE
RUNNING = common_pb2.RUN_STATE_RUNNING
COOKIE = "demo_session"
# Old cookie values work this long after a rotation: longer than a failover
# (missing after 3 heartbeats, Chromium start, first page), so that a session
# handed back a moment before the kill still works on the next worker.
GRACE_S = 30


def cookie_held_by_master(cluster: Cluster, account_id: str) -> str:
    """The session cookie inside the session the master would hand out."""
    with sqlite3.connect(f"file:{cluster.home / 'hiscrm.db'}?mode=ro", uri=True) as db:
        (blob,) = db.execute(
            "SELECT session FROM accounts WHERE account_id = ?", (account_id,)
        ).fetchone()
    state = StateCipher(load_key(cluster.home, create=False)).decrypt_state(account_id, blob)
    return next(c["value"] for c in state["cookies"] if c["name"] == COOKIE)


def platform_sessions(base: str, username: str) -> tuple[set[str], set[str]]:
    """(live values, retired values still within their grace period)."""
    listing: dict[str, Any] = admin(base, f"/admin/sessions?username={username}")
    return (
        {s["session_id"] for s in listing["sessions"]},
        {r["session_id"] for r in listing["retired"]},
    )


def test_failover_after_a_cookie_rotation_needs_no_new_login(cluster: Cluster) -> None:
    base = cluster.start_demosite()
    cluster.start_master()
    cluster.start_worker("rot-1")
    cluster.wait_worker_state("rot-1", ONLINE)
    logged_in(cluster, base, "h1", demo_spec(base, "demo1", interval_ms=1000))
    login_cookie = cookie_held_by_master(cluster, "h1")
    seen = {login_cookie}

    admin(base, "/admin/session_rotation", {"every_s": 2, "grace_s": GRACE_S})

    def login_cookie_expired() -> bool:
        live, retired = platform_sessions(base, "demo1")
        seen.update(live | retired)
        return login_cookie not in live | retired

    # The worker's browser gets new values every couple of seconds; the
    # login-time value expires on the platform GRACE_S after the first one.
    wait_for(login_cookie_expired, timeout=GRACE_S + 60, interval=0.5, what="the login cookie")
    before = account(cluster, "h1")
    assert before.config_version == 2 and before.state == RUNNING  # handbacks bump nothing
    held_at_failover = cookie_held_by_master(cluster, "h1")
    seen.add(held_at_failover)
    holder = before.worker_id
    other = "rot-2"
    cluster.start_worker(other)
    cluster.wait_worker_state(other, ONLINE)
    cluster.workers[holder].kill9()

    taken_over = wait_for(
        lambda: (
            (a := account(cluster, "h1")).worker_id == other
            and a.state in (RUNNING, common_pb2.RUN_STATE_NEEDS_LOGIN)
            and a
        ),
        timeout=90,
        what="h1 on the other worker",
    )
    assert taken_over.state == RUNNING, f"the next worker needs a login: {taken_over.state_reason}"
    assert held_at_failover != login_cookie  # it ran on a rotated cookie the first one handed back
    admin(base, "/admin/comments", {"username": "demo1", "text": "after-rotation-failover"})
    stored = wait_for(
        lambda: stored_item(cluster, "h1", "after-rotation-failover"), timeout=60, what="comment"
    )
    assert stored.worker_id == other
    after = account(cluster, "h1")
    assert after.config_version == 2 and after.state == RUNNING  # no new login happened
    # the new worker keeps up with the rotation and hands its sessions back too
    taken_over_with = cookie_held_by_master(cluster, "h1")

    def handed_back_by_the_new_worker() -> bool:
        held = cookie_held_by_master(cluster, "h1")
        live, retired = platform_sessions(base, "demo1")
        seen.update(live | retired | {held})
        return held != taken_over_with and held in live | retired

    wait_for(handed_back_by_the_new_worker, timeout=60, interval=0.5, what="second handback")
    assert account(cluster, "h1").state == RUNNING
    assert "refreshed session handed back" in cluster.workers[other].log_text()

    cluster.stop_all()
    for path in (cluster.home / "logs").glob("*.log"):
        text = path.read_text(errors="replace")
        leaked = [value for value in seen if value in text]
        assert not leaked, f"a session cookie appears in {path.name}"


def _chromium_of(cluster: Cluster, worker_id: str) -> list[psutil.Process]:
    worker = psutil.Process(cluster.workers[worker_id].pid)
    return [p for p in worker.children(recursive=True) if "chrom" in p.name()]


def test_browser_crash_after_a_cookie_rotation_needs_no_new_login(cluster: Cluster) -> None:
    """The relaunched browser must start from the state the last cycle saved,
    not from the config's login-time copy, whose cookie the platform has
    retired by then."""
    base = cluster.start_demosite()
    cluster.start_master()
    cluster.start_worker("crash-w")
    cluster.wait_worker_state("crash-w", ONLINE)
    logged_in(cluster, base, "c1", demo_spec(base, "demo1", interval_ms=1000))
    login_cookie = cookie_held_by_master(cluster, "c1")
    admin(base, "/admin/session_rotation", {"every_s": 1, "grace_s": 4})

    def login_cookie_expired() -> bool:
        live, retired = platform_sessions(base, "demo1")
        return login_cookie not in live | retired

    wait_for(login_cookie_expired, timeout=60, interval=0.5, what="the login cookie retired")
    browsers = _chromium_of(cluster, "crash-w")
    assert browsers
    for proc in browsers:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    wait_for(
        lambda: (
            (new := _chromium_of(cluster, "crash-w"))
            and not {p.pid for p in new} & {p.pid for p in browsers}
        ),
        timeout=60,
        what="a relaunched browser",
    )
    admin(base, "/admin/comments", {"username": "demo1", "text": "after-browser-crash"})
    stored = wait_for(
        lambda: stored_item(cluster, "c1", "after-browser-crash"), timeout=60, what="comment"
    )
    assert stored.worker_id == "crash-w"
    after = account(cluster, "c1")
    assert after.state == RUNNING and after.config_version == 2, after.state_reason
    # the one NEEDS_LOGIN is the one before the login: none after the crash
    assert (
        cluster.master.log_text().count("account c1 on worker crash-w: RUN_STATE_NEEDS_LOGIN") == 1
    )
