"""Control RPCs about workers."""

from __future__ import annotations

import grpc

from hiscrm.v1 import common_pb2, control_pb2
from master.control.base import RpcBase, fail

UNMANAGED = common_pb2.PROCESS_STATE_UNSPECIFIED  # a worker supervisord does not run


class FleetRpcs(RpcBase):
    async def ListWorkers(
        self, request: control_pb2.ListWorkersRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListWorkersResponse:
        registry = self.app.registry
        wanted = set(request.states)
        records = sorted(registry.workers.values(), key=lambda w: w.worker_id)
        states = await self.app.processes.states()
        states.update(self.app.hosts.process_states())  # workers on other hosts
        held = self.app.scheduler.accounts_by_worker()
        workers = []
        for record in records:
            if wanted and record.state not in wanted:
                continue
            worker = record.to_proto(held.get(record.worker_id, []))
            worker.process_state = states.get(record.worker_id, UNMANAGED)
            workers.append(worker)
        return control_pb2.ListWorkersResponse(workers=workers)

    async def GetWorker(
        self, request: control_pb2.GetWorkerRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Worker:
        record = self.app.registry.workers.get(request.worker_id)
        if record is None:
            await fail(context, grpc.StatusCode.NOT_FOUND, f"no worker {request.worker_id!r}")
        worker = self.app.registry.describe(record)
        states = await self.app.processes.states()
        states.update(self.app.hosts.process_states())
        worker.process_state = states.get(record.worker_id, UNMANAGED)
        return worker
