"""Rules, notifications through apprise, exports and reports against a real
master and worker (issue 15). The synthetic platform's items are known in
advance: "synthetic item N of ACCOUNT", a DM when N*37 % 100 < 30."""

from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from hiscrm.v1 import common_pb2, control_pb2
from tests.delivery_helpers import create, items_total, synthetic_spec
from tests.harness import BIN, Cluster, free_port, wait_for
from tests.workspace_helpers import call_as, operator_token, stream_as, webhook

TOTAL = 60
ACCOUNT = "ws-syn"
SECRET_PASS = "hook-pass-93c1f"
# items 7, 17, ..., 57 of the account; 17 and 57 are DMs (conv-17, conv-57),
# the others comments on post-2: three conversations
HITS = [n for n in range(TOTAL) if n % 10 == 7]


def _is_dm(n: int) -> bool:
    return n * 37 % 100 < 30


def _ts(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def _closed_port() -> int:
    return free_port()


def _invalid(cluster: Cluster, method: str, request: object) -> str:
    with pytest.raises(grpc.RpcError) as err:
        answer = cluster.call(method, request)
        if method.startswith("Export"):
            list(answer)  # type: ignore[call-overload]  # a stream fails when read
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    return str(err.value.details())


def _export(cluster: Cluster, method: str, request: object) -> tuple[bytes, list]:
    chunks = list(getattr(cluster.control(), method)(request, metadata=cluster.metadata()))
    assert chunks[0].file_name and chunks[-1].last
    return b"".join(c.data for c in chunks), chunks


def _hiscrm(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(
        [str(BIN / "hiscrm"), *args], env=cluster.env(), capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


def test_rules_tag_and_notify_in_batches_export_and_report(
    cluster: Cluster, tmp_path: Path
) -> None:
    with webhook() as hook:
        cluster.start_master(
            HISCRM_NOTIFY_BATCH_SECONDS="1",
            HISCRM_NOTIFY_MAX_PER_MINUTE="2",
            HISCRM_NOTIFY_RETRIES="2",
        )
        worker = cluster.start_worker("ws-w")
        cluster.wait_worker_state("ws-w", common_pb2.WORKER_STATE_ONLINE)
        watch = cluster.control().WatchEvents(
            control_pb2.WatchEventsRequest(kinds=[control_pb2.EVENT_KIND_CONVERSATION]),
            metadata=cluster.metadata(),
        )
        updates: list[control_pb2.ConversationUpdate] = []

        def follow() -> None:
            with contextlib.suppress(grpc.RpcError):  # cancelled at the end
                for event in watch:
                    updates.append(event.conversation)

        threading.Thread(target=follow, daemon=True).start()

        rule = cluster.call(
            "CreateRule",
            control_pb2.CreateRuleRequest(
                rule=control_pb2.Rule(
                    name="sevens",
                    match=control_pb2.RULE_MATCH_REGEX,
                    pattern=r"item \d*7 of",
                    add_tags=["vip"],
                    set_priority=control_pb2.PRIORITY_HIGH,
                    notify=True,
                    enabled=True,
                )
            ),
        )
        url = f"json://bot:{SECRET_PASS}@127.0.0.1:{hook.port}/hook"
        made = cluster.call(
            "CreateNotifier",
            control_pb2.CreateNotifierRequest(
                name="team-hook", url=url, kinds=[control_pb2.NOTIFICATION_KIND_RULE_HIT]
            ),
        )
        assert SECRET_PASS not in str(made) and made.url_masked.startswith("json://127.0.0.1")
        cluster.call(
            "CreateNotifier",
            control_pb2.CreateNotifierRequest(
                name="dead-hook",
                url=f"json://127.0.0.1:{_closed_port()}/down",
                kinds=[control_pb2.NOTIFICATION_KIND_RULE_HIT],
            ),
        )
        started = datetime.now(UTC)
        create(cluster, ACCOUNT, synthetic_spec(rate=200, total=TOTAL))

        def tagged() -> list[control_pb2.Conversation]:
            resp = cluster.call(
                "ListConversations", control_pb2.ListConversationsRequest(tag="vip")
            )
            return list(resp.conversations)  # type: ignore[attr-defined]

        convs = wait_for(lambda: len(tagged()) == 3 and tagged(), what="three tagged conversations")
        assert {c.priority for c in convs} == {control_pb2.PRIORITY_HIGH}
        keys = {(c.kind, c.platform_conversation_id or c.post_id) for c in convs}
        assert keys == {
            (control_pb2.CONVERSATION_KIND_DIRECT_MESSAGE, "conv-17"),
            (control_pb2.CONVERSATION_KIND_DIRECT_MESSAGE, "conv-57"),
            (control_pb2.CONVERSATION_KIND_COMMENT_THREAD, "post-2"),
        }
        # the same, live: the items' updates, then the rule's labels
        wait_for(
            lambda: sum(u.new_incoming for u in updates) == TOTAL,
            what="conversation updates for every item",
        )
        labelled = wait_for(
            lambda: [u for u in updates if u.change == control_pb2.CONVERSATION_CHANGE_LABELS],
            what="a labels update",
        )
        assert {tuple(u.rules_hit) for u in labelled} == {("sevens",)}
        assert all("vip" in u.conversation.tags for u in labelled)
        watch.cancel()
        rules = cluster.call("ListRules", control_pb2.ListRulesRequest()).rules
        assert [(r.id, r.hits) for r in rules] == [(rule.id, len(HITS))]

        # batched: the hits arrive in few messages, with several lines in one,
        # within the rate of 2 messages a minute; the password went as auth only
        wait_for(lambda: any("sevens" in line for line in hook.lines()), what="a rule hit post")
        wait_for(
            lambda: len([ln for ln in hook.lines() if "sevens" in ln]) >= 3,
            timeout=90,
            what="every hit conversation notified",
        )
        assert 1 <= len(hook.posts) <= 2
        assert max(len(str(p["message"]).splitlines()) for p in hook.posts) >= 2
        assert all(a.startswith("Basic ") for a in hook.auth)

        def states() -> dict[str, control_pb2.Notifier]:
            resp = cluster.call("ListNotifiers", control_pb2.ListNotifiersRequest())
            return {n.name: n for n in resp.notifiers}  # type: ignore[attr-defined]

        dead = wait_for(
            lambda: states()["dead-hook"].failed >= 1 and states()["dead-hook"],
            timeout=90,
            what="the dead target's failure",
        )
        assert dead.last_error and dead.sent == 0
        good = states()["team-hook"]
        assert good.sent == len(hook.posts) and good.events >= 3 and not good.failed
        assert SECRET_PASS not in str(states())
        stats = cluster.call("GetStats", control_pb2.GetStatsRequest())
        assert stats.notifications_failed >= 1 and stats.notifications_sent >= 1
        assert SECRET_PASS not in cluster.master.log_text()  # type: ignore[union-attr]

        # a worker that dies is a notification too (to a target that asks for it)
        cluster.call(
            "CreateNotifier",
            control_pb2.CreateNotifierRequest(
                name="ops-hook",
                url=f"json://127.0.0.1:{hook.port}/ops",
                kinds=[control_pb2.NOTIFICATION_KIND_WORKER_DOWN],
            ),
        )
        worker.kill9()
        wait_for(
            lambda: "worker ws-w is missing" in hook.lines(),
            timeout=90,
            what="the worker-down notification",
        )

        # export round trip: CSV with a BOM and XLSX, against ListItems
        listed = cluster.call(
            "ListItems",
            control_pb2.ListItemsRequest(account_ids=[ACCOUNT], page_size=1000),
        ).items
        assert len(listed) == TOTAL
        expected = {i.id: i.item.content for i in listed}
        query = control_pb2.ListItemsRequest(account_ids=[ACCOUNT])
        data, chunks = _export(
            cluster,
            "ExportItems",
            control_pb2.ExportItemsRequest(filter=query, format=control_pb2.EXPORT_FORMAT_CSV),
        )
        assert data.startswith(b"\xef\xbb\xbf") and chunks[-1].rows == TOTAL
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        assert {int(r["id"]): r["content"] for r in rows} == expected
        assert {r["direction"] for r in rows} == {"incoming"}

        from openpyxl import load_workbook

        data, chunks = _export(
            cluster,
            "ExportItems",
            control_pb2.ExportItemsRequest(filter=query, format=control_pb2.EXPORT_FORMAT_XLSX),
        )
        sheet = load_workbook(io.BytesIO(data), read_only=True).active
        table = list(sheet.iter_rows(values_only=True))  # type: ignore[union-attr]
        header, body = table[0], table[1:]
        at = header.index("content")
        assert {int(r[0]): r[at] for r in body} == expected and chunks[-1].rows == TOTAL

        # `hiscrm export`: the same files through the operator program
        out = tmp_path / "items.xlsx"
        made = _hiscrm(cluster, "export", "--format", "xlsx", "--account", ACCOUNT, "-o", str(out))
        assert f"{TOTAL} rows" in made.stderr.decode()
        sheet = load_workbook(out, read_only=True).active
        again = list(sheet.iter_rows(values_only=True))  # type: ignore[union-attr]
        assert {int(r[0]): r[at] for r in again[1:]} == expected
        piped = _hiscrm(cluster, "export", "--account", ACCOUNT, "--kind", "dm", "-o", "-")
        assert piped.stdout.startswith(b"\xef\xbb\xbf")
        dm_rows = list(csv.DictReader(io.StringIO(piped.stdout.decode("utf-8-sig"))))
        assert {r["kind"] for r in dm_rows} == {"direct_message"}
        assert len(dm_rows) == sum(1 for n in range(TOTAL) if _is_dm(n))
        assert not list(tmp_path.glob(".hiscrm-export-*")) and not list(
            Path.cwd().glob(".hiscrm-export-*")
        )

        dm = next(c for c in convs if c.platform_conversation_id == "conv-17")
        data, _ = _export(
            cluster,
            "ExportConversation",
            control_pb2.ExportConversationRequest(
                conversation_ref=dm.conversation_ref, format=control_pb2.EXPORT_FORMAT_CSV
            ),
        )
        thread = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        assert [r["content"] for r in thread] == [f"synthetic item 17 of {ACCOUNT}"]

        # the report counts the known traffic
        report = cluster.call(
            "GetReport",
            control_pb2.GetReportRequest(
                since=_ts(started - timedelta(minutes=5)),
                until=_ts(datetime.now(UTC) + timedelta(minutes=5)),
                account_ids=[ACCOUNT],
            ),
        )
        (volume,) = report.accounts
        dms = sum(1 for n in range(TOTAL) if _is_dm(n))
        assert volume.incoming_direct_messages == dms
        assert volume.incoming_comments == TOTAL - dms and volume.outgoing == 0
        assert sum(h.incoming for h in report.hours) == TOTAL
        assert not report.operators  # nobody replied

        # a viewer reads and exports, but changes nothing
        viewer = operator_token(cluster, "watcher", control_pb2.ROLE_VIEWER)
        assert (
            stream_as(
                cluster,
                viewer,
                "ExportItems",
                control_pb2.ExportItemsRequest(filter=query, format=control_pb2.EXPORT_FORMAT_CSV),
            )[-1].rows
            == TOTAL
        )
        with pytest.raises(grpc.RpcError) as err:
            call_as(
                cluster,
                viewer,
                "ClaimConversation",
                control_pb2.ClaimConversationRequest(conversation_ref=dm.conversation_ref),
            )
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # hostile inputs: clear INVALID_ARGUMENT, nothing written
    bad_regex = control_pb2.Rule(
        name="broken", match=control_pb2.RULE_MATCH_REGEX, pattern="(unclosed", add_tags=["x"]
    )
    assert "regular expression" in _invalid(
        cluster, "CreateRule", control_pb2.CreateRuleRequest(rule=bad_regex)
    )
    long_pattern = control_pb2.Rule(
        name="long", match=control_pb2.RULE_MATCH_KEYWORD, pattern="价" * 501, notify=True
    )
    assert "pattern" in _invalid(
        cluster, "CreateRule", control_pb2.CreateRuleRequest(rule=long_pattern)
    )
    no_action = control_pb2.Rule(name="idle", match=control_pb2.RULE_MATCH_KEYWORD, pattern="a")
    assert "action" in _invalid(
        cluster, "CreateRule", control_pb2.CreateRuleRequest(rule=no_action)
    )
    unknown_enum = control_pb2.Rule(name="odd", match=99, pattern="a", notify=True)  # type: ignore[arg-type]
    _invalid(cluster, "CreateRule", control_pb2.CreateRuleRequest(rule=unknown_enum))
    assert len(cluster.call("ListRules", control_pb2.ListRulesRequest()).rules) == 1
    assert "placeholder" in _invalid(
        cluster,
        "CreateSavedReply",
        control_pb2.CreateSavedReplyRequest(name="x", text="hi {customer_name}"),
    )
    _invalid(
        cluster, "CreateSavedReply", control_pb2.CreateSavedReplyRequest(name="x", text="a" * 2001)
    )
    _invalid(
        cluster,
        "LabelConversation",
        control_pb2.LabelConversationRequest(
            conversation_ref=dm.conversation_ref, add_tags=["t" * 65]
        ),
    )
    _invalid(cluster, "ListConversations", control_pb2.ListConversationsRequest(customer="c" * 201))
    _invalid(cluster, "ListConversations", control_pb2.ListConversationsRequest(page_token="zz"))
    _invalid(cluster, "ExportItems", control_pb2.ExportItemsRequest(filter=query))  # no format
    _invalid(cluster, "GetReport", control_pb2.GetReportRequest())  # no since
    secret_url = "notaservice://user:leaked-pw-77@host/x"
    details = _invalid(
        cluster, "CreateNotifier", control_pb2.CreateNotifierRequest(name="bad", url=secret_url)
    )
    assert "leaked-pw-77" not in details
    assert not cluster.call("ListSavedReplies", control_pb2.ListSavedRepliesRequest()).saved_replies


def test_items_stored_before_conversations_join_them(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("bf-w")
    cluster.wait_worker_state("bf-w", common_pb2.WORKER_STATE_ONLINE)
    create(cluster, "bf-1", synthetic_spec(rate=500, total=40))
    wait_for(lambda: items_total(cluster) == 40, what="40 items")
    before = cluster.call("ListConversations", control_pb2.ListConversationsRequest()).conversations
    assert sum(c.item_count for c in before) == 40
    # paging: newest first by the last message's platform time, every conversation once
    paged, token = [], ""
    while True:
        page = cluster.call(
            "ListConversations", control_pb2.ListConversationsRequest(page_size=4, page_token=token)
        )
        paged.extend(page.conversations)
        token = page.next_page_token
        if not token:
            break
    assert [c.conversation_ref for c in paged] == [c.conversation_ref for c in before]
    order = [(c.last_message_at.ToNanoseconds(), c.conversation_ref) for c in paged]
    assert order == sorted(order, reverse=True) and len(paged) > 4
    cluster.stop_all()
    # what a database from before this release looks like
    with sqlite3.connect(cluster.home / "hiscrm.db") as db:
        db.execute("UPDATE items SET conversation_ref = 0")
        db.execute("DELETE FROM conversations")
    cluster.start_master()
    after = wait_for(
        lambda: (
            (
                got := cluster.call(
                    "ListConversations", control_pb2.ListConversationsRequest()
                ).conversations
            )
            and sum(c.item_count for c in got) == 40
            and got
        ),
        what="the old items in conversations again",
    )
    key = lambda c: (c.kind, c.platform_conversation_id, c.post_id)  # noqa: E731
    assert sorted(map(key, after)) == sorted(map(key, before))
    items = cluster.call("ListItems", control_pb2.ListItemsRequest(page_size=100)).items
    assert all(i.conversation_ref for i in items)
