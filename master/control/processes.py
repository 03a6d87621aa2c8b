"""Control RPCs that act on worker processes through supervisord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from hiscrm.v1 import control_pb2
from hiscrm_common.supervisor_client import OpResult, SupervisorError
from master.control.base import RpcBase, fail
from master.processes import Processes, process_state

DEFAULT_TAIL = 16 * 1024
FOLLOW_POLL_S = 0.5
MAX_WORKERS = 16


def _result(worker_id: str, r: OpResult) -> control_pb2.WorkerActionResult:
    return control_pb2.WorkerActionResult(
        worker_id=worker_id, ok=r.ok, message=r.message, process_state=process_state(r.state)
    )


class ProcessRpcs(RpcBase):
    processes: Processes

    async def _act(
        self, request: control_pb2.WorkerTargets, context: grpc.aio.ServicerContext, op: str
    ) -> control_pb2.WorkerActionResponse:
        if not request.all and not request.worker_ids:
            await fail(context, grpc.StatusCode.INVALID_ARGUMENT, "name worker_ids, or set all")
        ids = await self.processes.resolve(list(request.worker_ids), request.all)
        method = getattr(self.processes.client, f"{op}_many")
        try:
            results = await method([Processes.name_of(w) for w in ids])
        finally:
            self.processes.changed()
        return control_pb2.WorkerActionResponse(
            results=[_result(w, r) for w, r in zip(ids, results, strict=True)]
        )

    async def StartWorker(
        self, request: control_pb2.WorkerTargets, context: grpc.aio.ServicerContext
    ) -> control_pb2.WorkerActionResponse:
        return await self._act(request, context, "start")

    async def StopWorker(
        self, request: control_pb2.WorkerTargets, context: grpc.aio.ServicerContext
    ) -> control_pb2.WorkerActionResponse:
        return await self._act(request, context, "stop")

    async def RestartWorker(
        self, request: control_pb2.WorkerTargets, context: grpc.aio.ServicerContext
    ) -> control_pb2.WorkerActionResponse:
        return await self._act(request, context, "restart")

    async def ScaleWorkers(
        self, request: control_pb2.ScaleWorkersRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.WorkerActionResponse:
        if request.count > MAX_WORKERS:
            await fail(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"count {request.count} is over the {MAX_WORKERS} slots in etc/supervisord.conf",
            )
        try:
            result = await self.processes.client.scale_group("worker", request.count)
        finally:
            self.processes.changed()
        self.app.remember_worker_count(request.count)
        return control_pb2.WorkerActionResponse(
            results=[
                _result(r.name.split(":", 1)[-1], r) for r in (*result.started, *result.stopped)
            ]
        )

    async def TailWorkerLog(
        self, request: control_pb2.TailWorkerLogRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[control_pb2.LogChunk]:
        name = Processes.name_of(request.worker_id)
        client = self.processes.client
        text, offset, overflow = await client.tail_last(name, request.max_bytes or DEFAULT_TAIL)
        yield control_pb2.LogChunk(worker_id=request.worker_id, text=text, overflow=overflow)
        while request.follow:
            await asyncio.sleep(FOLLOW_POLL_S)
            try:
                text, offset, overflow = await client.tail_log(name, offset, 64 * 1024)
            except SupervisorError as exc:
                await fail(context, grpc.StatusCode.UNAVAILABLE, str(exc))
            if text:
                yield control_pb2.LogChunk(
                    worker_id=request.worker_id, text=text, overflow=overflow
                )
