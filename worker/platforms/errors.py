"""The typed errors every platform adapter raises, in a module of their own
(the browser pool raises them too, and must not import the adapters' base).

Each error carries an ErrorKind the monitor turns into an account state the
operator sees (invariant 3). `merge_failures` folds the failures of a
cycle's separate steps (comments, direct messages) into the one state an
account has, naming each step and its own reason.
"""

from __future__ import annotations

import copy

from hiscrm.v1 import common_pb2


class PlatformError(Exception):
    kind: common_pb2.ErrorKind = common_pb2.ERROR_KIND_INTERNAL

    def __init__(self, message: str, *, screenshot: str = "") -> None:
        super().__init__(message)
        self.screenshot = screenshot


class NetworkError(PlatformError):
    kind = common_pb2.ERROR_KIND_NETWORK


class PlatformTimeout(PlatformError):
    kind = common_pb2.ERROR_KIND_TIMEOUT


class LayoutChanged(PlatformError):
    kind = common_pb2.ERROR_KIND_LAYOUT_CHANGED


class AuthExpired(PlatformError):
    kind = common_pb2.ERROR_KIND_AUTH_EXPIRED


class VerificationRequired(PlatformError):
    kind = common_pb2.ERROR_KIND_VERIFICATION


class RateLimited(PlatformError):
    kind = common_pb2.ERROR_KIND_RATE_LIMITED

    def __init__(self, message: str, *, retry_after: float = 0.0, screenshot: str = "") -> None:
        super().__init__(message, screenshot=screenshot)
        self.retry_after = retry_after


class Blocked(PlatformError):
    kind = common_pb2.ERROR_KIND_BLOCKED


class ProxyFailed(PlatformError):
    kind = common_pb2.ERROR_KIND_PROXY


# Kinds that concern the whole session, not one list: after one of these the
# cycle's further steps are not tried (they would only fail the same way, and
# a rate-limited or blocked account must not be asked again at once).
SESSION_KINDS = frozenset(
    {
        common_pb2.ERROR_KIND_AUTH_EXPIRED,
        common_pb2.ERROR_KIND_RATE_LIMITED,
        common_pb2.ERROR_KIND_VERIFICATION,
        common_pb2.ERROR_KIND_BLOCKED,
        common_pb2.ERROR_KIND_PROXY,
    }
)
# Which failure decides the account state when several steps failed: the one
# that needs a person first, then the one that waits longest.
_URGENCY = (
    common_pb2.ERROR_KIND_AUTH_EXPIRED,
    common_pb2.ERROR_KIND_VERIFICATION,
    common_pb2.ERROR_KIND_BLOCKED,
    common_pb2.ERROR_KIND_PROXY,
    common_pb2.ERROR_KIND_RATE_LIMITED,
    common_pb2.ERROR_KIND_LAYOUT_CHANGED,
)


def merge_failures(failures: list[tuple[str, PlatformError]]) -> PlatformError:
    """One error for the account state: the most urgent failure's type and
    kind, its screenshot, and every step's reason ("comments: …; direct
    messages: …")."""
    if not failures:
        raise ValueError("no failures to merge")

    def rank(item: tuple[str, PlatformError]) -> int:
        kind = item[1].kind
        return _URGENCY.index(kind) if kind in _URGENCY else len(_URGENCY)

    _, first = min(failures, key=rank)
    merged = copy.copy(first)
    merged.args = ("; ".join(f"{step}: {exc}" for step, exc in failures),)
    merged.screenshot = first.screenshot or next((e.screenshot for _, e in failures), "")
    return merged
