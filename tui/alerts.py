"""What an operator must notice now, found in a batch of live events before
it is applied to the store (the store still holds the previous states).

A toast for each, and the terminal bell for the ones that need a person:
a new direct message, an account that needs a login or is blocked, a worker
gone missing, a rule hit. One alert per kind per batch, however many, so a
burst is one toast and one bell.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from hiscrm.v1 import common_pb2, control_pb2
from tui.messages import EventBatch
from tui.state import Store

Severity = Literal["information", "warning", "error"]

DM = common_pb2.ITEM_KIND_DIRECT_MESSAGE
INCOMING = control_pb2.DIRECTION_INCOMING
MISSING = common_pb2.WORKER_STATE_MISSING
# account states that need a person (a login, a captcha, an unblock)
NEEDS_PERSON = {
    common_pb2.RUN_STATE_NEEDS_LOGIN: "needs a login",
    common_pb2.RUN_STATE_CAPTCHA: "is stuck at a captcha",
    common_pb2.RUN_STATE_RATE_LIMITED: "is rate limited",
}
BLOCKING_ERRORS = {
    common_pb2.ERROR_KIND_BLOCKED: "is blocked",
    common_pb2.ERROR_KIND_RATE_LIMITED: "is rate limited",
}


@dataclass(frozen=True)
class Alert:
    text: str
    severity: Severity = "information"
    bell: bool = True


def _names(values: Iterable[str], most: int = 3) -> str:
    unique = list(dict.fromkeys(v for v in values if v))
    more = f" +{len(unique) - most}" if len(unique) > most else ""
    return ", ".join(unique[:most]) + more


def incoming_dm(stored: control_pb2.StoredItem) -> bool:
    # Items from before the direction field count as incoming unless marked outgoing.
    return (
        stored.item.kind == DM
        and not stored.item.outgoing
        and stored.direction != control_pb2.DIRECTION_OUTGOING
        and not stored.read
    )


def new_dms(items: Iterable[control_pb2.StoredItem]) -> list[Alert]:
    dms = [s for s in items if incoming_dm(s)]
    if not dms:
        return []
    if len(dms) == 1:
        s = dms[0]
        text = f"new DM from {s.item.author_name or '?'} ({s.item.account_id}): {s.item.content}"
        return [Alert(text[:160])]
    who = _names(s.item.author_name for s in dms)
    return [Alert(f"{len(dms)} new DMs from {who}")]


def account_alerts(store: Store, accounts: Iterable[control_pb2.Account]) -> list[Alert]:
    out = []
    for a in accounts:
        before = store.accounts.get(a.account_id)
        why = NEEDS_PERSON.get(a.state) or BLOCKING_ERRORS.get(a.error_kind)
        if why is None:
            continue
        if before is not None and (
            (NEEDS_PERSON.get(before.state) or BLOCKING_ERRORS.get(before.error_kind)) == why
        ):
            continue  # already said
        if before is None and not store.accounts:
            continue  # the first load: nothing changed, the Accounts tab shows it
        reason = f": {a.state_reason}" if a.state_reason else ""
        out.append(Alert(f"account {a.account_id} {why}{reason}"[:160], "warning"))
    return out


def worker_alerts(store: Store, workers: Iterable[control_pb2.Worker]) -> list[Alert]:
    gone = [
        w.worker_id
        for w in workers
        if w.state == MISSING
        and (before := store.workers.get(w.worker_id)) is not None
        and before.state != MISSING
    ]
    if not gone:
        return []
    return [Alert(f"worker {_names(gone)} is down (missed its heartbeats)", "error")]


def rule_alerts(updates: Iterable[control_pb2.ConversationUpdate]) -> list[Alert]:
    hits = [u for u in updates if u.rules_hit]
    if not hits:
        return []
    rules = _names(r for u in hits for r in u.rules_hit)
    who = _names(u.conversation.customer_name for u in hits)
    return [Alert(f"rule {rules} matched ({who})", "warning")]


def detect(store: Store, batch: EventBatch) -> list[Alert]:
    """Alerts in one batch, compared with the store before it is applied."""
    return (
        worker_alerts(store, batch.workers.values())
        + account_alerts(store, batch.accounts.values())
        + new_dms(batch.items)
        + rule_alerts(batch.conversations)
    )
