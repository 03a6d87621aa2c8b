"""Who may call what, and how much of it at once.

Every call of ours carries `authorization: Bearer <secret>`. Operator
tokens call Control, each method needing a role (master/roles.py); worker
credentials and the enrollment token call WorkerGateway only (which worker
id a stream may register as is the gateway's check). Health and reflection
stay open: they reveal nothing but the schema and whether the process is
up; they are counted per peer address so that a flood of them cannot
exhaust the master.

Each admitted call runs with its Principal bound (master/principals.py);
every Control call that changes something, and every refused one from a
known credential, goes to the audit log. Refusals are logged with a rate
limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from hiscrm.v1 import control_pb2
from master import principals, roles
from master.audit import AuditLog
from master.call_limits import CallCounter, Limits
from master.counters import Counters
from master.principals import ENROLLMENT, HOST, OPERATOR, WORKER, Principal
from master.ratelog import RateLimitedLog
from master.tokens import CredentialStore

log = logging.getLogger(__name__)

OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
CONTROL = "/hiscrm.v1.Control/"
GATEWAY = "/hiscrm.v1.WorkerGateway/"
HOST_GATEWAY = "/hiscrm.v1.HostGateway/"
# request fields that name what a call acts on, for the audit log
TARGET_FIELDS = ("account_id", "item_id", "worker_id", "worker_ids", "request_id", "name", "role")


def _status_name(context: grpc.aio.ServicerContext, exc: BaseException | None) -> str:
    with contextlib.suppress(Exception):
        code = context.code()
        if code is not None:
            return code.name if isinstance(code, grpc.StatusCode) else str(code)
    if exc is None:
        return "OK"
    return "CANCELLED" if isinstance(exc, asyncio.CancelledError) else type(exc).__name__


def peer_host(peer: str) -> str:
    """'ipv4:127.0.0.1:5555' -> '127.0.0.1'; 'ipv6:[::1]:5555' -> '::1'."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer


# the workspace's (issue 15): which conversation, saved reply or rule, and the new value
WORKSPACE_FIELDS = ("conversation_ref", "id", "assignee", "status", "take_over")


