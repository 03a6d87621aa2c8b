"""Control.SendReply."""

from __future__ import annotations

import grpc

from hiscrm.v1 import control_pb2
from master.accounts import NotFound
from master.control.base import RpcBase, fail
from master.replies import response_of
from master.validation import InvalidInput

WAIT_S = 60.0


class ReplyRpcs(RpcBase):
    async def SendReply(
        self, request: control_pb2.SendReplyRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.SendReplyResponse:
        try:
            row = await self.app.replies.submit(request)
        except InvalidInput as exc:
            await fail(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except NotFound as exc:
            await fail(context, grpc.StatusCode.NOT_FOUND, str(exc))
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
