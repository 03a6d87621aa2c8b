"""Which worker id a WorkerGateway stream may register as.

A worker credential is bound to one worker id (and, under mTLS, to the
client certificate it enrolled with). The enrollment token registers only a
worker id that has no credential yet and has not been seen lately; the
master then mints that id's own credential and hands it over in Welcome,
once. So a worker id cannot be taken over by another credential, live or
just disconnected, and a reconnecting worker proves it is the same one.
"""

from __future__ import annotations

import logging

import grpc

from hiscrm.v1 import gateway_pb2
from master.principals import ENROLLMENT, WORKER, Principal
from master.registry import MISSING, ONLINE, RegistrationError, WorkerRegistry
from master.tokens import CredentialError, CredentialStore

log = logging.getLogger(__name__)


def certificate_identity(context: grpc.aio.ServicerContext) -> str:
    """The client certificate's common name under mTLS, else ''."""
    try:
        values = context.auth_context().get("x509_common_name") or []
    except Exception:
        return ""
    return b",".join(values).decode(errors="replace")


class Enrollment:
    def __init__(self, credentials: CredentialStore, registry: WorkerRegistry) -> None:
        self.credentials = credentials
        self.registry = registry
        # worker ids whose new credential was handed over but never used: the
        # worker may have died before keeping it (from the credentials'
        # last use, which is stored: it holds across a master restart)
        self._unconfirmed: set[str] = set()

    def load(self) -> None:
        self._unconfirmed = self.credentials.never_used_workers()

    def confirm(self, worker_id: str) -> None:
        """The worker sent a frame after its Welcome: it kept its credential."""
        if worker_id in self._unconfirmed:
            self._unconfirmed.discard(worker_id)
            self.credentials.note_kept(worker_id)

    def check(self, principal: Principal | None, reg: gateway_pb2.Register, cert: str) -> None:
        """Raises RegistrationError when this credential may not register as reg.worker_id."""
        wid = reg.worker_id
        if principal is None:
            raise RegistrationError("UNAUTHENTICATED", "no credential on this stream")
        if principal.kind == WORKER:
            if principal.worker_id != wid:
                raise RegistrationError(
                    "PERMISSION_DENIED",
                    f"this credential belongs to worker {principal.worker_id}, not {wid}",
                )
            if principal.cert_identity and principal.cert_identity != cert:
                raise RegistrationError(
                    "PERMISSION_DENIED",
                    f"worker {wid} enrolled with client certificate {principal.cert_identity!r}; "
                    f"this stream presents {cert or 'none'!r}",
                )
            self.confirm(wid)  # it kept its credential: no re-enrollment now
            return
        if principal.kind != ENROLLMENT:
            raise RegistrationError("PERMISSION_DENIED", "operator tokens cannot register workers")
        record = self.registry.workers.get(wid)
        if wid in self._unconfirmed:
            # its credential was never used: enrolling again replaces it,
            # unless the stream it came on is still live (and may yet use it)
            if record is not None and record.state == ONLINE:
                raise RegistrationError(
                    "PERMISSION_DENIED",
                    f"worker id {wid} enrolled moments ago and is still connected",
                )
            return
        if self.credentials.worker_credential(wid) is not None:
            raise RegistrationError(
                "PERMISSION_DENIED",
                f"worker id {wid} is already enrolled: it must connect with its own credential "
                f"(its data directory's 'credential' file); if that is lost, an admin revokes "
                f"it (hiscrm token revoke worker:{wid}) and the worker enrolls again",
            )
        if record is not None and record.state in (ONLINE, MISSING):
            raise RegistrationError(
                "PERMISSION_DENIED",
                f"worker id {wid} was connected moments ago; the enrollment token cannot "
                "take over a live or recently disconnected worker id",
            )

    async def issue(self, principal: Principal, worker_id: str, cert: str) -> str:
        """The worker's own credential, when it came with the enrollment token."""
        if principal.kind != ENROLLMENT:
            return ""
        if worker_id in self._unconfirmed:
            await self.withdraw(worker_id)
            self._unconfirmed.discard(worker_id)
        try:
            _row, secret = await self.credentials.create(
                kind=WORKER,
                name=f"worker:{worker_id}",
                worker_id=worker_id,
                cert_identity=cert,
                created_by=f"enrollment from {principal.peer}",
            )
        except CredentialError as exc:
            raise RegistrationError(exc.code, str(exc)) from None
        self._unconfirmed.add(worker_id)  # until its first frame or its own credential
        log.info(
            "worker %s enrolled from %s%s",
            worker_id,
            principal.peer,
            f" with certificate {cert!r}" if cert else "",
        )
        return secret

    async def withdraw(self, worker_id: str) -> None:
        """Revoke a credential minted for a registration that then failed, so
        the worker can enroll again instead of being locked out of its id."""
        try:
            await self.credentials.revoke(name=f"worker:{worker_id}")
        except CredentialError as exc:
            log.warning("worker %s: could not withdraw its new credential: %s", worker_id, exc)
