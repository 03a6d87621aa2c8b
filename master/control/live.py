"""Control.WatchEvents: the live stream behind the TUI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from hiscrm.v1 import control_pb2
from master.control.base import RpcBase
from master.events import SubscriberOverflow


class LiveRpcs(RpcBase):
    async def WatchEvents(
        self, request: control_pb2.WatchEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[control_pb2.Event]:
        sub = self.app.bus.subscribe(
            list(request.kinds), list(request.account_ids), name=context.peer()
        )
        try:
            # The stream's headers say "subscribed": a client that reads the
            # current state only once they arrive misses no event in between
            # (a server stream is otherwise silent until its first event).
            await context.send_initial_metadata(())
            while True:
                try:
                    event = await sub.next()
                except SubscriberOverflow as exc:
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
                    return
                yield event
        finally:
            self.app.bus.unsubscribe(sub)
