"""Credentials: operator tokens with roles, per-worker credentials, the
enrollment token. Only a SHA-256 of each secret is stored; the secret is
shown once, when it is made.

Lookups are in memory (a handful of rows, read on every RPC); every change
is written to the database before it takes effect. When a credential was
last used is written behind, every USAGE_FLUSH_S, except a worker
credential's first use, written at once: a worker credential never used is
one its worker may never have kept (master/enrollment.py), and that must
hold across a master restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets

from sqlalchemy import bindparam, update
from sqlmodel import Session, select

from hiscrm.v1 import control_pb2
from hiscrm_common.timeutil import aware, to_ts, utcnow
from master.principals import ENROLLMENT, HOST, OPERATOR, WORKER, Principal
from master.registry import WORKER_ID_RE
from master.store.database import Database, upsert
from master.store.models import CredentialRow

log = logging.getLogger(__name__)

USAGE_FLUSH_S = 30.0

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
PREFIX = {OPERATOR: "hso_", WORKER: "hsw_", ENROLLMENT: "hse_", HOST: "hsh_"}
FIRST_ADMIN = "first-admin"
ENROLLMENT_NAME = "enrollment"


class CredentialError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # a grpc.StatusCode name


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_id_of(secret_hash: str) -> str:
    return secret_hash[:16]


def info(row: CredentialRow) -> control_pb2.TokenInfo:
    msg = control_pb2.TokenInfo(
        token_id=row.token_id,
        name=row.name,
        kind=row.kind,  # enum values' names, as stored
        role=row.role,
        worker_id=row.worker_id,
        created_by=row.created_by,
        cert_identity=row.cert_identity,
    )
    for field in ("created_at", "revoked_at", "last_used_at"):
        ts = to_ts(aware(getattr(row, field)))
        if ts is not None:
            getattr(msg, field).CopyFrom(ts)
    return msg


class CredentialStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.rows: dict[str, CredentialRow] = {}  # token_id -> row, revoked included
        self._by_hash: dict[str, CredentialRow] = {}
        self._lock = asyncio.Lock()
        self._used: set[str] = set()  # token ids whose last_used_at is not written yet
        self._write_used_now = asyncio.Event()

    async def load(self) -> None:
        rows = await self.db.run(lambda s: list(s.exec(select(CredentialRow))))
        self.rows = {r.token_id: r for r in rows}
        self._by_hash = {r.secret_hash: r for r in rows if r.revoked_at is None}

    # ------------------------------------------------------------ lookups

    def authenticate(self, secret: str, peer: str = "") -> Principal | None:
        row = self._by_hash.get(digest(secret))
        if row is None:
            return None
        self._note_use(row)
        return Principal(
            kind=control_pb2.CredentialKind.Value(row.kind),
            name=row.name,
            token_id=row.token_id,
            role=control_pb2.Role.Value(row.role),
            worker_id=row.worker_id,
            cert_identity=row.cert_identity,
            peer=peer,
        )

    def _note_use(self, row: CredentialRow) -> None:
        if row.last_used_at is None and row.kind == "CREDENTIAL_KIND_WORKER":
            self._write_used_now.set()
        row.last_used_at = utcnow()
        self._used.add(row.token_id)

    def note_kept(self, worker_id: str) -> None:
        """The worker showed it kept its credential (its first frame after
        the Welcome that carried it): as good as a use."""
        row = self.worker_credential(worker_id)
        if row is not None:
            self._note_use(row)

    def never_used_workers(self) -> set[str]:
        """Worker ids whose live credential was issued but never used."""
        return {
            r.worker_id
            for r in self._by_hash.values()
            if r.kind == "CREDENTIAL_KIND_WORKER" and r.last_used_at is None
        }

    async def run_usage(self) -> None:
        """Writes when credentials were last used (a long-lived task)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._write_used_now.wait(), USAGE_FLUSH_S)
            self._write_used_now.clear()
            await self.flush_usage()

    async def flush_usage(self) -> None:
        if not self._used:
            return
        used = {t: self.rows[t].last_used_at for t in self._used if t in self.rows}
        self._used.clear()

        def write(session: Session) -> None:
            table = CredentialRow.__table__  # type: ignore[attr-defined]  # Core: no ORM objects
            session.execute(
                update(table)
                .where(table.c.token_id == bindparam("t"))
                .values(last_used_at=bindparam("at")),
                [{"t": t, "at": at} for t, at in used.items()],
            )
            session.commit()

        try:
            await self.db.run(write)
        except BaseException:
            self._used.update(used)  # written next time
            raise

    def live(self, token_id: str) -> bool:
        row = self.rows.get(token_id)
        return row is not None and row.revoked_at is None

    def worker_credential(self, worker_id: str) -> CredentialRow | None:
        for row in self._by_hash.values():
            if row.kind == "CREDENTIAL_KIND_WORKER" and row.worker_id == worker_id:
                return row
        return None

    def host_credential(self, host_id: str) -> CredentialRow | None:
        for row in self._by_hash.values():
            if row.kind == "CREDENTIAL_KIND_HOST" and row.worker_id == host_id:
                return row
        return None

    def listing(self, *, include_revoked: bool) -> list[control_pb2.TokenInfo]:
        rows = sorted(self.rows.values(), key=lambda r: (r.created_at, r.name))
        return [info(r) for r in rows if include_revoked or r.revoked_at is None]

    # ------------------------------------------------------------ changes

    async def create(
        self,
        *,
        kind: control_pb2.CredentialKind,
        name: str,
        created_by: str,
        role: control_pb2.Role = control_pb2.ROLE_UNSPECIFIED,
        worker_id: str = "",
        cert_identity: str = "",
        secret: str | None = None,
    ) -> tuple[CredentialRow, str]:
        if not NAME_RE.match(name):
            raise CredentialError(
                "INVALID_ARGUMENT",
                f"token name {name!r}: use 1-128 letters, digits and '_.:@-'",
            )
        if kind == OPERATOR and role not in (
            control_pb2.ROLE_VIEWER,
            control_pb2.ROLE_AGENT,
            control_pb2.ROLE_ADMIN,
        ):
            raise CredentialError(
                "INVALID_ARGUMENT", "an operator token needs a role: viewer, agent or admin"
            )
        if kind in (WORKER, HOST) and not WORKER_ID_RE.match(worker_id):
            raise CredentialError("INVALID_ARGUMENT", f"worker or host id {worker_id!r} is invalid")
        async with self._lock:
            if any(r.name == name for r in self._by_hash.values()):
                raise CredentialError(
                    "ALREADY_EXISTS", f"a live token is already named {name!r}; revoke it first"
                )
            if kind == HOST and self.host_credential(worker_id) is not None:
                raise CredentialError(
                    "ALREADY_EXISTS",
                    f"host {worker_id} already has a credential; revoke it first "
                    f"(hiscrm token revoke host:{worker_id})",
                )
            if kind == WORKER and self.worker_credential(worker_id) is not None:
                raise CredentialError(
                    "ALREADY_EXISTS",
                    f"worker {worker_id} already has a credential; revoke it first "
                    f"(hiscrm token revoke worker:{worker_id})",
                )
            secret = secret or PREFIX[kind] + secrets.token_urlsafe(32)
            secret_hash = digest(secret)
            if secret_hash in self._by_hash or token_id_of(secret_hash) in self.rows:
                raise CredentialError("ALREADY_EXISTS", "that secret is already in use")
            row = CredentialRow(
                token_id=token_id_of(secret_hash),
                secret_hash=secret_hash,
                kind=control_pb2.CredentialKind.Name(kind),
                name=name,
                role=control_pb2.Role.Name(role),
                worker_id=worker_id,
                cert_identity=cert_identity,
                created_by=created_by,
            )
            await self._write(row)
            self.rows[row.token_id] = row
            self._by_hash[secret_hash] = row
        log.info(
            "credential %s (%s, %s%s) created by %s",
            row.name,
            row.kind,
            row.role,
            f", worker {worker_id}" if worker_id else "",
            created_by,
        )
        return row, secret

    async def revoke(self, *, token_id: str = "", name: str = "") -> CredentialRow:
        async with self._lock:
            row = self.rows.get(token_id) if token_id else None
            if row is None and name:
                row = next((r for r in self._by_hash.values() if r.name == name), None)
            if row is None or row.revoked_at is not None:
                raise CredentialError(
                    "NOT_FOUND", f"no live token {token_id or name!r} (hiscrm token list)"
                )
            row.revoked_at = utcnow()
            await self._write(row)
            self._by_hash.pop(row.secret_hash, None)
        log.warning("credential %s (%s) revoked", row.name, row.kind)
        return row

    async def _write(self, row: CredentialRow) -> None:
        values = row.model_dump()

        def write(session: Session) -> None:
            upsert(session, CredentialRow, values)
            session.commit()

        await self.db.run(write)

    # ------------------------------------------------------------ first start

    async def bootstrap(self, admin_secret: str, enrollment_secret: str | None) -> None:
        """The first admin token (var/token) when there is no operator token
        yet, and the current enrollment token (any older one is revoked, so
        rotating it is: replace the file, restart the master)."""
        operators = [r for r in self.rows.values() if r.kind == "CREDENTIAL_KIND_OPERATOR"]
        if not operators:
            await self.create(
                kind=OPERATOR,
                name=FIRST_ADMIN,
                role=control_pb2.ROLE_ADMIN,
                created_by="master (first start)",
                secret=admin_secret,
            )
        elif digest(admin_secret) not in self._by_hash:
            log.warning(
                "the token in $HISCRM_TOKEN / the token file is not a live operator token "
                "(revoked or replaced); operators need a token from `hiscrm token create`"
            )
        current = digest(enrollment_secret) if enrollment_secret else ""
        for row in list(self._by_hash.values()):
            if row.kind == "CREDENTIAL_KIND_ENROLLMENT" and row.secret_hash != current:
                await self.revoke(token_id=row.token_id)
        if enrollment_secret and current not in self._by_hash:
            await self.create(
                kind=ENROLLMENT,
                name=ENROLLMENT_NAME,
                created_by="master (start)",
                secret=enrollment_secret,
            )
