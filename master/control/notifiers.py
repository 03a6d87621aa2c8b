"""Control RPCs for notification targets (issue 15); their URLs are write-only."""

from __future__ import annotations

import grpc

from hiscrm.v1 import control_pb2
from master.control.base import RpcBase
from master.control.conversations import operator


class NotifierRpcs(RpcBase):
    async def ListNotifiers(
        self, request: control_pb2.ListNotifiersRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListNotifiersResponse:
        return self.app.notifications.listing()

    async def CreateNotifier(
        self, request: control_pb2.CreateNotifierRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Notifier:
        await self.app.notifications.store.save(request, operator(), create=True)
        await self.app.notifications.reload()
        return self.app.notifications.proto_of(request.name)

    async def UpdateNotifier(
        self, request: control_pb2.UpdateNotifierRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Notifier:
        await self.app.notifications.store.save(request, operator(), create=False)
        await self.app.notifications.reload()
        return self.app.notifications.proto_of(request.name)

    async def DeleteNotifier(
        self, request: control_pb2.DeleteNotifierRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.DeleteNotifierResponse:
        await self.app.notifications.store.delete(request.name)
        await self.app.notifications.reload()
        return control_pb2.DeleteNotifierResponse(name=request.name)

    async def TestNotifier(
        self, request: control_pb2.TestNotifierRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Notifier:
        self.app.notifications.test(request.name)
        return self.app.notifications.proto_of(request.name)
