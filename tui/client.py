"""The TUI's only way to the master: a thin async wrapper over the Control
stub, and the WatchEvents consumer that feeds the screens.

Every unary call has a deadline, and every gRPC failure becomes a
ControlError carrying the status code, so screens can show INVALID_ARGUMENT
next to the field and everything else as a notification.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Literal

import grpc
from textual.message import Message

from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc
from hiscrm_common.backoff import Backoff
from hiscrm_common.channel import open_channel
from tui.messages import ConnectionChanged, EventBatch, EventsArrived, Link

log = logging.getLogger(__name__)

UNARY_TIMEOUT_S = 10.0
# The master holds SendReply open up to 60 s while the worker posts it.
REPLY_TIMEOUT_S = 90.0
# supervisord waits for Chromium to exit before a restart returns.
PROCESS_TIMEOUT_S = 60.0
LOGIN_TIMEOUT_S = 15 * 60.0
# Long enough to gather a burst, short enough that a single item feels live.
FLUSH_INTERVAL_S = 0.1
# How long the event stream's headers (the master's "subscribed") are awaited
# before the console goes on without them (a master that does not send them).
SUBSCRIBE_WAIT_S = 10.0

WorkerOp = Literal["start", "stop", "restart"]


class ControlError(Exception):
    """A failed Control call: the gRPC status code name and the master's text."""

    def __init__(self, method: str, code: str, details: str) -> None:
        super().__init__(f"{method}: {code}: {details}")
        self.method = method
        self.code = code
        self.details = details

    @classmethod
    def from_rpc(cls, method: str, exc: grpc.aio.AioRpcError) -> ControlError:
        return cls(method, exc.code().name, exc.details() or "")

    @property
    def invalid_argument(self) -> bool:
        return self.code == "INVALID_ARGUMENT"


