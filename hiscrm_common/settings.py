"""Where things live and how processes find each other.

Every value comes from the settings model (hiscrm_common/config_model.py:
the environment, then the settings file) so that supervisord, the tests and
an operator's shell all configure processes the same way.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from hiscrm_common import config_model
from hiscrm_common.config_model import (  # noqa: F401  (their old home)
    DEFAULT_MASTER_ADDRESS,
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_BATCH_ITEMS,
    DEFAULT_MAX_MESSAGE_BYTES,
)

get = config_model.get  # the effective settings (cached)


MIN_TOKEN_BYTES = 32


def home() -> Path:
    """The run directory (database, token, logs, secrets).

    Everything a hiscrm process creates is owner-only (umask 0077):
    databases, outboxes, logs, screenshots and sessions are nobody else's.
    """
    os.umask(0o077)
    path = get().home.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.stat()
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        path.chmod(0o700)
    return path


class SecretError(SystemExit):
    """A token or key that must not be used as it is; the message says how to fix it."""


def check_token(token: str, source: str) -> str:
    if len(token.encode()) < MIN_TOKEN_BYTES:
        raise SecretError(
            f"the token from {source} is {len(token.encode())} bytes; at least "
            f"{MIN_TOKEN_BYTES} are required. Make one with: python3 -c "
            "'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return token


def read_secret_file(path: Path) -> str:
    """A token or key file's content; refused when others may read it."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):03o}); "
            f"fix it with: chmod 600 {path}"
        )
    return path.read_text().strip()


def write_secret_file(path: Path, value: str) -> None:
    """Owner-only from the first byte; never replaces an existing file
    (FileExistsError); never seen half-written.

    The value goes to an owner-only temp file, then is hard-linked to its
    name: a process that waits for the file (a worker for the enrollment
    token the master writes at its first start) never reads it empty."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_secret(
    env: str, file_env: str, default_file: Path, *, create: bool, prefix: str = ""
) -> str:
    """A token from $env, else from the file named by $file_env or the default
    file; with create=True a missing file is made with a fresh token (after
    `prefix`: a generated token then never starts with '-', which a command
    line would take for an option, e.g. `hiscrm join --enroll-token T`)."""
    current = get()
    secret = current.by_env(env)
    token = secret.get_secret_value().strip() if secret is not None else ""
    if token:
        where = f"${env}" if os.environ.get(env, "").strip() else "the settings file"
        return check_token(token, where)
    path = Path(current.by_env(file_env) or default_file)
    if path.exists():
        token = read_secret_file(path)
        if token:
            return check_token(token, str(path))
    if not create:
        raise SystemExit(
            f"no token: set {env} or create {path} (the master writes one on first start)"
        )
    token = prefix + secrets.token_urlsafe(MIN_TOKEN_BYTES)
    try:
        write_secret_file(path, token)
    except FileExistsError:  # another process wrote it first: theirs counts
        return check_token(read_secret_file(path), str(path))
    return token


def token_file() -> Path:
    return get().token_file or home() / "token"


def load_token(*, create: bool = False) -> str:
    """An operator's bearer token: HISCRM_TOKEN, else the token file.

    With create=True (the master on its first start) a missing token file is
    generated, owner-only: the first admin token.
    """
    return load_secret(
        "HISCRM_TOKEN", "HISCRM_TOKEN_FILE", home() / "token", create=create, prefix="hso_"
    )


def enrollment_file() -> Path:
    return get().enroll_token_file or home() / "enroll-token"


def load_enrollment_token(*, create: bool = False) -> str:
    """The token a new worker exchanges, once per worker id, for its own
    credential. The master writes it on first start next to the admin token."""
    return load_secret(
        "HISCRM_ENROLL_TOKEN",
        "HISCRM_ENROLL_TOKEN_FILE",
        home() / "enroll-token",
        create=create,
        prefix="hse_",
    )


@dataclass(frozen=True)
class TlsSettings:
    cert_file: Path | None
    key_file: Path | None
    ca_file: Path | None

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None or self.ca_file is not None


def tls_settings() -> TlsSettings:
    current = get()
    return TlsSettings(current.tls_cert, current.tls_key, current.tls_ca)


def server_tls_settings() -> TlsSettings:
    """The master's own certificate. supervisord gives the master and the
    workers one environment, and under mTLS the workers present
    HISCRM_TLS_CERT/KEY as their client certificate (enrollment binds a
    worker's credential to its CN), so the master may take a separate server
    certificate from HISCRM_TLS_SERVER_CERT/KEY; without them it serves
    HISCRM_TLS_CERT/KEY (then a certificate with both serverAuth and
    clientAuth usages serves both roles)."""
    current = get()
    cert, key = current.tls_server_cert, current.tls_server_key
    if cert is None and key is None:
        return tls_settings()
    if cert is None or key is None:
        raise SystemExit("HISCRM_TLS_SERVER_CERT and HISCRM_TLS_SERVER_KEY go together")
    return TlsSettings(cert, key, current.tls_ca)
