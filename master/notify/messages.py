"""Which events become notifications, and their one-line text.

New DMs (a conversation update with new incoming direct messages), rule hits
of rules that notify, an account entering needs-login or blocked/captcha/
rate-limited, a worker going missing or offline. Account and worker events
are snapshots: only a change of state notifies, not every repetition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hiscrm.v1 import common_pb2, control_pb2

NEW_DM = control_pb2.NOTIFICATION_KIND_NEW_DIRECT_MESSAGE
RULE_HIT = control_pb2.NOTIFICATION_KIND_RULE_HIT
NEEDS_LOGIN = control_pb2.NOTIFICATION_KIND_ACCOUNT_NEEDS_LOGIN
BLOCKED = control_pb2.NOTIFICATION_KIND_ACCOUNT_BLOCKED
WORKER_DOWN = control_pb2.NOTIFICATION_KIND_WORKER_DOWN
KINDS = [
    control_pb2.EVENT_KIND_CONVERSATION,
    control_pb2.EVENT_KIND_ACCOUNT,
    control_pb2.EVENT_KIND_WORKER,
]
BLOCKED_STATES = {
    common_pb2.RUN_STATE_CAPTCHA,
    common_pb2.RUN_STATE_RATE_LIMITED,
}
DOWN_STATES = {common_pb2.WORKER_STATE_MISSING, common_pb2.WORKER_STATE_OFFLINE}
MAX_TEXT = 300


@dataclass(frozen=True)
class Notification:
    kind: int
    account_id: str
    text: str


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:79] + "…"


class Translator:
    def __init__(self, notifying_rule: Callable[[str], bool]) -> None:
        self.notifying_rule = notifying_rule
        self._accounts: dict[str, int] = {}
        self._workers: dict[str, int] = {}

    def seed(self, workers: dict[str, int], accounts: dict[str, int]) -> None:
        """The states as they are when the consumer subscribes: a change
        after it notifies, the state itself does not."""
        self._workers = dict(workers)
        self._accounts = dict(accounts)

    def of(self, event: control_pb2.Event) -> list[Notification]:
        which = event.WhichOneof("event")
        if which == "conversation":
            return self._conversation(event.conversation)
        if which == "account":
            return self._account(event.account)
        if which == "worker":
            return self._worker(event.worker)
        if which == "account_deleted":
            self._accounts.pop(event.account_deleted.account_id, None)
        return []

    def _conversation(self, update: control_pb2.ConversationUpdate) -> list[Notification]:
        conv = update.conversation
        who = conv.customer_name or conv.customer_id or "a customer"
        if (
            update.change == control_pb2.CONVERSATION_CHANGE_ITEMS
            and update.new_incoming
            and conv.kind == control_pb2.CONVERSATION_KIND_DIRECT_MESSAGE
        ):
            text = f"[{conv.account_id}] new message from {who}: {_short(conv.last_message_text)}"
            return [Notification(NEW_DM, conv.account_id, text[:MAX_TEXT])]
        if update.change == control_pb2.CONVERSATION_CHANGE_LABELS and update.rules_hit:
            rules = [r for r in update.rules_hit if self.notifying_rule(r)]
            if rules:
                text = (
                    f"[{conv.account_id}] rule {', '.join(rules)} matched {who}: "
                    f"{_short(conv.last_message_text)}"
                )
                return [Notification(RULE_HIT, conv.account_id, text[:MAX_TEXT])]
        return []

    def _account(self, account: control_pb2.Account) -> list[Notification]:
        before = self._accounts.get(account.account_id)
        self._accounts[account.account_id] = account.state
        if before == account.state:
            return []
        reason = f": {_short(account.state_reason)}" if account.state_reason else ""
        if account.state == common_pb2.RUN_STATE_NEEDS_LOGIN:
            return [
                Notification(
                    NEEDS_LOGIN, account.account_id, f"[{account.account_id}] needs a login{reason}"
                )
            ]
        blocked = account.state in BLOCKED_STATES or (
            account.state == common_pb2.RUN_STATE_ERROR
            and account.error_kind == common_pb2.ERROR_KIND_BLOCKED
        )
        if blocked:
            state = common_pb2.RunState.Name(account.state).removeprefix("RUN_STATE_").lower()
            return [
                Notification(
                    BLOCKED, account.account_id, f"[{account.account_id}] is {state}{reason}"
                )
            ]
        return []

    def _worker(self, worker: control_pb2.Worker) -> list[Notification]:
        before = self._workers.get(worker.worker_id)
        self._workers[worker.worker_id] = worker.state
        if worker.state not in DOWN_STATES or before in DOWN_STATES or before is None:
            # a worker first seen down (at a master start) was reported by the last master
            return []
        state = common_pb2.WorkerState.Name(worker.state).removeprefix("WORKER_STATE_").lower()
        return [Notification(WORKER_DOWN, "", f"worker {worker.worker_id} is {state}")]
