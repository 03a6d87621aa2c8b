"""Control RPCs about worker hosts (master/hosts.py)."""

from __future__ import annotations

import logging

import grpc

from hiscrm.v1 import common_pb2, control_pb2
from master.control.base import RpcBase, fail
from master.limits import ID_RE
from master.tokens import CredentialError

log = logging.getLogger(__name__)


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

    async def ForgetHost(
        self, request: control_pb2.ForgetHostRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ForgetHostResponse:
        """A host gone for good: its credential revoked first (so it cannot
        come back unnoticed), then it is dropped from the registry and the
        database. A retry after a failure finishes what is left."""
        host_id = request.host_id
        if not ID_RE.match(host_id):
            await fail(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"host id {host_id[:64]!r} is invalid"
            )
        record = self.app.hosts.hosts.get(host_id)
        if record is None:
            await fail(context, grpc.StatusCode.NOT_FOUND, f"no host {host_id!r} (hiscrm hosts)")
        assert record is not None
        if record.link is not None and not record.link.closed.is_set():
            await fail(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"host {host_id} is connected ({common_pb2.WorkerState.Name(record.state)}): "
                "take it out first (`hiscrm leave` on it, or stop its agent), then forget it",
            )
        credential = self.app.credentials.host_credential(host_id)
        revoked = ""
        if credential is not None:
            try:
                revoked = (await self.app.credentials.revoke(token_id=credential.token_id)).token_id
            except CredentialError as exc:
                await fail(context, getattr(grpc.StatusCode, exc.code), str(exc))
        workers = sorted(w.worker_id for w in self.app.hosts.workers_of(host_id))
        try:
            await self.app.host_store.forget(host_id)
        except Exception as exc:
            log.exception("host %s: not forgotten", host_id)
            await fail(
                context,
                grpc.StatusCode.UNAVAILABLE,
                f"host {host_id}: its credential is revoked but it could not be removed from "
                f"the database ({type(exc).__name__}); try again",
            )
        return control_pb2.ForgetHostResponse(
            host_id=host_id, revoked_token_id=revoked, worker_ids=workers
        )
