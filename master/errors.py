"""Errors of our own RPC handlers, in one place.

Every request is checked against master/limits.py before its handler runs
(INVALID_ARGUMENT). A domain error a handler raises (bad input, not found,
already exists, a version conflict, a login or supervisord refusal) becomes
its gRPC status here, by the table DOMAIN_STATUS, so the Control modules
only raise. An unexpected exception becomes INTERNAL with a short incident
id, and the full traceback goes to the log under that id.

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

from hiscrm_common.supervisor_client import SupervisorError
from master.accounts import AlreadyExists, Conflict, NotFound
from master.limits import LimitError, check_request
from master.logins import LoginError
from master.registry import RegistrationError
from master.validation import InvalidInput

log = logging.getLogger(__name__)

# Control and WorkerGateway; health and reflection are grpc's own.
OUR_PREFIX = "/hiscrm.v1."
Behavior = Callable[..., Any]


# exception class -> status; an exception with a `code` attribute naming a
# grpc.StatusCode (LoginError, RegistrationError) uses that instead.
DOMAIN_STATUS: dict[type[Exception], grpc.StatusCode] = {
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    LimitError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    Conflict: grpc.StatusCode.ABORTED,
    LoginError: grpc.StatusCode.FAILED_PRECONDITION,
    RegistrationError: grpc.StatusCode.INVALID_ARGUMENT,
    SupervisorError: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str] | None:
    """The status a domain error answers with, or None for an unexpected one."""
    for cls, default in DOMAIN_STATUS.items():
        if isinstance(exc, cls):
            code = getattr(exc, "code", None)
            if isinstance(exc, SupervisorError):
                code = "NOT_FOUND" if code == "BAD_NAME" else None
            status = getattr(grpc.StatusCode, code, default) if isinstance(code, str) else default
            return status, str(exc)
    return None


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
    """A domain error's status; otherwise log the traceback under a fresh
    incident id and answer INTERNAL."""
    mapped = status_of(exc)
    if mapped is not None:
        try:
            await context.abort(*mapped)
        except grpc.aio.UsageError:
            raise exc from None
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


def _check(request: Any) -> None:
    """Requests of unary-request methods; a streaming request is an iterator
    (the worker gateway checks its frames itself, master/frames.py)."""
    if hasattr(request, "ListFields"):
        check_request(request)


def guard(method: str, behavior: Behavior) -> Behavior:
    """The same kind of callable grpc.aio expects (a coroutine function, or
    an async generator function), with the catch-all around it."""
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                _check(request)
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
                _check(request)
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
        return grpc.stream_stream_rpc_method_handler(
            guard(method, _present(handler.stream_stream)), **kwargs
        )
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(
            guard(method, _present(handler.stream_unary)), **kwargs
        )
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(
            guard(method, _present(handler.unary_stream)), **kwargs
        )
    return grpc.unary_unary_rpc_method_handler(
        guard(method, _present(handler.unary_unary)), **kwargs
    )


def _present(behavior: Behavior | None) -> Behavior:
    """grpc sets the one behaviour that the handler's streaming flags name."""
    if behavior is None:
        raise TypeError("a method handler without the behaviour its streaming flags name")
    return behavior


class InternalErrorInterceptor(grpc.aio.ServerInterceptor):
    """Put it after the auth interceptor: a refused call never reaches a
    handler, and the handlers it wraps are the servicer's, one per method."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        method = details.method or ""
        if handler is None or not method.startswith(OUR_PREFIX):
            return handler
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = (handler, _rewrap(handler, method))
            self._wrapped[method] = cached
        return cached[1]
