"""Control RPCs about credentials and the audit log (admin, but WhoAmI)."""

from __future__ import annotations

import grpc

from hiscrm.v1 import control_pb2
from master import principals
from master.control.base import RpcBase, fail
from master.principals import OPERATOR, WORKER
from master.tokens import CredentialError, info
from master.validation import InvalidInput


class CredentialRpcs(RpcBase):
    async def WhoAmI(
        self, request: control_pb2.WhoAmIRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.TokenInfo:
        principal = principals.current()
        row = self.app.credentials.rows.get(principal.token_id) if principal else None
        if row is None:
            await fail(context, grpc.StatusCode.UNAUTHENTICATED, "no credential on this call")
        return info(row)

    async def CreateToken(
        self, request: control_pb2.CreateTokenRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.CreateTokenResponse:
        worker = bool(request.worker_id)
        try:
            row, secret = await self.app.credentials.create(
                kind=WORKER if worker else OPERATOR,
                name=request.name or (f"worker:{request.worker_id}" if worker else ""),
                role=control_pb2.ROLE_UNSPECIFIED if worker else request.role,
                worker_id=request.worker_id,
                created_by=principals.actor(),
            )
        except CredentialError as exc:
            await fail(context, getattr(grpc.StatusCode, exc.code), str(exc))
        return control_pb2.CreateTokenResponse(token=info(row), secret=secret)

    async def ListTokens(
        self, request: control_pb2.ListTokensRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListTokensResponse:
        return control_pb2.ListTokensResponse(
            tokens=self.app.credentials.listing(include_revoked=request.include_revoked)
        )

    async def RevokeToken(
        self, request: control_pb2.RevokeTokenRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.TokenInfo:
        if not request.token_id and not request.name:
            await fail(context, grpc.StatusCode.INVALID_ARGUMENT, "give token_id or name")
        try:
            row = await self.app.credentials.revoke(token_id=request.token_id, name=request.name)
        except CredentialError as exc:
            await fail(context, getattr(grpc.StatusCode, exc.code), str(exc))
        if row.worker_id and row.kind == "CREDENTIAL_KIND_HOST":
            # its agent's stream ends now; the host id may join again
            host = self.app.hosts.hosts.get(row.worker_id)
            if host is not None and host.link is not None:
                host.link.close("the host's credential was revoked")
        elif row.worker_id:
            # its stream ends now; the worker id is free for enrollment again
            record = self.app.registry.workers.get(row.worker_id)
            if record is not None and record.conn is not None:
                record.conn.close("the worker's credential was revoked")
        return info(row)

    async def ListAuditLog(
        self, request: control_pb2.ListAuditLogRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListAuditLogResponse:
        try:
            return await self.app.audit.list(request)
        except InvalidInput as exc:
            await fail(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
