"""Where things live and how processes find each other.

Everything comes from the environment so that supervisord, the tests and an
operator's shell all configure processes the same way.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MASTER_ADDRESS = "127.0.0.1:50051"
# gRPC's own default is 4 MiB; we state ours so both ends agree and batches
# are chunked well below it.
DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_BATCH_BYTES = 1024 * 1024
DEFAULT_MAX_BATCH_ITEMS = 2000


def home() -> Path:
    """The run directory (database, token, logs, secrets)."""
    path = Path(os.environ.get("HISCRM_HOME", "./var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not an integer; set it to a whole number") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number; set it to e.g. 2.5") from None


def token_file() -> Path:
    return Path(os.environ.get("HISCRM_TOKEN_FILE", str(home() / "token")))


def load_token(*, create: bool = False) -> str:
    """The shared bearer token: HISCRM_TOKEN, else the token file.

    With create=True (the master on the embedded setup) a missing token file
    is generated with owner-only permissions.
    """
    token = os.environ.get("HISCRM_TOKEN", "").strip()
    if token:
        return token
    path = token_file()
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    if not create:
        raise SystemExit(
            f"no token: set HISCRM_TOKEN or create {path} (the master writes one on first start)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


@dataclass(frozen=True)
class TlsSettings:
    cert_file: Path | None
    key_file: Path | None
    ca_file: Path | None

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None or self.ca_file is not None


def tls_settings() -> TlsSettings:
    def opt(name: str) -> Path | None:
        raw = os.environ.get(name, "").strip()
        return Path(raw) if raw else None

    return TlsSettings(opt("HISCRM_TLS_CERT"), opt("HISCRM_TLS_KEY"), opt("HISCRM_TLS_CA"))
