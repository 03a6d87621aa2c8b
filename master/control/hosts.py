"""Control RPCs about worker hosts (master/hosts.py)."""

from __future__ import annotations

import grpc

from hiscrm.v1 import control_pb2
from master.control.base import RpcBase, fail


class HostRpcs(RpcBase):
    async def ListHosts(
        self, request: control_pb2.ListHostsRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListHostsResponse:
        hosts = self.app.hosts
        accounts_of = self.app.scheduler.accounts_of
        return control_pb2.ListHostsResponse(
            hosts=[hosts.describe(h, accounts_of) for _, h in sorted(hosts.hosts.items())]
        )

    async def GetHost(
        self, request: control_pb2.GetHostRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Host:
        record = self.app.hosts.hosts.get(request.host_id)
        if record is None:
            await fail(context, grpc.StatusCode.NOT_FOUND, f"no host {request.host_id!r}")
        assert record is not None
        return self.app.hosts.describe(record, self.app.scheduler.accounts_of)
