"""Plain-text views of the fleet for the `hiscrm` command (the TUI aside)."""

from __future__ import annotations

from datetime import UTC, datetime

from hiscrm.v1 import common_pb2, control_pb2


def _age(ts: object) -> str:
    seconds = getattr(ts, "seconds", 0)
    if not seconds:
        return "-"
    delta = datetime.now(UTC).timestamp() - seconds
    return f"{delta:.0f}s"


def _mib(n: int) -> str:
    return f"{n / 1048576:.0f}M"


def worker_table(workers: list[control_pb2.Worker], processes: dict[str, str] | None = None) -> str:
    processes = processes or {}
    lines = [
        f"{'WORKER':<14} {'GATEWAY':<8} {'PROCESS':<9} {'PID':>7} {'CPU%':>6} {'MEM':>6} "
        f"{'BROWSER':>8} {'ACCTS':>5} {'OUTBOX':>6} {'BEAT':>5}"
    ]
    for w in workers:
        state = common_pb2.WorkerState.Name(w.state).removeprefix("WORKER_STATE_").lower()
        lines.append(
            f"{w.worker_id:<14} {state:<8} {processes.get(w.worker_id, '-'):<9} {w.pid:>7} "
            f"{w.stats.cpu_percent:>6.1f} {_mib(w.stats.rss_bytes):>6} "
            f"{_mib(w.stats.browser_rss_bytes):>8} {len(w.account_ids):>5} "
            f"{w.outbox_pending:>6} {_age(w.last_heartbeat_at):>5}"
        )
        if w.delivery_error:
            lines.append(f"{'':<14} delivery failing: {w.delivery_error}")
    if not workers:
        lines.append("(no workers have registered yet)")
    return "\n".join(lines)


def event_line(event: control_pb2.Event) -> str:
    kind = event.WhichOneof("event")
    at = datetime.fromtimestamp(event.at.seconds, UTC).strftime("%H:%M:%S")
    if kind == "worker":
        w = event.worker
        state = common_pb2.WorkerState.Name(w.state).removeprefix("WORKER_STATE_").lower()
        return f"{at} worker  {w.worker_id} is {state} (pid {w.pid}, {len(w.account_ids)} accounts)"
    if kind == "account":
        a = event.account
        state = common_pb2.RunState.Name(a.state).removeprefix("RUN_STATE_").lower()
        reason = f": {a.state_reason}" if a.state_reason else ""
        return f"{at} account {a.account_id} {state} on {a.worker_id or '-'}{reason}"
    if kind == "item":
        item = event.item.item
        what = "DM" if item.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE else "comment"
        return f"{at} {what:<7} {item.account_id} {item.author_name}: {item.content[:80]}"
    if kind == "config_acked":
        c = event.config_acked
        ok = "ok" if c.ok else f"FAILED: {c.error}"
        return f"{at} config  {c.account_id} v{c.config_version} on {c.worker_id}: {ok}"
    if kind == "login":
        return f"{at} login   {event.login.account_id}: {event.login.WhichOneof('event')}"
    if kind == "reply":
        r = event.reply
        return f"{at} reply   {r.request_id}: {'sent' if r.ok else 'failed ' + r.error}"
    if kind == "notice":
        return f"{at} notice  {event.notice.message}"
    if kind == "unread":
        u = event.unread
        return f"{at} unread  {u.account_id}: {u.comments} comments, {u.direct_messages} DMs"
    if kind == "conversation":
        upd = event.conversation
        what = control_pb2.ConversationChange.Name(upd.change).removeprefix("CONVERSATION_CHANGE_")
        who = f" by {upd.operator}" if upd.operator else ""
        hit = f" rules {', '.join(upd.rules_hit)}" if upd.rules_hit else ""
        conv = upd.conversation
        return (
            f"{at} conv    {conv.account_id} #{conv.conversation_ref} "
            f"{conv.customer_name or conv.post_title or '-'}: {what.lower()}{who}{hit}"
        )
    if kind == "account_deleted":
        d = event.account_deleted
        return f"{at} account {d.account_id} deleted ({d.items_deleted} items removed)"
    return f"{at} {kind}"
