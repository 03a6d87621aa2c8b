"""Control RPCs that act on worker processes through supervisord: the
master's own, or a worker host's through its agent (master/host_commands.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from hiscrm.v1 import control_pb2
from hiscrm_common.supervisor_client import OpResult, SupervisorError
from master import host_commands
from master.control.base import RpcBase, fail
from master.hosts import HostRecord, spread
from master.processes import Processes, process_state
from master.registry import ONLINE

DEFAULT_TAIL = 16 * 1024
FOLLOW_POLL_S = 0.5
MAX_WORKERS = 16


def _result(worker_id: str, r: OpResult) -> control_pb2.WorkerActionResult:
    return control_pb2.WorkerActionResult(
        worker_id=worker_id, ok=r.ok, message=r.message, process_state=process_state(r.state)
    )


class ProcessRpcs(RpcBase):
    processes: Processes

    async def _host(self, host_id: str, context: grpc.aio.ServicerContext) -> HostRecord:
        record = self.app.hosts.hosts.get(host_id)
        if record is None:
            await fail(context, grpc.StatusCode.NOT_FOUND, f"no host {host_id!r} (ListHosts)")
        assert record is not None
        if record.link is None:
            await fail(
                context,
                grpc.StatusCode.UNAVAILABLE,
                f"host {host_id} is not connected ({record.state_reason})",
            )
        return record

    async def _act(
        self, request: control_pb2.WorkerTargets, context: grpc.aio.ServicerContext, op: str
    ) -> control_pb2.WorkerActionResponse:
        if not request.all and not request.worker_ids:
            await fail(context, grpc.StatusCode.INVALID_ARGUMENT, "name worker_ids, or set all")
        if request.host:
            record = await self._host(request.host, context)
            ids = list(request.worker_ids) or sorted(record.process_names())
            return control_pb2.WorkerActionResponse(
                results=await host_commands.act(record, op, ids)
            )
        # each worker where it runs: a host agent's supervisord, else ours
        remote: dict[str, list[str]] = {}
        local: list[str] = []
        if request.all:
            for online in self.app.hosts.online():
                remote[online.host_id] = sorted(online.process_names())
            try:
                local = await self.processes.resolve([], True)
            except SupervisorError:
                local = []  # no local supervisord: the hosts' workers only
        else:
            for worker_id in request.worker_ids:
                owner = self.app.hosts.host_of(worker_id)
                if owner is None:
                    local.append(worker_id)
                else:
                    remote.setdefault(owner.host_id, []).append(worker_id)
        method = getattr(self.processes.client, f"{op}_many")
        try:
            local_results = await method([Processes.name_of(w) for w in local]) if local else []
        finally:
            self.processes.changed()
        results = [_result(w, r) for w, r in zip(local, local_results, strict=True)]
        batches = [
            host_commands.act(self.app.hosts.hosts[h], op, ids) for h, ids in remote.items() if ids
        ]
        for batch in await asyncio.gather(*batches):
            results.extend(batch)
        return control_pb2.WorkerActionResponse(results=results)

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
        if request.spread or request.host:
            return await self._scale_hosts(request, context)
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

    async def _scale_hosts(
        self, request: control_pb2.ScaleWorkersRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.WorkerActionResponse:
        if request.spread and request.host:
            await fail(context, grpc.StatusCode.INVALID_ARGUMENT, "spread or host, not both")
        if request.host:
            record = await self._host(request.host, context)
            if request.count > record.slots:
                await fail(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"count {request.count} is over the {record.slots} slots of host "
                    f"{record.host_id}",
                )
            shares = {record.host_id: request.count}
        else:
            hosts = [h for h in self.app.hosts.online() if h.state == ONLINE]
            if not hosts:
                await fail(context, grpc.StatusCode.FAILED_PRECONDITION, "no host is online")
            total = sum(h.slots for h in hosts)
            if request.count > total:
                await fail(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"count {request.count} is over the {total} slots of the online hosts",
                )
            shares = spread(request.count, hosts)
        results: list[control_pb2.WorkerActionResult] = []
        for host_id, count in shares.items():
            try:
                results.extend(await host_commands.scale(self.app.hosts.hosts[host_id], count))
            except host_commands.HostUnavailable as exc:
                await fail(context, grpc.StatusCode.UNAVAILABLE, str(exc))
        return control_pb2.WorkerActionResponse(results=results)

    async def TailWorkerLog(
        self, request: control_pb2.TailWorkerLogRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[control_pb2.LogChunk]:
        host = (
            await self._host(request.host, context)
            if request.host
            else self.app.hosts.host_of(request.worker_id)
        )
        if host is not None:
            async for chunk in self._tail_remote(host, request, context):
                yield chunk
            return
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

    async def _tail_remote(
        self,
        host: HostRecord,
        request: control_pb2.TailWorkerLogRequest,
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[control_pb2.LogChunk]:
        offset = 0
        nbytes = request.max_bytes or DEFAULT_TAIL
        first = True
        while True:
            try:
                text, offset, overflow = await host_commands.tail(
                    host, request.worker_id, offset, nbytes
                )
            except host_commands.HostUnavailable as exc:
                await fail(context, grpc.StatusCode.UNAVAILABLE, str(exc))
            if text or first:
                yield control_pb2.LogChunk(
                    worker_id=request.worker_id, text=text, overflow=overflow
                )
            if not request.follow:
                return
            first, nbytes = False, 64 * 1024
            await asyncio.sleep(FOLLOW_POLL_S)
