"""Each account's storage state (cookies + localStorage), encrypted on disk.

Files live at <data_dir>/sessions/<account>.bin in the crypto.py blob format,
the same bytes the worker sends to the master in LoginSuccess.session and
receives back in AccountConfig.session, so a blob is stored or forwarded as
is, never decrypted just to be moved. Writes are atomic (owner-only temp file,
fsync, rename), so a crash leaves the old session or the new one, never half.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Any, cast

from playwright.async_api import BrowserContext

from worker.browser.crypto import StateCipher

log = logging.getLogger(__name__)

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


def account_dir_name(account_id: str) -> str:
    """A file/dir name for an account id: itself when safe, else a readable hash."""
    if _SAFE.match(account_id) and ".." not in account_id:
        return account_id
    digest = hashlib.sha256(account_id.encode()).hexdigest()[:16]
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "_", account_id)[:40].strip("_")
    return f"{prefix}-{digest}" if prefix else f"acct-{digest}"


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so readers see the old or the new bytes only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


async def export_state(context: BrowserContext) -> dict[str, Any]:
    """The context's cookies and per-origin localStorage, as Playwright gives them."""
    # Playwright types it as its StorageState TypedDict; this module handles it as JSON.
    return cast(dict[str, Any], await context.storage_state())


class SessionStore:
    """Encrypted storage states of the accounts one worker runs."""

    def __init__(self, data_dir: Path, cipher: StateCipher, worker_id: str = "") -> None:
        self.dir = Path(data_dir) / "sessions"
        self.cipher = cipher
        self.worker_id = worker_id

    def path(self, account_id: str) -> Path:
        return self.dir / f"{account_dir_name(account_id)}.bin"

    # The blob API: what travels to and from the master.

    def save_blob(self, account_id: str, blob: bytes) -> None:
        """Store an already-encrypted session after checking it opens with our key.

        Raises SessionDecryptError (wrong key, another account's blob) so the
        problem shows at assignment, not as a mysterious logged-out account.
        """
        self.cipher.decrypt(account_id, blob)
        atomic_write(self.path(account_id), blob)
        log.info(
            "account %s on worker %s: session stored (%d bytes, encrypted)",
            account_id,
            self.worker_id,
            len(blob),
        )

    def load_blob(self, account_id: str) -> bytes | None:
        try:
            return self.path(account_id).read_bytes()
        except FileNotFoundError:
            return None

    # The state API: plain dicts for Playwright.

    def save(self, account_id: str, state: dict[str, Any]) -> bytes:
        """Encrypt and store a storage state; returns the blob (for the master)."""
        blob = self.cipher.encrypt_state(account_id, state)
        atomic_write(self.path(account_id), blob)
        log.info(
            "account %s on worker %s: session saved (%d cookies, %d origins)",
            account_id,
            self.worker_id,
            len(state.get("cookies", [])),
            len(state.get("origins", [])),
        )
        return blob

    def load(self, account_id: str) -> dict[str, Any] | None:
        """The decrypted state, None when there is none; SessionDecryptError when unreadable."""
        blob = self.load_blob(account_id)
        if blob is None:
            return None
        return self.cipher.decrypt_state(account_id, blob)

    def delete(self, account_id: str) -> None:
        self.path(account_id).unlink(missing_ok=True)
        log.info("account %s on worker %s: session deleted", account_id, self.worker_id)

    # Async wrappers: the write fsyncs, which the event loop should not wait on.

    async def save_async(self, account_id: str, state: dict[str, Any]) -> bytes:
        return await asyncio.to_thread(self.save, account_id, state)

    async def load_async(self, account_id: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.load, account_id)

    async def save_context(self, account_id: str, context: BrowserContext) -> bytes:
        """Export a live context's state and store it; returns the blob."""
        return await self.save_async(account_id, await export_state(context))
