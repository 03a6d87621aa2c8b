"""Notifications from a real fleet: a new DM, an account that needs a login,
an account stopped by a captcha, each reaching a loopback endpoint through
apprise (the rule hits and the worker-down notice: test_workspace_rules.py)."""

from __future__ import annotations

from hiscrm.v1 import common_pb2, control_pb2
from tests.delivery_helpers import account
from tests.demo_helpers import admin, demo_spec, logged_in
from tests.harness import Cluster, wait_for
from tests.workspace_helpers import webhook

ACCOUNT = "nl-1"


def test_new_dm_needs_login_and_captcha_notify(cluster: Cluster) -> None:
    with webhook() as hook:
        base = cluster.start_demosite()
        cluster.start_master(HISCRM_NOTIFY_BATCH_SECONDS="1", HISCRM_NOTIFY_MAX_PER_MINUTE="60")
        cluster.start_worker("nl-w")
        cluster.wait_worker_state("nl-w", common_pb2.WORKER_STATE_ONLINE)
        cluster.call(
            "CreateNotifier",
            control_pb2.CreateNotifierRequest(
                name="desk",
                url=f"json://127.0.0.1:{hook.port}/desk",
                kinds=[
                    control_pb2.NOTIFICATION_KIND_NEW_DIRECT_MESSAGE,
                    control_pb2.NOTIFICATION_KIND_ACCOUNT_NEEDS_LOGIN,
                    control_pb2.NOTIFICATION_KIND_ACCOUNT_BLOCKED,
                ],
            ),
        )
        # a new account waits for its QR login: the desk hears of it
        logged_in(cluster, base, ACCOUNT, demo_spec(base, "demo1", interval_ms=1500))
        wait_for(
            lambda: any(ln.startswith(f"[{ACCOUNT}] needs a login") for ln in hook.lines()),
            timeout=90,
            what="the needs-login notification",
        )

        admin(
            base,
            "/admin/messages",
            {"username": "demo1", "text": "在吗 想问下价格", "from_name": "小鱼"},
        )
        dm = wait_for(
            lambda: [ln for ln in hook.lines() if "new message from 小鱼" in ln],
            timeout=90,
            what="the new-DM notification",
        )
        assert dm[0].startswith(f"[{ACCOUNT}]") and "在吗 想问下价格" in dm[0]

        admin(base, "/admin/captcha", {"username": "demo1", "on": True})
        wait_for(
            lambda: account(cluster, ACCOUNT).state == common_pb2.RUN_STATE_CAPTCHA,
            timeout=60,
            what="the account stopped by a captcha",
        )
        wait_for(
            lambda: any(ln.startswith(f"[{ACCOUNT}] is captcha") for ln in hook.lines()),
            timeout=90,
            what="the blocked notification",
        )
        # a state notifies when it changes, not on every repetition
        needs = [ln for ln in hook.lines() if ln.startswith(f"[{ACCOUNT}] needs a login")]
        assert len(needs) == 1, hook.lines()

        def notifier() -> control_pb2.Notifier:
            resp = cluster.call("ListNotifiers", control_pb2.ListNotifiersRequest())
            return resp.notifiers[0]  # type: ignore[attr-defined,no-any-return]

        desk = wait_for(lambda: notifier().sent >= 1 and notifier(), what="the notifier's count")
        assert desk.events >= 3 and not desk.failed
