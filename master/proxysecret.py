"""Proxy passwords are write-only: stored encrypted, never returned.

Control sees `scheme://user@host:port` and `proxy_has_password`; only the
config sent to the account's own worker carries the full URL. The key is
the master's own ($HISCRM_MASTER_KEY or $HISCRM_HOME/master.key, made on
first use, owner-only), not the session key the workers hold.
"""

from __future__ import annotations

import hashlib
import os
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hiscrm_common import settings

_VERSION = b"\x01"
_key: bytes | None = None


def split(url: str) -> tuple[str, str | None]:
    """('scheme://user@host:port', password or None); a URL that does not
    parse is returned whole (validation refuses it with a redacted message)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url, None
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return url, None
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), unquote(
        parts.password
    )


def join(public: str, password: str | None) -> str:
    if not password:
        return public
    parts = urlsplit(public)
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user}:{quote(password, safe='*')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def shown(url: str) -> str:
    """For messages and logs: the password replaced by ***."""
    public, password = split(url)
    if password is not None:
        return join(public, "***")
    # unparsable: hide whatever sits between the scheme and the last '@'
    return re.sub(r"(://)[^/]*@", r"\1***@", public)


def _aead() -> AESGCM:
    global _key
    if _key is None:
        secret = settings.load_secret(
            "HISCRM_MASTER_KEY",
            "HISCRM_MASTER_KEY_FILE",
            settings.home() / "master.key",
            create=True,
        )
        _key = hashlib.sha256(b"hiscrm-proxy-secret\x00" + secret.encode()).digest()
    return AESGCM(_key)


def seal(account_id: str, password: str) -> bytes:
    nonce = os.urandom(12)
    aad = b"hiscrm-proxy\x00" + account_id.encode()
    return _VERSION + nonce + _aead().encrypt(nonce, password.encode(), aad)


def unseal(account_id: str, blob: bytes | None) -> str | None:
    if not blob:
        return None
    if blob[:1] != _VERSION:
        raise ValueError(f"account {account_id}: proxy secret of unknown version")
    aad = b"hiscrm-proxy\x00" + account_id.encode()
    return _aead().decrypt(blob[1:13], blob[13:], aad).decode()