class ControlClient:
    """Typed calls to Control. Open it inside the app's event loop."""

    def __init__(self, address: str, token: str) -> None:
        self.address = address
        self._token = token
        self._channel: grpc.aio.Channel | None = None
        self._stub: control_pb2_grpc.ControlStub | None = None

    async def open(self) -> None:
        # grpc.aio binds a channel to the loop that is running when it is made.
        self._channel = open_channel(self.address, self._token)
        self._stub = control_pb2_grpc.ControlStub(self._channel)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel = None

    # ------------------------------------------------------------ plumbing

    async def _unary(self, method: str, request: Any, deadline: float = UNARY_TIMEOUT_S) -> Any:
        assert self._stub is not None, "ControlClient.open() was not called"
        try:
            return await getattr(self._stub, method)(request, timeout=deadline)
        except grpc.aio.AioRpcError as exc:
            raise ControlError.from_rpc(method, exc) from None

    async def _stream(
        self,
        method: str,
        request: Any,
        deadline: float | None = None,
        started: asyncio.Event | None = None,
    ) -> AsyncIterator[Any]:
        """The stream's messages; `started` is set once its headers arrive."""
        assert self._stub is not None, "ControlClient.open() was not called"
        call = getattr(self._stub, method)(request, timeout=deadline)
        try:
            if started is not None:
                await call.initial_metadata()
                started.set()
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as exc:
            raise ControlError.from_rpc(method, exc) from None
        finally:
            call.cancel()

    # ------------------------------------------------------------ fleet

    async def list_workers(self) -> list[control_pb2.Worker]:
        resp = await self._unary("ListWorkers", control_pb2.ListWorkersRequest())
        return list(resp.workers)

    async def list_hosts(self) -> list[control_pb2.Host]:
        resp = await self._unary("ListHosts", control_pb2.ListHostsRequest())
        return list(resp.hosts)

    async def worker_action(
        self, op: WorkerOp, worker_ids: Iterable[str]
    ) -> list[control_pb2.WorkerActionResult]:
        method = {"start": "StartWorker", "stop": "StopWorker", "restart": "RestartWorker"}[op]
        targets = control_pb2.WorkerTargets(worker_ids=list(worker_ids))
        resp = await self._unary(method, targets, deadline=PROCESS_TIMEOUT_S)
        return list(resp.results)

    async def scale(self, count: int, host: str = "") -> list[control_pb2.WorkerActionResult]:
        """count workers on the master's host, or on a worker host."""
        req = control_pb2.ScaleWorkersRequest(count=count, host=host)
        resp = await self._unary("ScaleWorkers", req, deadline=PROCESS_TIMEOUT_S)
        return list(resp.results)

    async def forget_host(self, host_id: str) -> control_pb2.ForgetHostResponse:
        """Removes a host gone for good and revokes its credential (admin only;
        refused while its agent is connected)."""
        req = control_pb2.ForgetHostRequest(host_id=host_id)
        resp: control_pb2.ForgetHostResponse = await self._unary("ForgetHost", req)
        return resp

    def tail_log(self, worker_id: str, *, follow: bool = True) -> AsyncIterator[Any]:
        """LogChunks; a followed tail lives until the caller cancels it."""
        req = control_pb2.TailWorkerLogRequest(worker_id=worker_id, follow=follow)
        return self._stream("TailWorkerLog", req, deadline=None if follow else UNARY_TIMEOUT_S)

    # ------------------------------------------------------------ accounts

    async def list_accounts(self) -> list[control_pb2.Account]:
        accounts: list[control_pb2.Account] = []
        token = ""
        while True:
            req = control_pb2.ListAccountsRequest(page_size=1000, page_token=token)
            resp = await self._unary("ListAccounts", req)
            accounts.extend(resp.accounts)
            token = resp.next_page_token
            if not token:
                return accounts

    async def create_account(
        self, account_id: str, spec: common_pb2.AccountSpec
    ) -> control_pb2.Account:
        req = control_pb2.CreateAccountRequest(account_id=account_id, spec=spec)
        return await self._unary("CreateAccount", req)

    async def update_account(
        self, account_id: str, spec: common_pb2.AccountSpec, paths: list[str]
    ) -> control_pb2.Account:
        req = control_pb2.UpdateAccountRequest(account_id=account_id, spec=spec)
        req.update_mask.paths.extend(paths)
        return await self._unary("UpdateAccount", req)

    async def delete_account(self, account_id: str) -> control_pb2.DeleteAccountResponse:
        req = control_pb2.DeleteAccountRequest(account_id=account_id)
        return await self._unary("DeleteAccount", req)

    # ------------------------------------------------------------ login

    def start_login(self, account_id: str) -> AsyncIterator[Any]:
        req = control_pb2.StartLoginRequest(account_id=account_id)
        return self._stream("StartLogin", req, deadline=LOGIN_TIMEOUT_S)

    async def submit_verification(self, session_id: str, code: str) -> None:
        req = control_pb2.SubmitVerificationRequest(session_id=session_id, code=code)
        await self._unary("SubmitVerification", req)

    async def cancel_login(self, session_id: str) -> None:
        await self._unary("CancelLogin", control_pb2.CancelLoginRequest(session_id=session_id))

    # ------------------------------------------------------------ inbox

    async def list_items(self, req: control_pb2.ListItemsRequest) -> control_pb2.ListItemsResponse:
        return await self._unary("ListItems", req)

    async def mark_read(
        self,
        *,
        item_ids: Iterable[int] = (),
        account_id: str = "",
        conversation_id: str = "",
        unread: bool = False,
    ) -> int:
        req = control_pb2.MarkReadRequest(
            item_ids=list(item_ids),
            account_id=account_id,
            conversation_id=conversation_id,
            unread=unread,
        )
        return (await self._unary("MarkRead", req)).updated

    async def unread_counts(self) -> control_pb2.GetUnreadCountsResponse:
        return await self._unary("GetUnreadCounts", control_pb2.GetUnreadCountsRequest())

    async def send_reply(
        self, item_id: int, text: str, request_id: str = ""
    ) -> control_pb2.SendReplyResponse:
        # A fresh id per press; the master sends one id at most once.
        req = control_pb2.SendReplyRequest(
            request_id=request_id or uuid.uuid4().hex, item_id=item_id, text=text
        )
        return await self._unary("SendReply", req, deadline=REPLY_TIMEOUT_S)

    # ------------------------------------------------------------ live

    async def who_am_i(self) -> control_pb2.TokenInfo:
        return await self._unary("WhoAmI", control_pb2.WhoAmIRequest())

    # ------------------------------------------------------------ conversations

    async def list_conversations(
        self, req: control_pb2.ListConversationsRequest
    ) -> control_pb2.ListConversationsResponse:
        return await self._unary("ListConversations", req)

    async def get_conversation(
        self, ref: int, max_items: int = 0
    ) -> control_pb2.ConversationThread:
        req = control_pb2.GetConversationRequest(conversation_ref=ref, max_items=max_items)
        return await self._unary("GetConversation", req)

    async def mark_conversation_read(
        self, ref: int, up_to_item_id: int = 0
    ) -> control_pb2.ConversationReadState:
        req = control_pb2.MarkConversationReadRequest(
            conversation_ref=ref, up_to_item_id=up_to_item_id
        )
        return await self._unary("MarkConversationRead", req)

    async def mark_conversation_unread(self, ref: int) -> control_pb2.ConversationReadState:
        req = control_pb2.MarkConversationUnreadRequest(conversation_ref=ref)
        return await self._unary("MarkConversationUnread", req)

    async def claim_conversation(
        self, ref: int, take_over: bool = False
    ) -> control_pb2.Conversation:
        req = control_pb2.ClaimConversationRequest(conversation_ref=ref, take_over=take_over)
        return await self._unary("ClaimConversation", req)

    async def assign_conversation(self, ref: int, assignee: str) -> control_pb2.Conversation:
        req = control_pb2.AssignConversationRequest(conversation_ref=ref, assignee=assignee)
        return await self._unary("AssignConversation", req)

    async def list_assignees(self) -> list[control_pb2.Assignee]:
        resp = await self._unary("ListAssignees", control_pb2.ListAssigneesRequest())
        return list(resp.assignees)

    async def set_conversation_status(
        self, ref: int, status: control_pb2.ConversationStatus
    ) -> control_pb2.Conversation:
        req = control_pb2.SetConversationStatusRequest(conversation_ref=ref, status=status)
        return await self._unary("SetConversationStatus", req)

    async def list_saved_replies(self, query: str = "") -> list[control_pb2.SavedReply]:
        resp = await self._unary(
            "ListSavedReplies", control_pb2.ListSavedRepliesRequest(query=query)
        )
        return list(resp.saved_replies)

    async def create_saved_reply(self, name: str, text: str) -> control_pb2.SavedReply:
        req = control_pb2.CreateSavedReplyRequest(name=name, text=text)
        return await self._unary("CreateSavedReply", req)

    async def delete_saved_reply(self, reply_id: int) -> None:
        await self._unary("DeleteSavedReply", control_pb2.DeleteSavedReplyRequest(id=reply_id))

    async def render_saved_reply(self, reply_id: int, ref: int) -> str:
        req = control_pb2.RenderSavedReplyRequest(id=reply_id, conversation_ref=ref)
        return (await self._unary("RenderSavedReply", req)).text

    async def get_stats(self, deadline: float = UNARY_TIMEOUT_S) -> control_pb2.Stats:
        return await self._unary("GetStats", control_pb2.GetStatsRequest(), deadline=deadline)

    def watch_events(self, subscribed: asyncio.Event | None = None) -> AsyncIterator[Any]:
        """Every live event; `subscribed` is set once the master has the
        subscription in place (it sends the stream's headers then)."""
        return self._stream("WatchEvents", control_pb2.WatchEventsRequest(), started=subscribed)


