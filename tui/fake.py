"""A deterministic stand-in for ControlClient: fixed workers, accounts,
items and a login QR, for snapshot tests and the burst benchmark. It never
opens a socket; the real client is what the end-to-end tests use."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import segno
from google.protobuf.timestamp_pb2 import Timestamp

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2, hosts_pb2
from tui.client import ControlClient, ControlError

NOW = 1_750_000_000.0  # the fake's clock (2025-06-15 15:06:40 UTC)


def ts(at: float) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(int(at * 1e9))
    return out


def qr_png(content: str) -> bytes:
    buf = io.BytesIO()
    segno.make(content, error="m").save(buf, kind="png", scale=4, border=2)
    return buf.getvalue()


def workers() -> list[control_pb2.Worker]:
    out = []
    for n, (state, proc, cpu, rss) in enumerate(
        [(1, 3, 12.5, 420), (1, 3, 48.0, 910), (2, 4, 0.0, 0)]
    ):
        w = control_pb2.Worker(
            worker_id=f"worker-{n}",
            host="ops-1",
            pid=4100 + n if proc == 3 else 0,
            version="0.1.0",
            max_accounts=20,
            state=state,
            process_state=proc,
            account_ids=[f"demo-{n + 1}"] if proc == 3 else [],
            outbox_pending=n * 3,
            last_heartbeat_at=ts(NOW - 1 - n * 7),
        )
        w.stats.cpu_percent = cpu
        w.stats.rss_bytes = rss * 1048576
        w.stats.browser_rss_bytes = rss * 1048576 * 3 // 4
        w.stats.process_count = 6 if proc == 3 else 0
        out.append(w)
    return out


def hosts() -> list[control_pb2.Host]:
    """ops-1 runs the fake workers; ops-2 went silent."""
    gib = 1 << 30
    return [
        control_pb2.Host(
            host_id="ops-1",
            hostname="ops-1.internal",
            state=common_pb2.WORKER_STATE_ONLINE,
            slots=16,
            account_count=2,
            account_cap=368,
            processes=[
                hosts_pb2.HostProcess(worker_id=f"worker-{n}", state=state, pid=pid)
                for n, (state, pid) in enumerate([(3, 4100), (3, 4101), (4, 0)])
            ],
            resources=hosts_pb2.HostResources(
                cpu_percent=37.5,
                cpu_count=2,
                memory_total_bytes=24 * gib,
                memory_available_bytes=17 * gib,
                disk_total_bytes=100 * gib,
                disk_free_bytes=61 * gib,
            ),
            last_report_at=ts(NOW - 1),
        ),
        control_pb2.Host(
            host_id="ops-2",
            hostname="ops-2.internal",
            state=common_pb2.WORKER_STATE_MISSING,
            state_reason="no report for 5.2s",
            slots=16,
            account_cap=112,
            resources=hosts_pb2.HostResources(memory_total_bytes=8 * gib),
            last_report_at=ts(NOW - 42),
        ),
    ]


def accounts() -> list[control_pb2.Account]:
    specs = [
        ("demo-1", "demo1", 3, "worker-0", 2, 2),
        ("demo-2", "demo2", 3, "worker-1", 3, 2),
        ("demo-3", "demo3", 4, "", 1, 0),
    ]
    out = []
    for account_id, user, state, worker, version, acked in specs:
        a = control_pb2.Account(
            account_id=account_id,
            config_version=version,
            acked_config_version=acked,
            worker_id=worker,
            state=state,
            has_session=state == 3,
            last_cycle_at=ts(NOW - 4) if state == 3 else Timestamp(),
            unread_count=3,
        )
        a.spec.platform = common_pb2.PLATFORM_DEMO
        a.spec.display_name = f"演示账号 {user}"
        a.spec.enabled = True
        a.spec.monitor_interval_ms = 5000
        a.spec.demo.base_url = "http://127.0.0.1:8300"
        a.spec.demo.username = user
        if state == 3:
            a.user.nickname = f"小店{user[-1]}"
        out.append(a)
    out[2].state_reason = "no session: scan the QR"
    return out


def items(count: int = 12, first_id: int = 1) -> list[control_pb2.StoredItem]:
    out = []
    for n in range(count):
        item_id = first_id + n
        dm = n % 3 == 2
        s = control_pb2.StoredItem(
            id=item_id,
            read=n % 4 == 0,
            received_at=ts(NOW - 600 + n * 30),
            worker_id="worker-0",
        )
        s.item.platform = common_pb2.PLATFORM_DEMO
        s.item.account_id = f"demo-{n % 2 + 1}"
        s.item.kind = common_pb2.ITEM_KIND_DIRECT_MESSAGE if dm else common_pb2.ITEM_KIND_COMMENT
        s.item.platform_item_id = f"p{item_id}"
        s.item.author_name = f"顾客{item_id}"
        s.item.content = f"请问这个有货吗？ item {item_id}"
        if dm:
            s.item.conversation_id = f"c{n % 2}"
        else:
            s.item.post_id = "post-1"
            s.item.post_title = "新品上市"
        out.append(s)
    return out


def conversations() -> list[control_pb2.Conversation]:
    """A DM waiting long, a claimed DM, a comment thread with tags, one done."""
    rows = [
        # ref, account, kind, customer, text, age s, waiting s, unread, status, assignee, tags
        (1, "demo-1", 1, "顾客李", "这个多少钱？能便宜点吗", 90, 5400, 2, 1, "", ["价格"]),
        (2, "demo-2", 1, "王小姐", "好的谢谢", 600, 0, 0, 2, "alice", []),
        (3, "demo-1", 2, "张三", "什么时候发货？", 1500, 1500, 1, 1, "ops", ["发货"]),
        (4, "demo-2", 1, "赵六", "已收到", 7200, 0, 0, 3, "alice", []),
    ]
    out = []
    for ref, account, kind, who, text, age, waiting, unread, status, assignee, tags in rows:
        c = control_pb2.Conversation(
            conversation_ref=ref,
            account_id=account,
            platform=common_pb2.PLATFORM_DEMO,
            kind=kind,  # type: ignore[arg-type]  # a ConversationKind value
            customer_name=who,
            customer_id=f"u{ref}",
            last_message_text=text,
            last_message_at=ts(NOW - age),
            last_direction=(
                control_pb2.DIRECTION_INCOMING if waiting else control_pb2.DIRECTION_OUTGOING
            ),
            unread_count=unread,
            status=status,  # type: ignore[arg-type]  # a ConversationStatus value
            assignee=assignee,
            tags=tags,
            item_count=3,
            last_item_id=ref * 10 + 2,
            last_incoming_item_id=ref * 10 + 2,  # thread(): the customer wrote last
        )
        if waiting:
            c.waiting_since.CopyFrom(ts(NOW - waiting))
        if kind == 2:
            c.post_id = "post-1"
            c.post_title = "新品上市"
            c.priority = control_pb2.PRIORITY_HIGH
        out.append(c)
    return out


def thread(c: control_pb2.Conversation) -> control_pb2.ConversationThread:
    """Three messages: the customer, "me" (an operator), the customer again;
    in a comment thread the reply answers the first comment."""
    out = control_pb2.ConversationThread(conversation=c)
    kind = (
        common_pb2.ITEM_KIND_DIRECT_MESSAGE
        if c.kind == control_pb2.CONVERSATION_KIND_DIRECT_MESSAGE
        else common_pb2.ITEM_KIND_COMMENT
    )
    lines = [("in", c.customer_name, "在吗？"), ("out", "", "在的，请问有什么可以帮您？")]
    lines.append(("in", c.customer_name, c.last_message_text))
    for n, (way, who, text) in enumerate(lines):
        s = out.items.add(id=c.conversation_ref * 10 + n, conversation_ref=c.conversation_ref)
        s.item.account_id = c.account_id
        s.item.kind = kind
        s.item.author_name = who or "小店"
        s.item.content = text
        s.item.created_at.CopyFrom(ts(NOW - 3600 + n * 600))
        s.received_at.CopyFrom(ts(NOW - 3000 + n * 600))
        s.direction = (
            control_pb2.DIRECTION_OUTGOING if way == "out" else control_pb2.DIRECTION_INCOMING
        )
        s.read = way == "out" or n < 2 or not c.unread_count
        if way == "out":
            s.replied_by = "alice"
            s.item.outgoing = True
            if kind == common_pb2.ITEM_KIND_COMMENT:
                s.parent_item_id = c.conversation_ref * 10
    return out


def saved_replies() -> list[control_pb2.SavedReply]:
    return [
        control_pb2.SavedReply(
            id=1, name="price", text="{customer}您好，这款今天有优惠，下单即减20元。"
        ),
        control_pb2.SavedReply(id=2, name="ship", text="{customer}您好，现货48小时内发出。"),
    ]


def item_event(stored: control_pb2.StoredItem, seq: int) -> control_pb2.Event:
    event = control_pb2.Event(seq=seq, at=ts(NOW))
    event.item.CopyFrom(stored)
    return event


class FakeClient(ControlClient):
    """Answers every Control call from fixed data; WatchEvents stays open
    and silent (tests and the benchmark feed events through the pump)."""

    def __init__(self) -> None:
        super().__init__("fake:0", "")
        self.items = items()
        self.calls: list[tuple[str, Any]] = []
        # what GetStats answers; tests put problems and task failures in it
        self.stats = control_pb2.Stats(master_version="0.1.0", database="sqlite")
        self.workers = workers()
        self.conversations = {c.conversation_ref: c for c in conversations()}
        self.saved = saved_replies()
        self.operator = "alice"

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def _unary(self, method: str, request: Any, deadline: float = 0.0) -> Any:
        self.calls.append((method, request))
        if method == "GetStats":
            return self.stats
        if method == "WhoAmI":
            return control_pb2.TokenInfo(name=self.operator, role=control_pb2.ROLE_AGENT)
        conversation = self._conversation(method, request)
        if conversation is not None:
            return conversation
        if method == "ListWorkers":
            return control_pb2.ListWorkersResponse(workers=self.workers)
        if method == "ListHosts":
            return control_pb2.ListHostsResponse(hosts=hosts())
        if method == "ScaleWorkers":
            return control_pb2.WorkerActionResponse()
        if method == "ListAccounts":
            return control_pb2.ListAccountsResponse(accounts=accounts())
        if method == "ListItems":
            return control_pb2.ListItemsResponse(items=self._filter(request))
        if method == "GetUnreadCounts":
            return self._unread()
        if method == "MarkRead":
            return control_pb2.MarkReadResponse(updated=1)
        if method == "SendReply":
            return control_pb2.SendReplyResponse(
                request_id=request.request_id, ok=True, platform_item_id="r1"
            )
        if method in ("CreateAccount", "UpdateAccount"):
            if request.spec.monitor_interval_ms < 200:
                raise ControlError(
                    method,
                    "INVALID_ARGUMENT",
                    f"spec.monitor_interval_ms={request.spec.monitor_interval_ms} is out of "
                    "range [200, 86400000]",
                )
            return control_pb2.Account(account_id=request.account_id, spec=request.spec)
        return None

    def _conversation(self, method: str, request: Any) -> Any:
        """The workspace calls; None for any other method."""
        if method == "ListConversations":
            statuses = set(request.statuses)
            rows = [c for c in self.conversations.values() if not statuses or c.status in statuses]
            return control_pb2.ListConversationsResponse(conversations=rows)
        if method == "ListAssignees":
            return control_pb2.ListAssigneesResponse(
                assignees=[
                    control_pb2.Assignee(name="alice", role=control_pb2.ROLE_AGENT),
                    control_pb2.Assignee(name="bob", role=control_pb2.ROLE_ADMIN),
                ]
            )
        if method == "ListSavedReplies":
            return control_pb2.ListSavedRepliesResponse(saved_replies=self.saved)
        if method == "RenderSavedReply":
            c = self.conversations[request.conversation_ref]
            text = next(r.text for r in self.saved if r.id == request.id)
            return control_pb2.RenderSavedReplyResponse(
                text=text.replace("{customer}", c.customer_name)
            )
        if not hasattr(request, "conversation_ref") or method == "ListItems":
            return None
        c = self.conversations[request.conversation_ref]
        if method == "GetConversation":
            return thread(c)
        if method in ("MarkConversationRead", "MarkConversationUnread"):
            c.unread_count = 0 if method == "MarkConversationRead" else 1
            return control_pb2.ConversationReadState(
                conversation_ref=c.conversation_ref,
                operator=self.operator,
                unread_count=c.unread_count,
            )
        if method == "ClaimConversation":
            c.assignee = self.operator
        elif method == "AssignConversation":
            c.assignee = request.assignee
        elif method == "SetConversationStatus":
            c.status = request.status
        return c

    def _filter(self, req: control_pb2.ListItemsRequest) -> list[control_pb2.StoredItem]:
        out = [
            s
            for s in self.items
            if (not req.account_ids or s.item.account_id in req.account_ids)
            and (not req.kinds or s.item.kind in req.kinds)
            and (not req.unread_only or not s.read)
            and (not req.conversation_id or s.item.conversation_id == req.conversation_id)
            and (not req.query or req.query in s.item.content)
        ]
        return sorted(out, key=lambda s: s.id, reverse=True)

    def _unread(self) -> control_pb2.GetUnreadCountsResponse:
        resp = control_pb2.GetUnreadCountsResponse()
        counts: dict[str, list[int]] = {}
        for s in self.items:
            if not s.read:
                c = counts.setdefault(s.item.account_id, [0, 0])
                c[s.item.kind == common_pb2.ITEM_KIND_DIRECT_MESSAGE] += 1
        for account_id, (comments, dms) in sorted(counts.items()):
            resp.counts.append(
                control_pb2.UnreadCount(
                    account_id=account_id, comments=comments, direct_messages=dms
                )
            )
            resp.total += comments + dms
        return resp

    async def _stream(
        self,
        method: str,
        request: Any,
        deadline: float | None = None,
        started: asyncio.Event | None = None,
    ) -> AsyncIterator[Any]:
        self.calls.append((method, request))
        if started is not None:
            started.set()
        if method == "StartLogin":
            update = control_pb2.LoginUpdate(
                session_id="s-1", account_id=request.account_id, worker_id="worker-0"
            )
            update.qr.CopyFrom(
                gateway_pb2.LoginQr(
                    png=qr_png("http://127.0.0.1:8300/confirm?token=fake-token"),
                    content="http://127.0.0.1:8300/confirm?token=fake-token",
                )
            )
            yield update
        elif method == "TailWorkerLog":
            yield control_pb2.LogChunk(
                worker_id=request.worker_id, text="worker worker-0: connected\n"
            )
        # Long-lived streams stay open until cancelled, like the real ones.
        await asyncio.Event().wait()
