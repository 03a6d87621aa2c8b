"""Real Chromium against the demo platform: QR login (with refresh and SMS
verification), live delivery, cycles without page reloads, session expiry,
captcha and layout changes, and failover without a new login."""

from __future__ import annotations

import asyncio
import re
import time

from hiscrm.v1 import common_pb2, control_pb2
from tests.delivery_helpers import account, create
from tests.demo_helpers import admin, demo_spec, logged_in, qr_login, stored_item
from tests.harness import Cluster, wait_for

ONLINE = common_pb2.WORKER_STATE_ONLINE
ME = "/api/creator/me"
RUNNING = common_pb2.RUN_STATE_RUNNING


def counters(base: str, username: str) -> dict[str, int]:
    """What the user's browsers asked the platform for (page loads, live
    channel connects, API calls by path)."""
    return dict(admin(base, f"/admin/users/{username}")["counters"])


def _kinds(updates: list[control_pb2.LoginUpdate]) -> list[str]:
    return [u.WhichOneof("event") or "" for u in updates]


def test_three_accounts_log_in_and_deliver_live(cluster: Cluster) -> None:
    base = cluster.start_demosite("--qr-ttl", "4", "--sms-users", "demo3")
    cluster.start_master()
    cluster.start_worker("demo-w")
    cluster.wait_worker_state("demo-w", ONLINE)
    for n in (1, 2, 3):
        create(cluster, f"d{n}", demo_spec(base, f"demo{n}", interval_ms=3000))
    wait_for(
        lambda: all(
            account(cluster, f"d{n}").state == common_pb2.RUN_STATE_NEEDS_LOGIN for n in (1, 2, 3)
        ),
        timeout=60,
        what="accounts waiting for a login",
    )

    plain = asyncio.run(qr_login(cluster, base, "d1", "demo1"))
    assert _kinds(plain)[0] == "qr" and _kinds(plain)[-1] == "success"
    assert plain[0].qr.png.startswith(b"\x89PNG")
    assert plain[-1].success.nickname  # user info read from the platform

    refreshed = asyncio.run(qr_login(cluster, base, "d2", "demo2", scan_on_qr=1))
    qrs = [u.qr for u in refreshed if u.WhichOneof("event") == "qr"]
    assert len(qrs) >= 2 and qrs[0].content != qrs[1].content  # expired QR replaced
    assert _kinds(refreshed)[-1] == "success"

    verified = asyncio.run(qr_login(cluster, base, "d3", "demo3"))
    assert "verification_required" in _kinds(verified) and _kinds(verified)[-1] == "success"

    for n in (1, 2, 3):
        wait_for(lambda n=n: account(cluster, f"d{n}").state == RUNNING, timeout=60, what=f"d{n}")
        got = account(cluster, f"d{n}")
        assert got.has_session and got.user.platform_user_id and got.acked_config_version == 2

    # the seeded history arrives (paging past the first page of each list)
    wait_for(
        lambda: (
            len(
                cluster.call(
                    "ListItems", control_pb2.ListItemsRequest(account_ids=["d1"], page_size=1000)
                ).items
            )
            >= 30
        ),
        timeout=60,
        what="d1's history",
    )

    sent = time.monotonic()
    admin(
        base,
        "/admin/messages",
        {"username": "demo1", "from_name": "顾客甲", "text": "在吗 live-dm-1"},
    )
    wait_for(
        lambda: stored_item(cluster, "d1", "live-dm-1"), timeout=30, interval=0.05, what="live DM"
    )
    dm_latency = time.monotonic() - sent
    admin(base, "/admin/comments", {"username": "demo2", "text": "好看 new-comment-1"})
    sent = time.monotonic()
    wait_for(lambda: stored_item(cluster, "d2", "new-comment-1"), timeout=60, what="comment")
    comment_latency = time.monotonic() - sent
    print(f"DM {dm_latency:.2f}s, comment {comment_latency:.2f}s")  # noqa: T201
    item = stored_item(cluster, "d1", "live-dm-1")
    assert item is not None and item.item.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE
    assert item.item.author_name == "顾客甲"


def test_expired_session_needs_login_without_busy_retry(cluster: Cluster) -> None:
    base = cluster.start_demosite()
    cluster.start_master()
    worker = cluster.start_worker("exp-w")
    cluster.wait_worker_state("exp-w", ONLINE)
    logged_in(cluster, base, "e1", demo_spec(base, "demo1", interval_ms=1000))
    loads = counters(base, "demo1")["creator_page"]
    admin(base, "/admin/expire_session", {"username": "demo1"})
    wait_for(
        lambda: account(cluster, "e1").state == common_pb2.RUN_STATE_NEEDS_LOGIN,
        timeout=60,
        what="needs_login after expiry",
    )
    got = account(cluster, "e1")
    assert got.error_kind == common_pb2.ERROR_KIND_AUTH_EXPIRED
    assert counters(base, "demo1")["creator_page"] == loads  # seen without a page load
    time.sleep(5)  # five monitor intervals: a retry loop would show here
    expiries = re.findall(r"e1 on worker exp-w: ERROR_KIND_AUTH_EXPIRED", worker.log_text())
    assert len(expiries) == 1, f"retried {len(expiries)} times"
    assert worker.alive()


