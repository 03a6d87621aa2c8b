"""Control.SendReply."""

from __future__ import annotations

import grpc

from hiscrm.v1 import control_pb2
from master.control.base import RpcBase, fail
from master.replies import response_of

WAIT_S = 60.0


class ReplyRpcs(RpcBase):
    async def SendReply(
        self, request: control_pb2.SendReplyRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.SendReplyResponse:
        row = await self.app.replies.submit(request)
        row = await self.app.replies.wait(row, WAIT_S)
        if row.status == "pending":
            await fail(
                context,
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"reply {row.request_id} is still pending (no worker answered yet); it will be "
                "sent when the account's worker is back: call again with the same request_id "
                "to get the result",
            )
        return response_of(row)
