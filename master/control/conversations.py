"""Control RPCs about conversations (issue 15): list, thread, read marks,
claim, assign (and who may be assigned), status, labels."""

from __future__ import annotations

import grpc

from hiscrm.v1 import control_pb2
from master import principals
from master.control.base import RpcBase


def operator() -> str:
    """The calling operator's token name: read marks and claims are theirs."""
    return principals.actor() or "anonymous"


class ConversationRpcs(RpcBase):
    async def ListConversations(
        self, request: control_pb2.ListConversationsRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListConversationsResponse:
        return await self.app.conversations.page(request, operator())

    async def GetConversation(
        self, request: control_pb2.GetConversationRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ConversationThread:
        conv, pairs, truncated = await self.app.conversations.thread(
            request.conversation_ref, operator(), request.max_items
        )
        rows = [r for r, _ in pairs]
        items = [m for _, m in pairs]
        await self.app.inbox.replied_by(rows, items)
        return control_pb2.ConversationThread(conversation=conv, items=items, truncated=truncated)

    async def _read(self, ref: int, up_to: int, unread: bool) -> control_pb2.ConversationReadState:
        who = operator()
        state = await self.app.read_marks.mark(ref, who, up_to, unread)
        row = await self.app.conversations.row(ref)
        self.app.conversations.publish(
            row, control_pb2.CONVERSATION_CHANGE_READ, who, state.unread_count
        )
        return state

    async def MarkConversationRead(
        self, request: control_pb2.MarkConversationReadRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ConversationReadState:
        if request.up_to_item_id < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "up_to_item_id must be >= 0")
        return await self._read(request.conversation_ref, request.up_to_item_id, False)

    async def MarkConversationUnread(
        self, request: control_pb2.MarkConversationUnreadRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ConversationReadState:
        return await self._read(request.conversation_ref, 0, True)

    async def ClaimConversation(
        self, request: control_pb2.ClaimConversationRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Conversation:
        return await self.app.conversation_actions.claim(
            request.conversation_ref, operator(), request.take_over
        )

    async def AssignConversation(
        self, request: control_pb2.AssignConversationRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Conversation:
        return await self.app.conversation_actions.assign(
            request.conversation_ref, request.assignee, operator()
        )

    async def ListAssignees(
        self, request: control_pb2.ListAssigneesRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListAssigneesResponse:
        return control_pb2.ListAssigneesResponse(
            assignees=self.app.conversation_actions.assignees()
        )

    async def SetConversationStatus(
        self, request: control_pb2.SetConversationStatusRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Conversation:
        return await self.app.conversation_actions.set_status(
            request.conversation_ref, request.status, operator()
        )

    async def LabelConversation(
        self, request: control_pb2.LabelConversationRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Conversation:
        return await self.app.conversation_actions.label(request, operator())
