"""Handing an account's refreshed session back to the master.

The adapter saves the context's storage state (encrypted) after each cycle.
When a platform rotates a cookie, that state moves on from the session the
master holds, and a failover would start from a stale one. After a successful
cycle the saved state is compared with what the master holds, by a digest of
the decrypted state (every save encrypts with a fresh nonce, so the blobs
always differ), and sent as SessionRefresh only when it changed, at most once
per MIN_INTERVAL_S.

What the master holds is learnt from every config it sends (its session is
the stored one), assumed after each send, and re-learnt after a reconnect
(a queued frame may have been lost with the stream). The master stores the
session without a config bump; when a later config carries a session this
worker sent itself, the running one is kept, so the live context is not
rebuilt from an older copy of its own state.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from hiscrm.v1 import common_pb2, gateway_pb2
from hiscrm_common.timeutil import to_ts, utcnow
from worker.browser.crypto import SessionDecryptError
from worker.browser.storage import SessionStore

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 5.0
SENT_REMEMBERED = 8

Send = Callable[[gateway_pb2.SessionRefresh], bool]


def _key(blob: bytes) -> bytes:
    return hashlib.sha256(blob).digest()


class SessionHandback:
    def __init__(
        self,
        worker_id: str,
        account_id: str,
        sessions: SessionStore,
        send: Send,
        *,
        min_interval: float = MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        frame_limit: Callable[[], int] = lambda: 0,
    ) -> None:
        self.worker_id = worker_id
        self.account_id = account_id
        self.sessions = sessions
        self.send = send
        self.min_interval = min_interval
        self.clock = clock
        self.frame_limit = frame_limit  # the master's (Welcome); 0: not known yet
        self.sent = 0
        self._config_digest: bytes | None = None  # the state in the last config received
        self._master_digest: bytes | None = None  # ... or in what we sent since
        self._sent: OrderedDict[bytes, bytes] = OrderedDict()  # blob key -> state digest
        self._last_sent_at = float("-inf")
        self._unreadable_warned = False

    def digest(self, blob: bytes) -> bytes:
        """The decrypted state's digest (SessionDecryptError when it does not open)."""
        return hashlib.sha256(self.sessions.cipher.decrypt(self.account_id, blob)).digest()

    # ------------------------------------------------------------ configs

    def received(
        self, config: common_pb2.AccountConfig, running: common_pb2.AccountConfig | None
    ) -> common_pb2.AccountConfig:
        """Note what the master holds; returns the config to apply."""
        blob = config.session
        if not blob:
            self._config_digest = self._master_digest = None
            return config
        known = self._sent.get(_key(blob))
        if known is not None:
            self._config_digest = self._master_digest = known
            if running is not None and running.session and running.session != blob:
                kept = common_pb2.AccountConfig()
                kept.CopyFrom(config)
                kept.session = running.session
                return kept
            return config
        try:
            self._config_digest = self._master_digest = self.digest(blob)
        except SessionDecryptError:
            # The adapter reports this one when it opens the session.
            self._config_digest = self._master_digest = None
        return config

    def reconnected(self) -> None:
        """A refresh queued on the old stream may be lost: trust only the config."""
        self._master_digest = self._config_digest

    # ------------------------------------------------------------ cycles

    async def check(self, config_version: int) -> bool:
        """After a successful cycle: hand the saved state back if it changed."""
        now = self.clock()
        if now - self._last_sent_at < self.min_interval:
            return False
        try:
            blob = await asyncio.to_thread(self.sessions.load_blob, self.account_id)
            if blob is None:
                return False
            digest = await asyncio.to_thread(self.digest, blob)
        except (OSError, SessionDecryptError) as exc:
            if not self._unreadable_warned:
                self._unreadable_warned = True
                log.warning(
                    "account %s on worker %s: saved session unreadable, not handed back: %s",
                    self.account_id,
                    self.worker_id,
                    type(exc).__name__,
                )
            return False
        if digest == self._master_digest:
            return False
        frame = gateway_pb2.SessionRefresh(
            account_id=self.account_id,
            session=blob,
            config_version=config_version,
            at=to_ts(utcnow()),
        )
        limit = self.frame_limit()
        if limit and frame.ByteSize() > limit // 2:
            # Over the limit, the frame would cost the whole stream. Reported
            # once per change; the master keeps the older session.
            self._master_digest = digest
            log.error(
                "account %s on worker %s: refreshed session of %d bytes not handed back: "
                "over half the master's %d-byte frame limit",
                self.account_id,
                self.worker_id,
                len(blob),
                limit,
            )
            return False
        if not self.send(frame):
            return False  # no stream now: the next cycle tries again
        self._master_digest = digest
        self._sent[_key(blob)] = digest
        while len(self._sent) > SENT_REMEMBERED:
            self._sent.popitem(last=False)
        self._last_sent_at = now
        self.sent += 1
        log.info(
            "account %s on worker %s: refreshed session handed back (%d bytes, encrypted, "
            "config v%d)",
            self.account_id,
            self.worker_id,
            len(blob),
            config_version,
        )
        return True
