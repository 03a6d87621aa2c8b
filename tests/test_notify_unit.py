"""master/notify alone: which events notify, and delivery per target
(batching, rate limit, bounded queue, retries). The end-to-end test through
apprise to a loopback webhook is tests/test_workspace_rules.py."""

from __future__ import annotations

import asyncio

import pytest

from hiscrm.v1 import common_pb2, control_pb2
from master.notify.dispatcher import Dispatcher
from master.notify.messages import Notification, Translator
from master.notify.targets import Target, mask

NEW_DM = control_pb2.NOTIFICATION_KIND_NEW_DIRECT_MESSAGE


def _event(**payload: object) -> control_pb2.Event:
    event = control_pb2.Event()
    ((name, value),) = payload.items()
    getattr(event, name).CopyFrom(value)
    return event


def test_translator_notifies_state_changes_once() -> None:
    t = Translator(lambda rule: rule == "loud")
    dm = control_pb2.ConversationUpdate(
        conversation=control_pb2.Conversation(
            account_id="a1",
            kind=control_pb2.CONVERSATION_KIND_DIRECT_MESSAGE,
            customer_name="顾客",
            last_message_text="在吗",
        ),
        change=control_pb2.CONVERSATION_CHANGE_ITEMS,
        new_incoming=1,
    )
    (note,) = t.of(_event(conversation=dm))
    assert note.kind == NEW_DM and "顾客" in note.text and "在吗" in note.text
    ours = control_pb2.ConversationUpdate()
    ours.CopyFrom(dm)
    ours.new_incoming = 0  # only our own reply arrived
    assert t.of(_event(conversation=ours)) == []
    hit = control_pb2.ConversationUpdate(
        conversation=dm.conversation,
        change=control_pb2.CONVERSATION_CHANGE_LABELS,
        rules_hit=["quiet", "loud"],
    )
    (note,) = t.of(_event(conversation=hit))
    assert note.kind == control_pb2.NOTIFICATION_KIND_RULE_HIT and "loud" in note.text
    assert "quiet" not in note.text
    hit.rules_hit[:] = ["quiet"]
    assert t.of(_event(conversation=hit)) == []

    needs = control_pb2.Account(account_id="a1", state=common_pb2.RUN_STATE_NEEDS_LOGIN)
    assert [n.kind for n in t.of(_event(account=needs))] == [
        control_pb2.NOTIFICATION_KIND_ACCOUNT_NEEDS_LOGIN
    ]
    assert t.of(_event(account=needs)) == []  # the same state again: no repeat
    blocked = control_pb2.Account(
        account_id="a1", state=common_pb2.RUN_STATE_ERROR, error_kind=common_pb2.ERROR_KIND_BLOCKED
    )
    assert [n.kind for n in t.of(_event(account=blocked))] == [
        control_pb2.NOTIFICATION_KIND_ACCOUNT_BLOCKED
    ]
    online = control_pb2.Worker(worker_id="w1", state=common_pb2.WORKER_STATE_ONLINE)
    missing = control_pb2.Worker(worker_id="w1", state=common_pb2.WORKER_STATE_MISSING)
    offline = control_pb2.Worker(worker_id="w1", state=common_pb2.WORKER_STATE_OFFLINE)
    assert t.of(_event(worker=online)) == []
    assert [n.text for n in t.of(_event(worker=missing))] == ["worker w1 is missing"]
    assert t.of(_event(worker=offline)) == []  # still down: said once


def test_masking_keeps_secrets_out() -> None:
    assert mask("json://user:pw@10.0.0.5:8080/hook?token=x") == "json://10.0.0.5:8080/***"
    assert mask("wecom://BOTKEY123") == "wecom://***"
    assert mask("mailto://u:pw@example.org") == "mailto://***"
    assert "pw" not in mask("not a url ://u:pw@")


def test_dispatcher_batches_limits_retries_and_drops() -> None:
    async def run() -> None:
        posts: list[tuple[str, str]] = []
        failures = {"left": 1}

        async def send(url: str, title: str, body: str) -> None:
            if failures["left"]:
                failures["left"] -= 1
                raise ConnectionError(f"refused by {url}")
            posts.append((title, body))

        results: list[str] = []
        d = Dispatcher(
            send=send,
            max_per_minute=2,  # the failed attempt and the retry
            batch_seconds=0.05,
            queue_limit=5,
            retries=3,
            on_result=lambda outcome, n: results.append(outcome),
        )
        target = Target(name="t", url="json://u:SECRET@127.0.0.1:1/x", url_masked="json://…")
        d.set_targets([target])
        for n in range(7):
            d.offer(Notification(NEW_DM, "a1", f"line {n}"))
        box = d.outboxes["t"]
        assert box.state.dropped == 2 and d.dropped == 2  # over the queue bound, counted
        # retried after one failure (backoff), delivered as one batched message
        for _ in range(400):
            if posts:
                break
            await asyncio.sleep(0.01)
        assert len(posts) == 1 and posts[0][1].splitlines() == [f"line {n}" for n in range(5)]
        assert box.state.sent == 1 and box.state.events == 5 and box.state.failed == 0
        assert "SECRET" not in box.state.last_error and "ConnectionError" in box.state.last_error
        # the rate: a second message waits for the minute (the failed attempt counted too)
        d.offer(Notification(NEW_DM, "a1", "later"))
        await asyncio.sleep(0.3)
        assert len(posts) == 1 and len(box.queue) == 1
        assert results.count("dropped") == 2 and results.count("sent") == 1
        d.close()

    asyncio.run(run())


def test_targets_from_settings_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from master.notify.targets import settings_targets

    monkeypatch.setenv(
        "HISCRM_NOTIFY_URLS", "json://u:pw-in-url@127.0.0.1:9/h, wecom://BOTKEY-SECRET"
    )
    found = settings_targets()
    assert [t.name for t in found] == ["settings-1", "settings-2"]
    assert [t.url_masked for t in found] == ["json://127.0.0.1:9/***", "wecom://***"]
    assert all(t.from_settings and not t.kinds for t in found)
    assert "pw-in-url" not in repr(found) and "BOTKEY-SECRET" not in repr(found)
