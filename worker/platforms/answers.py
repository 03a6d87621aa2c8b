"""What every platform's API parsing shares: a captured JSON answer, field
checks that turn a changed shape into LayoutChanged, times, and URLs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from google.protobuf.timestamp_pb2 import Timestamp

from worker.platforms.base import LayoutChanged


@dataclass(frozen=True)
class Answer:
    """One JSON answer as the page saw it."""

    url: str
    status: int
    body: Any
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


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
