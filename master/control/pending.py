"""RPCs declared in the protocol whose implementation has not landed yet.

Each answers UNIMPLEMENTED with a message naming what it waits for, rather
than gRPC's anonymous "Method not implemented!".
"""

from __future__ import annotations

from typing import NoReturn

import grpc

from master.control.base import RpcBase, fail


class PendingRpcs(RpcBase):
    async def _pending(self, context: grpc.aio.ServicerContext, rpc: str, what: str) -> NoReturn:
        await fail(
            context,
            grpc.StatusCode.UNIMPLEMENTED,
            f"{rpc} is not implemented in this master yet; it arrives with {what}",
        )

    async def SendReply(self, request: object, context: grpc.aio.ServicerContext) -> None:
        await self._pending(context, "SendReply", "platform adapters that can reply")
