"""Bounds on what one client can hold open, and the gRPC transport options
that go with them.

gRPC bounds the transport (connections in total, streams per connection,
handshake and idle timeouts); we count calls ourselves, because only here do
we know who is calling: anonymous calls (health, reflection) per peer address
and in total, authenticated ones per credential, and everything in total.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from hiscrm_common import settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    max_connections: int
    max_streams_per_connection: int
    handshake_timeout_ms: int
    idle_connection_ms: int
    max_calls: int
    max_calls_per_credential: int
    max_anonymous_calls: int
    max_anonymous_calls_per_peer: int

    @classmethod
    def from_env(cls) -> Limits:
        files = raise_file_limit()
        # keep descriptors for the database, logs, Chromium-free master work
        current = settings.get()
        connections = current.max_connections or max(64, min(8192, files - 256))
        return cls(
            max_connections=connections,
            max_streams_per_connection=current.max_streams_per_connection,
            handshake_timeout_ms=current.handshake_timeout_ms,
            idle_connection_ms=current.idle_connection_ms,
            max_calls=current.max_calls,
            max_calls_per_credential=current.max_calls_per_credential,
            max_anonymous_calls=current.max_anonymous_calls,
            max_anonymous_calls_per_peer=current.max_anonymous_calls_per_peer,
        )

    def server_options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.max_allowed_incoming_connections", self.max_connections),
            ("grpc.max_concurrent_streams", self.max_streams_per_connection),
            ("grpc.server_handshake_timeout_ms", self.handshake_timeout_ms),
            ("grpc.max_connection_idle_ms", self.idle_connection_ms),
        ]


def raise_file_limit() -> int:
    """Every connection is a descriptor: take the hard limit, so the
    connection bound, not the descriptor table, is what a flood meets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d to %d", soft, hard)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class CallCounter:
    """Concurrent calls per key, with a cap per key and one in total."""

    def __init__(self, per_key: int, total: int) -> None:
        self.per_key = per_key
        self.total = total
        self.by_key: dict[str, int] = {}
        self.count = 0

    def acquire(self, key: str) -> str:
        """'' when admitted, else why not."""
        if self.count >= self.total:
            return f"{self.total} concurrent calls in total"
        held = self.by_key.get(key, 0)
        if held >= self.per_key:
            return f"{self.per_key} concurrent calls for {key}"
        self.by_key[key] = held + 1
        self.count += 1
        return ""

    def release(self, key: str) -> None:
        held = self.by_key.get(key, 0) - 1
        if held <= 0:
            self.by_key.pop(key, None)
        else:
            self.by_key[key] = held
        self.count -= 1
