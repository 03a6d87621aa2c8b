"""Who is calling: set by the auth interceptor for the duration of one RPC.

A context variable, because the servicer runs in the task the interceptor's
wrapper runs in, and this keeps principals out of every method signature.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

from hiscrm.v1 import control_pb2

OPERATOR = control_pb2.CREDENTIAL_KIND_OPERATOR
WORKER = control_pb2.CREDENTIAL_KIND_WORKER
ENROLLMENT = control_pb2.CREDENTIAL_KIND_ENROLLMENT
HOST = control_pb2.CREDENTIAL_KIND_HOST  # a host agent; worker_id holds its host id


@dataclass(frozen=True)
class Principal:
    kind: int
    name: str
    token_id: str
    role: int = control_pb2.ROLE_UNSPECIFIED
    worker_id: str = ""
    cert_identity: str = ""
    peer: str = ""

    @property
    def actor(self) -> str:
        if self.kind == WORKER:
            return f"worker:{self.worker_id}"
        if self.kind == ENROLLMENT:
            return "enrollment"
        if self.kind == HOST:
            return f"host:{self.worker_id}"
        return self.name


_CURRENT: ContextVar[Principal | None] = ContextVar("hiscrm_principal", default=None)


def current() -> Principal | None:
    return _CURRENT.get()


def actor() -> str:
    """The calling operator's name, or "" outside an authenticated call."""
    principal = _CURRENT.get()
    return principal.actor if principal else ""


def bind(principal: Principal | None) -> Token[Principal | None]:
    return _CURRENT.set(principal)


def unbind(token: Token[Principal | None]) -> None:
    try:
        _CURRENT.reset(token)
    except ValueError:
        # a stream finalized from another context: nothing of ours to restore
        _CURRENT.set(None)