def targets(request: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in TARGET_FIELDS + WORKSPACE_FIELDS:
        value = getattr(request, name, None)
        if value:
            found[name] = list(value) if name == "worker_ids" else value
    field = getattr(request, "DESCRIPTOR", None)
    status = field.fields_by_name.get("status") if field is not None else None
    if "status" in found and status is not None and status.enum_type is not None:
        found["status"] = status.enum_type.values_by_number[found["status"]].name
    if isinstance(request, control_pb2.CreateRuleRequest | control_pb2.UpdateRuleRequest):
        found["rule"] = f"{request.rule.id or 'new'}:{request.rule.name}"
    return found


Wrapped = Callable[[Any, grpc.aio.ServicerContext, Callable[..., Any]], Any]


def _rewrap(handler: grpc.RpcMethodHandler, around: Callable[..., Any]) -> grpc.RpcMethodHandler:
    """The same kind of handler, with `around` run over the servicer's own."""
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(around(handler.stream_stream), **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(around(handler.stream_unary), **kwargs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(around(handler.unary_stream), **kwargs)
    return grpc.unary_unary_rpc_method_handler(around(handler.unary_unary), **kwargs)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self, credentials: CredentialStore, audit: AuditLog, limits: Limits, counters: Counters
    ) -> None:
        self.credentials = credentials
        self.counters = counters
        self.audit = audit
        self.limits = limits
        self.anonymous = CallCounter(
            limits.max_anonymous_calls_per_peer, limits.max_anonymous_calls
        )
        self.authenticated = CallCounter(limits.max_calls_per_credential, limits.max_calls)
        self.refusals = RateLimitedLog(log)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        method = details.method or ""
        if handler is None:
            return handler
        if method.startswith(OPEN_PREFIXES):
            return _rewrap(handler, lambda b: self._guarded(method, b, None))
        secret = ""
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                text = value if isinstance(value, str) else value.decode(errors="replace")
                secret = text.removeprefix("Bearer ").strip() if text.startswith("Bearer ") else ""
                if not secret:
                    secret = "\0"  # present but not a bearer token
                break
        if not secret:
            return self._deny(
                handler,
                method,
                None,
                grpc.StatusCode.UNAUTHENTICATED,
                "missing token: send metadata 'authorization: Bearer <token>' "
                "(operators: $HISCRM_HOME/token or `hiscrm token create`)",
            )
        principal = self.credentials.authenticate(secret)
        if principal is None:
            return self._deny(
                handler,
                method,
                None,
                grpc.StatusCode.UNAUTHENTICATED,
                "wrong or revoked token: operators use $HISCRM_HOME/token or one from "
                "`hiscrm token create`; workers their own credential",
            )
        problem = self._check(method, principal)
        if problem:
            return self._deny(
                handler, method, principal, grpc.StatusCode.PERMISSION_DENIED, problem
            )
        return _rewrap(handler, lambda b: self._guarded(method, b, principal))

    def _check(self, method: str, principal: Principal) -> str:
        if method.startswith(GATEWAY):
            if principal.kind == OPERATOR:
                return (
                    "an operator token cannot call WorkerGateway: workers connect with their "
                    "own credential or the enrollment token"
                )
            if principal.kind == HOST:
                return "a host credential can call HostGateway only"
            return ""
        if method.startswith(HOST_GATEWAY):
            # host agents only: which host id a stream may say hello as is
            # master/host_gateway.py's check
            if principal.kind in (HOST, ENROLLMENT):
                return ""
            if principal.kind == WORKER:
                return "a worker credential cannot call HostGateway: host agents have their own"
            return (
                "an operator token cannot call HostGateway: host agents have their own credential"
            )
        if not method.startswith(CONTROL):
            return f"{method} is not a method of ours"
        name = method.removeprefix(CONTROL)
        if principal.kind != OPERATOR:
            return (
                f"Control/{name} needs an operator token; a worker or host credential or "
                "the enrollment token can call WorkerGateway or HostGateway only"
            )
        if not roles.allowed(name, principal.role):
            needed = roles.METHOD_ROLE.get(name)
            if needed is None:
                return f"Control/{name} is not open to any role"
            return (
                f"Control/{name} needs role {roles.role_name(needed)}; token "
                f"{principal.name!r} has role {roles.role_name(principal.role)}"
            )
        return ""

    # ------------------------------------------------------------ refusals

    def _deny(
        self,
        handler: grpc.RpcMethodHandler,
        method: str,
        principal: Principal | None,
        code: grpc.StatusCode,
        message: str,
    ) -> grpc.RpcMethodHandler:
        async def deny(_request: object, context: grpc.aio.ServicerContext) -> None:
            peer = context.peer()
            self.counters.calls_refused += 1
            who = principal.actor if principal else "unauthenticated"
            self.refusals.warning(
                f"{code.name}:{peer_host(peer)}:{who}",
                "refused %s from %s (%s): %s %s",
                method,
                peer,
                who,
                code.name,
                message,
            )
            if principal is not None:
                await self.audit.record(
                    method.removeprefix("/hiscrm.v1."),
                    principal=principal,
                    outcome=code.name,
                    detail=message,
                    peer=peer,
                )
            await context.abort(code, message)

        def around(_behavior: Any) -> Any:
            return deny

        return _rewrap(handler, around)

    # ------------------------------------------------------------ admitted calls

    def _admit(self, principal: Principal | None, peer: str) -> tuple[CallCounter, str, str]:
        if principal is None:
            counter, key = self.anonymous, f"peer {peer_host(peer)}"
        elif principal.kind == ENROLLMENT:
            # one enrolling worker's stream lives on under it: counted per
            # connection (so a fleet enrolling at once is not throttled), and
            # in the total
            counter, key = self.authenticated, f"enrollment stream {peer}"
        else:
            counter, key = self.authenticated, f"credential {principal.name}"
        return counter, key, counter.acquire(key)

    def _guarded(self, method: str, behavior: Any, principal: Principal | None) -> Any:
        short = method.removeprefix("/hiscrm.v1.")
        audited = (
            principal is not None
            and method.startswith(CONTROL)
            and method.removeprefix(CONTROL) not in roles.READ_ONLY
        )

        async def enter(context: grpc.aio.ServicerContext) -> tuple[CallCounter, str, Any]:
            peer = context.peer()
            counter, key, refusal = self._admit(principal, peer)
            if refusal:
                self.counters.calls_exhausted += 1
                self.refusals.warning(
                    f"exhausted:{key}",
                    "RESOURCE_EXHAUSTED for %s from %s: over %s",
                    method,
                    peer,
                    refusal,
                )
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"too many concurrent calls: over {refusal}; close some or retry later",
                )
            bound = principal
            if principal is not None:
                bound = dataclasses.replace(principal, peer=peer)
            return counter, key, principals.bind(bound)

        async def leave(
            counter: CallCounter,
            key: str,
            token: Any,
            request: Any,
            context: grpc.aio.ServicerContext,
            exc: BaseException | None,
            streamed: bool = False,
        ) -> None:
            counter.release(key)
            bound = principals.current()
            principals.unbind(token)
            if audited and bound is not None:
                fields = targets(request) if request is not None else {}
                # a stream's end may be its cancellation: the entry must not
                # depend on this task living on
                write = self.audit.record_soon if streamed else self.audit.record
                await write(
                    short,
                    principal=bound,
                    account_id=str(fields.pop("account_id", "")),
                    item_id=int(fields.pop("item_id", 0) or 0),
                    worker_id=",".join(fields.pop("worker_ids", [])) or fields.pop("worker_id", ""),
                    detail=" ".join(f"{k}={v}" for k, v in fields.items()),
                    outcome=_status_name(context, exc),
                )

        if inspect.isasyncgenfunction(behavior):

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                counter, key, token = await enter(context)
                failure: BaseException | None = None
                try:
                    async with contextlib.aclosing(behavior(request, context)) as responses:
                        async for response in responses:
                            yield response
                except BaseException as exc:
                    failure = exc
                    raise
                finally:
                    await leave(counter, key, token, request, context, failure, True)

            return stream

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            counter, key, token = await enter(context)
            failure: BaseException | None = None
            try:
                return await behavior(request, context)
            except BaseException as exc:
                failure = exc
                raise
            finally:
                streaming_in = inspect.isasyncgen(request) or hasattr(request, "__aiter__")
                await leave(
                    counter, key, token, None if streaming_in else request, context, failure
                )

        return call
