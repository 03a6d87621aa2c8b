"""Control RPCs about workers."""

from __future__ import annotations

import grpc

from hiscrm.v1 import control_pb2
from master.control.base import RpcBase, fail


class FleetRpcs(RpcBase):
    async def ListWorkers(
        self, request: control_pb2.ListWorkersRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListWorkersResponse:
        registry = self.app.registry
        wanted = set(request.states)
        records = sorted(registry.workers.values(), key=lambda w: w.worker_id)
        return control_pb2.ListWorkersResponse(
            workers=[registry.describe(w) for w in records if not wanted or w.state in wanted]
        )

    async def GetWorker(
        self, request: control_pb2.GetWorkerRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Worker:
        record = self.app.registry.workers.get(request.worker_id)
        if record is None:
            await fail(context, grpc.StatusCode.NOT_FOUND, f"no worker {request.worker_id!r}")
        return self.app.registry.describe(record)
