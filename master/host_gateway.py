"""HostGateway: the host agents' stream, their enrollment, and leaving.

A host credential is bound to one host id. The enrollment token says hello
only as a host id that has no credential yet and is not connected; the
master then mints that host's own credential and sends it in HostWelcome,
once, with the fleet's session key when the master has one (the host's
workers decrypt the sessions handed to them with it; docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import grpc

from hiscrm.v1 import hosts_pb2, hosts_pb2_grpc
from hiscrm_common import settings
from master import principals
from master.enrollment import certificate_identity
from master.hosts import HostFrameError, HostLink, HostRecord
from master.principals import ENROLLMENT, HOST, Principal
from master.registry import ONLINE, RegistrationError
from master.tokens import CredentialError

if TYPE_CHECKING:
    from master.app import MasterApp

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 15.0
LEAVE_DEFAULT_S = 60.0
LEAVE_MAX_S = 600.0


def session_key() -> str:
    """The fleet's session key as the master's own settings hold it, or ''."""
    secret = settings.get().secret_key
    if secret is not None and secret.get_secret_value().strip():
        return secret.get_secret_value().strip()
    path = settings.home() / "secret.key"
    if path.exists():
        return settings.read_secret_file(path).strip()
    return ""


def private_link(context: grpc.aio.ServicerContext) -> bool:
    """TLS, or a peer on this machine: where secrets may be handed over."""
    try:
        security = context.auth_context().get("transport_security_type") or []
    except Exception:
        security = []
    if b"ssl" in security:
        return True
    peer = context.peer()
    return peer.startswith(("ipv4:127.", "ipv6:[::1]", "unix:"))


class HostGateway(hosts_pb2_grpc.HostGatewayServicer):
    def __init__(self, app: MasterApp) -> None:
        self.app = app

    # ------------------------------------------------------------ enrollment

    def _check(self, principal: Principal | None, host_id: str) -> None:
        if principal is None:
            raise RegistrationError("UNAUTHENTICATED", "no credential on this stream")
        if principal.kind == HOST:
            if principal.worker_id != host_id:
                raise RegistrationError(
                    "PERMISSION_DENIED",
                    f"this credential belongs to host {principal.worker_id}, not {host_id}",
                )
            return
        if principal.kind != ENROLLMENT:
            raise RegistrationError("PERMISSION_DENIED", "only host agents may say hello")
        if self.app.credentials.host_credential(host_id) is not None:
            raise RegistrationError(
                "PERMISSION_DENIED",
                f"host id {host_id} is already enrolled: its agent must connect with its own "
                f"credential ($HISCRM_HOME/host-credential there); if that is lost, an admin "
                f"revokes it (hiscrm token revoke host:{host_id}) and the host joins again",
            )

    async def _issue(self, principal: Principal, host_id: str, cert: str) -> str:
        if principal.kind != ENROLLMENT:
            return ""
        try:
            _row, secret = await self.app.credentials.create(
                kind=HOST,
                name=f"host:{host_id}",
                worker_id=host_id,
                cert_identity=cert,
                created_by=f"enrollment from {principal.peer}",
            )
        except CredentialError as exc:
            raise RegistrationError(exc.code, str(exc)) from None
        log.info("host %s enrolled from %s", host_id, principal.peer)
        return secret

    async def _withdraw(self, host_id: str) -> None:
        """Revoke a credential minted for a hello that then failed, so the
        host can join again instead of being locked out of its id."""
        try:
            await self.app.credentials.revoke(name=f"host:{host_id}")
        except CredentialError as exc:
            log.warning("host %s: could not withdraw its new credential: %s", host_id, exc)

    # ------------------------------------------------------------ the stream

    async def Connect(self, request_iterator: object, context: grpc.aio.ServicerContext) -> None:
        peer = context.peer()
        try:
            first = await asyncio.wait_for(context.read(), HELLO_TIMEOUT_S)
        except TimeoutError:
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED, f"no HostHello within {HELLO_TIMEOUT_S:.0f}s"
            )
            return
        if first is grpc.aio.EOF or first.WhichOneof("frame") != "hello":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "the first frame on a stream must be HostHello"
            )
            return
        hello = first.hello
        principal = principals.current()
        registry = self.app.hosts
        credential = ""
        try:
            self._check(principal, hello.host_id)
            assert principal is not None
            if principal.kind == ENROLLMENT and not private_link(context):
                raise RegistrationError(
                    "FAILED_PRECONDITION",
                    f"host {hello.host_id} would receive its credential and the session key "
                    "in the clear: turn on TLS on the master (HISCRM_TLS_CERT/HISCRM_TLS_KEY) "
                    "and join with --ca, or join from the master's own machine",
                )
            # enrolled before it is online: a host shown online has its credential stored
            credential = await self._issue(principal, hello.host_id, certificate_identity(context))
            try:
                record, link = registry.attach(hello)
            except RegistrationError:
                if credential:
                    await self._withdraw(hello.host_id)
                raise
        except (HostFrameError, RegistrationError) as exc:
            code = getattr(exc, "code", "INVALID_ARGUMENT")
            log.warning("host %.64r refused from %s: %s", hello.host_id, peer, exc)
            self.app.audit.record_later(
                "host/hello",
                principal=principal,
                worker_id=hello.host_id[:64],
                outcome=code,
                detail=str(exc)[:512],
                peer=peer,
            )
            await context.abort(getattr(grpc.StatusCode, code), str(exc))
            return
        welcome = hosts_pb2.HostWelcome(
            connection_id=link.connection_id,
            # hosts report as often as workers beat: missing after the same silence
            report_interval_ms=self.app.config.heartbeat_interval_ms,
            credential=credential,
        )
        if credential:
            welcome.session_key = session_key()
            self.app.audit.record_later(
                "host/enrolled", principal=principal, worker_id=hello.host_id, peer=peer
            )
        await context.write(hosts_pb2.HostCommandFrame(welcome=welcome))
        self.app.scheduler.poke()
        reader = asyncio.create_task(self._read(record, link, context))
        why = "stream ended"
        closed_here = False
        try:
            closed_here, why = await self._write(link, reader, context)
        except asyncio.CancelledError:
            why = "connection lost (agent killed, host or network down)"
            raise
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            registry.detach(record, link, why)
        if closed_here:
            # revoked, silent too long, not reading: the agent learns why
            await context.abort(grpc.StatusCode.UNAVAILABLE, why)

    async def _write(
        self, link: HostLink, reader: asyncio.Task[str], context: grpc.aio.ServicerContext
    ) -> tuple[bool, str]:
        """(whether the master closed the link, why) when the stream ends."""
        closed = asyncio.create_task(link.closed.wait())
        try:
            while True:
                getter = asyncio.create_task(link.outbound.get())
                done, _ = await asyncio.wait(
                    {getter, reader, closed}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter in done:
                    await context.write(getter.result())
                    continue
                getter.cancel()
                if reader in done:
                    return False, reader.result()
                return True, link.close_reason
        finally:
            closed.cancel()

    async def _read(
        self, record: HostRecord, link: HostLink, context: grpc.aio.ServicerContext
    ) -> str:
        while True:
            frame = await context.read()
            if frame is grpc.aio.EOF:
                return "the agent closed its stream"
            kind = frame.WhichOneof("frame")
            try:
                if kind == "report":
                    self.app.hosts.report(record, frame.report)
                elif kind == "result":
                    if not link.resolve(frame.result):
                        log.warning(
                            "host %s: result for unknown request %.128r dropped",
                            record.host_id,
                            frame.result.request_id,
                        )
                else:
                    raise HostFrameError(f"unexpected {kind or 'empty'} frame")
            except HostFrameError as exc:
                # refused alone: the stream and its other frames carry on
                self.app.counters.frames_rejected += 1
                log.warning("host %s: frame refused: %s", record.host_id, exc)

    # ------------------------------------------------------------ leaving

    async def Leave(
        self, request: hosts_pb2.LeaveRequest, context: grpc.aio.ServicerContext
    ) -> hosts_pb2.LeaveResponse:
        principal = principals.current()
        if principal is None or principal.kind != HOST:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "Leave needs the host's own credential"
            )
        assert principal is not None
        host_id = principal.worker_id
        record = self.app.hosts.hosts.get(host_id)
        if record is None or (record.state != ONLINE and not self.app.hosts.draining(host_id)):
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"host {host_id} is not connected: its agent must run while it drains",
            )
        assert record is not None
        timeout = min(request.timeout_ms / 1000 or LEAVE_DEFAULT_S, LEAVE_MAX_S)
        self.app.hosts.drain(record)
        self.app.audit.record_later("host/leave", principal=principal, worker_id=host_id)
        self.app.scheduler.poke()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        workers = [w.worker_id for w in self.app.hosts.workers_of(host_id)]
        while True:
            left = sum(len(self.app.scheduler.accounts_of(w)) for w in workers)
            if left == 0 or loop.time() >= deadline:
                break
            await asyncio.sleep(0.2)
        log.info("host %s drained: %d accounts left on %s", host_id, left, ",".join(workers))
        return hosts_pb2.LeaveResponse(
            host_id=host_id, accounts_left=left, worker_ids=sorted(workers)
        )