def test_monitor_keeps_the_page_open_and_still_sees_captcha_and_layout(
    cluster: Cluster,
) -> None:
    """Cycles read through the open creator page: no reload, one live
    channel, the session proven every cycle; a captcha and a changed layout
    still become the account's state at the next cycle, without a reload."""
    base = cluster.start_demosite()
    cluster.start_master()
    cluster.start_worker("nr-w")
    cluster.wait_worker_state("nr-w", ONLINE)
    users = {"n1": "demo1", "n2": "demo2"}
    for account_id, username in users.items():
        create(cluster, account_id, demo_spec(base, username, interval_ms=1000))
    for account_id, username in users.items():
        wait_for(
            lambda a=account_id: account(cluster, a).state == common_pb2.RUN_STATE_NEEDS_LOGIN,
            timeout=60,
            what=f"{account_id} waiting for a login",
        )
        assert _kinds(asyncio.run(qr_login(cluster, base, account_id, username)))[-1] == "success"
    for account_id in users:
        wait_for(lambda a=account_id: account(cluster, a).state == RUNNING, timeout=60)
    before = {u: counters(base, u) for u in users.values()}
    cycles = 5
    for username in users.values():
        wait_for(
            lambda u=username: counters(base, u)[ME] - before[u][ME] >= cycles,
            timeout=60,
            what=f"{cycles} cycles of {username}",
        )
    for username in users.values():
        now = counters(base, username)
        assert now["creator_page"] == before[username]["creator_page"], now  # never reloaded
        assert now["live_connect"] == before[username]["live_connect"], now  # one live channel

    admin(base, "/admin/captcha", {"username": "demo1", "on": True})
    admin(base, "/admin/layout", {"username": "demo2", "variant": "v2"})
    wait_for(
        lambda: account(cluster, "n1").state == common_pb2.RUN_STATE_CAPTCHA,
        timeout=30,
        what="n1 captcha",
    )
    assert account(cluster, "n1").error_kind == common_pb2.ERROR_KIND_VERIFICATION
    wait_for(
        lambda: account(cluster, "n2").error_kind == common_pb2.ERROR_KIND_LAYOUT_CHANGED,
        timeout=30,
        what="n2 layout changed",
    )
    assert account(cluster, "n2").state == common_pb2.RUN_STATE_ERROR
    for username in users.values():
        assert counters(base, username)["creator_page"] == before[username]["creator_page"]


def test_failover_keeps_the_session(cluster: Cluster) -> None:
    base = cluster.start_demosite()
    cluster.start_master()
    first = cluster.start_worker("fo-1")
    cluster.wait_worker_state("fo-1", ONLINE)
    logged_in(cluster, base, "f1", demo_spec(base, "demo1", interval_ms=1500))
    cluster.start_worker("fo-2")
    cluster.wait_worker_state("fo-2", ONLINE)
    holder = account(cluster, "f1").worker_id
    cluster.workers[holder].kill9()
    other = "fo-2" if holder == "fo-1" else "fo-1"
    if other == "fo-1" and not first.alive():
        cluster.start_worker("fo-1")
    wait_for(
        lambda: (a := account(cluster, "f1")).worker_id == other and a.state == RUNNING,
        timeout=60,
        what="f1 running on the other worker",
    )
    admin(base, "/admin/comments", {"username": "demo1", "text": "after-failover-1"})
    wait_for(lambda: stored_item(cluster, "f1", "after-failover-1"), timeout=60, what="comment")
    assert stored_item(cluster, "f1", "after-failover-1").worker_id == other  # type: ignore[union-attr]
    assert account(cluster, "f1").config_version == 2  # no new login happened


def test_reply_reaches_the_platform_once(cluster: Cluster) -> None:
    base = cluster.start_demosite()
    cluster.start_master()
    cluster.start_worker("rp-w")
    cluster.wait_worker_state("rp-w", ONLINE)
    logged_in(cluster, base, "r1", demo_spec(base, "demo1", interval_ms=2000))
    admin(base, "/admin/comments", {"username": "demo1", "text": "请问有货吗 ask-1"})
    admin(base, "/admin/messages", {"username": "demo1", "from_name": "乙", "text": "dm-ask-1"})
    comment = wait_for(lambda: stored_item(cluster, "r1", "ask-1"), timeout=60, what="comment")
    dm = wait_for(lambda: stored_item(cluster, "r1", "dm-ask-1"), timeout=60, what="dm")
    for request_id, item, text in (("rq-1", comment, "有的 reply-c"), ("rq-2", dm, "你好 reply-d")):
        req = control_pb2.SendReplyRequest(request_id=request_id, item_id=item.id, text=text)
        first = cluster.call("SendReply", req, timeout=90)
        assert first.ok, first.error
        again = cluster.call("SendReply", req, timeout=90)  # same request id: no second post
        assert again.ok and again.platform_item_id == first.platform_item_id
    replies = admin(base, "/admin/replies?username=demo1")["replies"]
    texts = sorted(r["text"] for r in replies)
    assert texts == ["你好 reply-d", "有的 reply-c"]