class EventPump:
    """Consumes WatchEvents for the app's lifetime, reconnecting with backoff.

    Events are buffered and posted as one EventsArrived per flush window, so
    a burst of thousands of items costs the UI one table update, not
    thousands. `feed` is the single entry to that path (the benchmark uses it).
    """

    def __init__(
        self,
        client: ControlClient,
        post: Callable[[Message], object],
        *,
        flush_interval: float = FLUSH_INTERVAL_S,
    ) -> None:
        self._client = client
        self._post = post
        self._flush_interval = flush_interval
        self._batch = EventBatch()
        self._flush_handle: asyncio.TimerHandle | None = None
        self.connected = False
        self.reconnects = 0

    def feed(self, event: control_pb2.Event) -> None:
        self._batch.add(event)
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self._flush_interval, self.flush)

    def flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._batch.count:
            batch, self._batch = self._batch, EventBatch()
            self._post(EventsArrived(batch))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = Backoff(base=0.25, cap=5.0)
        lost_at: float | None = None
        ever_connected = False
        self._post(ConnectionChanged(Link.CONNECTING, detail=self._client.address))
        while True:
            reader: asyncio.Task[None] | None = None
            try:
                subscribed = asyncio.Event()
                reader = asyncio.ensure_future(self._read(self._client.watch_events(subscribed)))
                # A unary call proves the master is there and answering.
                stats = await self._client.get_stats(deadline=5.0)
                # CONNECTED makes the app read the whole state; read before the
                # subscription is in place, an event in between would be lost.
                await self._subscribed(subscribed, reader)
                self.connected = True
                backoff.reset()
                reconnected = ever_connected and lost_at is not None
                ever_connected = True
                if reconnected:
                    self.reconnects += 1
                self._post(
                    ConnectionChanged(
                        Link.CONNECTED,
                        detail=self._client.address,
                        reconnected=reconnected,
                        offline_s=loop.time() - lost_at if reconnected and lost_at else 0.0,
                        master_version=stats.master_version,
                        database=stats.database,
                    )
                )
                await reader
                detail = "the master closed the event stream"
            except ControlError as exc:
                detail = f"{exc.code}: {exc.details}"
            finally:
                if reader is not None:
                    if not reader.done():
                        reader.cancel()
                    elif not reader.cancelled():
                        reader.exception()  # seen here; the reason is in `detail`
            self.flush()
            if self.connected or lost_at is None:
                lost_at = loop.time()
            self.connected = False
            delay = backoff.next_delay()
            log.warning(
                "event stream to %s lost (%s); retry in %.1fs", self._client.address, detail, delay
            )
            self._post(
                ConnectionChanged(
                    Link.RECONNECTING,
                    detail=detail,
                    retry_in_s=delay,
                    attempt=backoff.attempt,
                )
            )
            await asyncio.sleep(delay)

    async def _subscribed(self, subscribed: asyncio.Event, reader: asyncio.Task[None]) -> None:
        waiter = asyncio.ensure_future(subscribed.wait())
        try:
            await asyncio.wait(
                {waiter, reader}, timeout=SUBSCRIBE_WAIT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
        if subscribed.is_set():
            return
        if reader.done():
            await reader  # its ControlError says why
            raise ControlError("WatchEvents", "UNAVAILABLE", "the master closed the event stream")
        log.warning(
            "event stream to %s: no headers after %.0fs; going on without knowing it is "
            "subscribed (an older master?)",
            self._client.address,
            SUBSCRIBE_WAIT_S,
        )

    async def _read(self, stream: AsyncIterator[control_pb2.Event]) -> None:
        async for event in stream:
            self.feed(event)
