"""A catch-all for our own RPC handlers: an unexpected exception becomes
INTERNAL with a short incident id, and the full traceback goes to the log
under that id.

Without it grpc answers UNKNOWN with the exception's text, which tells the
operator nothing useful and can carry what must not leave the master (a
failed SQL statement's parameters are account rows, sessions included).
Aborts (context.abort, i.e. every typed status a handler chose) and
cancellations pass through untouched, and so does anything raised after the
client went away: no status can reach it then.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from sqlalchemy.exc import StatementError

log = logging.getLogger(__name__)

# Control and WorkerGateway; health and reflection are grpc's own.
OUR_PREFIX = "/hiscrm.v1."
Behavior = Callable[..., Any]


def incident_id() -> str:
    return secrets.token_hex(4)


def _redact(exc: BaseException) -> None:
    """Keep SQL parameters out of the logged traceback (see the module doc)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StatementError):
            current.hide_parameters = True
        current = current.__cause__ or current.__context__


def _passes_through(exc: Exception, context: grpc.aio.ServicerContext) -> bool:
    if isinstance(exc, grpc.aio.AbortError):
        return True
    try:
        return context.cancelled() or context.done()
    except Exception:  # an odd context: treat the failure as ours to report
        return False


async def _report(method: str, exc: Exception, context: grpc.aio.ServicerContext) -> None:
    """Log the traceback under a fresh incident id and answer INTERNAL."""
    incident = incident_id()
    _redact(exc)
    log.error(
        "incident %s: %s failed with an unexpected %s (peer %s)",
        incident,
        method,
        type(exc).__name__,
        context.peer(),
        exc_info=exc,
    )
    try:
        await context.abort(
            grpc.StatusCode.INTERNAL,
            f"internal error in {method.rsplit('/', 1)[-1]} (incident {incident}); "
            "the master's log has the details under this id",
        )
    except grpc.aio.UsageError:
        raise exc from None  # a status was already on its way; grpc reports this one


def guard(method: str, behavior: Behavior) -> Behavior:
    """The same kind of callable grpc.aio expects (a coroutine function, or
    an async generator function), with the catch-all around it."""
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                # aclosing: when grpc stops reading, the handler's own cleanup
                # (unsubscribe, cancel a login) runs now, not at collection.
                async with contextlib.aclosing(behavior(request, context)) as responses:
                    async for response in responses:
                        yield response
            except Exception as exc:
                if _passes_through(exc, context):
                    raise
                await _report(method, exc, context)

        return stream

    if inspect.iscoroutinefunction(behavior):

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                return await behavior(request, context)
            except Exception as exc:
                if _passes_through(exc, context):
                    raise
                await _report(method, exc, context)

        return call
    return behavior  # a sync handler runs on grpc's executor; none of ours is


def _rewrap(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(guard(method, handler.stream_stream), **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(guard(method, handler.stream_unary), **kwargs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(guard(method, handler.unary_stream), **kwargs)
    return grpc.unary_unary_rpc_method_handler(guard(method, handler.unary_unary), **kwargs)


class InternalErrorInterceptor(grpc.aio.ServerInterceptor):
    """Put it after the auth interceptor: a refused call never reaches a
    handler, and the handlers it wraps are the servicer's, one per method."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method or ""
        if handler is None or not method.startswith(OUR_PREFIX):
            return handler
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = (handler, _rewrap(handler, method))
            self._wrapped[method] = cached
        return cached[1]
