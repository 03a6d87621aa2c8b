"""Control RPCs for what the team shares (issue 15): saved replies and rules."""

from __future__ import annotations

import grpc

from hiscrm.v1 import control_pb2
from master.control.base import RpcBase
from master.control.conversations import operator
from master.saved_replies import render


class TeamRpcs(RpcBase):
    async def ListSavedReplies(
        self, request: control_pb2.ListSavedRepliesRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListSavedRepliesResponse:
        return control_pb2.ListSavedRepliesResponse(
            saved_replies=await self.app.saved_replies.listing(request.query)
        )

    async def CreateSavedReply(
        self, request: control_pb2.CreateSavedReplyRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.SavedReply:
        return await self.app.saved_replies.save(0, request.name, request.text, operator())

    async def UpdateSavedReply(
        self, request: control_pb2.UpdateSavedReplyRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.SavedReply:
        if request.id <= 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "id is required")
        return await self.app.saved_replies.save(request.id, request.name, request.text, operator())

    async def DeleteSavedReply(
        self, request: control_pb2.DeleteSavedReplyRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.DeleteSavedReplyResponse:
        await self.app.saved_replies.delete(request.id)
        return control_pb2.DeleteSavedReplyResponse(id=request.id)

    async def RenderSavedReply(
        self, request: control_pb2.RenderSavedReplyRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.RenderSavedReplyResponse:
        saved = await self.app.saved_replies.get(request.id)
        conv = await self.app.conversations.row(request.conversation_ref)
        account = self.app.accounts.rows.get(conv.account_id)
        values = {
            "customer": conv.customer_name or conv.customer_id,
            "account": (account.display_name or account.nickname) if account else conv.account_id,
            "operator": operator(),
            "post": conv.post_title or conv.post_id,
        }
        return control_pb2.RenderSavedReplyResponse(text=render(saved.text, values))

    async def ListRules(
        self, request: control_pb2.ListRulesRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListRulesResponse:
        return control_pb2.ListRulesResponse(rules=await self.app.rules.listing())

    async def CreateRule(
        self, request: control_pb2.CreateRuleRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Rule:
        return await self.app.rules.save(request.rule, operator())

    async def UpdateRule(
        self, request: control_pb2.UpdateRuleRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Rule:
        if request.rule.id <= 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "rule.id is required")
        return await self.app.rules.save(request.rule, operator(), request.rule.id)

    async def DeleteRule(
        self, request: control_pb2.DeleteRuleRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.DeleteRuleResponse:
        await self.app.rules.delete(request.id)
        return control_pb2.DeleteRuleResponse(id=request.id)
