"""Bearer-token authentication for every RPC of ours.

Health and reflection stay open: they reveal nothing but the schema and
whether the process is up, and load balancers and grpcurl need them.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

import grpc

log = logging.getLogger(__name__)

OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _denier(
    handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str
) -> grpc.RpcMethodHandler:
    async def deny(_request: object, context: grpc.aio.ServicerContext) -> None:
        await context.abort(code, message)

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(deny, **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(deny, **kwargs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(deny, **kwargs)
    return grpc.unary_unary_rpc_method_handler(deny, **kwargs)


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method or ""
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        presented = ""
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                presented = value if isinstance(value, str) else value.decode(errors="replace")
                break
        if not presented:
            log.warning("refused %s: no authorization metadata", method)
            return _denier(
                handler,
                grpc.StatusCode.UNAUTHENTICATED,
                "missing token: send metadata 'authorization: Bearer <token>' "
                "(the token is in $HISCRM_HOME/token or $HISCRM_TOKEN)",
            )
        if not hmac.compare_digest(presented.encode(), self._expected):
            log.warning("refused %s: wrong token", method)
            return _denier(
                handler,
                grpc.StatusCode.UNAUTHENTICATED,
                "wrong token: use the one in $HISCRM_HOME/token or $HISCRM_TOKEN",
            )
        return handler
