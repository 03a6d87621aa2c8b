"""What every platform's API parsing shares: a captured JSON answer, field
checks that turn a changed shape into LayoutChanged, times, and URLs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from google.protobuf.timestamp_pb2 import Timestamp

from worker.platforms.errors import (
    AuthExpired,
    LayoutChanged,
    PlatformError,
    RateLimited,
    VerificationRequired,
)

# Captcha interstitials answer 461/471 (seen on Xiaohongshu; treated the same
# wherever they come from).
HTTP_CAPTCHA = {461, 471}


@dataclass(frozen=True)
class Answer:
    """One answer as the page saw it: parsed JSON in `body` (None when it is
    not JSON), the start of its text, and for captured answers the bytes
    (binary answers such as protobuf are read from those)."""

    url: str
    status: int
    body: Any
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    raw: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


def raise_for_http_status(answer: Answer, where: str, captcha_detail: str = "") -> None:
    """The HTTP statuses that mean the same on every platform, as typed errors."""
    status = answer.status
    if status in HTTP_CAPTCHA:
        raise VerificationRequired(
            f"{where}: HTTP {status}, the platform asks for a captcha{captcha_detail}"
        )
    if status == 429:
        raise RateLimited(f"{where}: HTTP 429 from the platform", retry_after=120.0)
    if status == 401:
        raise AuthExpired(f"{where}: HTTP 401, the session is not accepted")
    if status == 403:
        raise VerificationRequired(f"{where}: HTTP 403, the platform wants a verification")
    if status >= 500:
        raise PlatformError(f"{where}: platform error HTTP {status}")


def require(record: Any, fields: tuple[str, ...], what: str) -> dict[str, Any]:
    """The record when it is an object with every field; LayoutChanged naming
    what is missing otherwise (a platform that changed its shape is loud)."""
    if not isinstance(record, dict):
        raise LayoutChanged(f"{what} is not an object: {str(record)[:120]}")
    missing = [f for f in fields if f not in record]
    if missing:
        raise LayoutChanged(f"{what} lacks {', '.join(missing)}; has {', '.join(sorted(record))}")
    return record


def seconds(value: Any) -> int:
    """A platform time as epoch seconds (milliseconds are scaled down)."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise LayoutChanged(f"not an epoch time: {value!r}") from None
    return number // 1000 if number > 10**11 else number


def timestamp(value: Any) -> Timestamp:
    ts = Timestamp()
    ts.FromSeconds(seconds(value))
    return ts


def with_params(url: str, **params: object) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_param(url: str, key: str) -> str:
    return dict(parse_qsl(urlsplit(url).query)).get(key, "")
