"""Control RPCs about stored items."""

from __future__ import annotations

import grpc

from hiscrm.v1 import control_pb2
from master.control.base import RpcBase


class InboxRpcs(RpcBase):
    async def ListItems(
        self, request: control_pb2.ListItemsRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListItemsResponse:
        return await self.app.inbox.list(request)

    async def MarkRead(
        self, request: control_pb2.MarkReadRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.MarkReadResponse:
        changed, accounts = await self.app.inbox.mark(request)
        for account_id in accounts:
            row = self.app.accounts.rows.get(account_id)
            if row is not None:
                self.app.accounts.publish(row)  # carries the new unread count
        if changed:
            self.app.unread_events.publish_now(accounts)
        return control_pb2.MarkReadResponse(updated=changed)

    async def GetUnreadCounts(
        self, request: control_pb2.GetUnreadCountsRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.GetUnreadCountsResponse:
        return self.app.inbox.counts(list(request.account_ids))
