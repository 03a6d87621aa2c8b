"""AES-GCM encryption of storage states, at rest and in transit.

One blob format everywhere (worker disk, the master's database, the stream):

    version (1 byte) | nonce (12 bytes) | ciphertext + GCM tag (16 bytes)

The associated data binds the blob to its version byte and its account id, so
a blob copied onto another account fails to decrypt instead of logging that
account in as somebody else.

The key is 32 random bytes, from HISCRM_SECRET_KEY (urlsafe base64) or the key
file $HISCRM_HOME/secret.key, created owner-only on first use. The master and
the workers on one host share HISCRM_HOME and therefore the key; workers on
other hosts need the same HISCRM_SECRET_KEY.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hiscrm_common import settings

log = logging.getLogger(__name__)

KEY_ENV = "HISCRM_SECRET_KEY"
KEY_FILE_NAME = "secret.key"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
VERSION = 1
_HEADER = 1 + NONCE_BYTES


class SecretKeyError(Exception):
    """The key is missing or malformed (a configuration error, said plainly)."""


class SessionDecryptError(Exception):
    """A session blob cannot be opened: wrong key, another account's blob, or damage."""

    def __init__(self, account_id: str, message: str) -> None:
        super().__init__(message)
        self.account_id = account_id


def _decode_key(raw: str, source: str) -> bytes:
    text = raw.strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise SecretKeyError(f"{source} is not urlsafe base64 (expected 32 random bytes)") from None
    if len(key) != KEY_BYTES:
        raise SecretKeyError(
            f"{source} decodes to {len(key)} bytes; it must be {KEY_BYTES} "
            '(make one with: python -c "import secrets,base64;'
            'print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())")'
        )
    return key


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def key_file(home: Path | None = None) -> Path:
    return (home or settings.home()) / KEY_FILE_NAME


def _create_key_file(path: Path) -> None:
    """Write a fresh key without ever exposing a half-written file; when
    another process (the master, a sibling worker) won the race, everybody
    reads the winner's key (settings.write_secret_file)."""
    try:
        settings.write_secret_file(path, encode_key(secrets.token_bytes(KEY_BYTES)))
        log.info("created secret key file %s (owner-only)", path)
    except FileExistsError:
        pass


def load_key(home: Path | None = None, *, create: bool = True) -> bytes:
    """HISCRM_SECRET_KEY, else the key file (created when absent and create=True)."""
    secret = settings.get().secret_key  # KEY_ENV
    env = secret.get_secret_value() if secret is not None else ""
    if env.strip():
        return _decode_key(env, KEY_ENV)
    path = key_file(home)
    if not path.exists():
        if not create:
            raise SecretKeyError(f"no secret key: set {KEY_ENV} or create {path}")
        _create_key_file(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"secret key file {path} is readable by other users (mode "
            f"{stat.S_IMODE(mode):03o}); fix it with: chmod 600 {path}"
        )
    return _decode_key(path.read_text(), str(path))


def key_id(key: bytes) -> str:
    """A short, non-secret name for a key, to tell keys apart in messages."""
    return hashlib.sha256(b"hiscrm-key-id\x00" + key).hexdigest()[:8]


class StateCipher:
    """Encrypts and decrypts one account's session blobs with the worker's key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SecretKeyError(f"the secret key must be {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    @classmethod
    def from_env(cls, home: Path | None = None) -> StateCipher:
        return cls(load_key(home))

    @staticmethod
    def _aad(version: int, account_id: str) -> bytes:
        return bytes([version]) + b"hiscrm-session\x00" + account_id.encode()

    def encrypt(self, account_id: str, plaintext: bytes) -> bytes:
        if not account_id:
            raise ValueError("an account id is required to encrypt a session")
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, self._aad(VERSION, account_id))
        return bytes([VERSION]) + nonce + sealed

    def decrypt(self, account_id: str, blob: bytes) -> bytes:
        if len(blob) < _HEADER + TAG_BYTES:
            raise SessionDecryptError(
                account_id,
                f"cannot decrypt the session of account {account_id}: "
                f"the blob is truncated ({len(blob)} bytes)",
            )
        version = blob[0]
        if version != VERSION:
            raise SessionDecryptError(
                account_id,
                f"cannot decrypt the session of account {account_id}: "
                f"unknown format version {version} (this build reads version {VERSION})",
            )
        nonce, sealed = blob[1:_HEADER], blob[_HEADER:]
        try:
            return self._aead.decrypt(nonce, sealed, self._aad(version, account_id))
        except InvalidTag:
            raise SessionDecryptError(
                account_id,
                f"cannot decrypt the session of account {account_id}: wrong {KEY_ENV}? "
                f"(this process uses key {self.key_id}; or the blob belongs to another "
                "account or is damaged)",
            ) from None

    def encrypt_state(self, account_id: str, state: dict[str, Any]) -> bytes:
        data = json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()
        return self.encrypt(account_id, data)

    def decrypt_state(self, account_id: str, blob: bytes) -> dict[str, Any]:
        data = self.decrypt(account_id, blob)
        try:
            state = json.loads(data)
        except ValueError:
            raise SessionDecryptError(
                account_id, f"the session of account {account_id} is not a storage state"
            ) from None
        if not isinstance(state, dict):
            raise SessionDecryptError(
                account_id, f"the session of account {account_id} is not a storage state"
            )
        return state
