"""Conversions between datetimes and protobuf timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import overload

from google.protobuf.timestamp_pb2 import Timestamp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def to_ts(value: datetime) -> Timestamp: ...
@overload
def to_ts(value: None) -> None: ...
@overload
def to_ts(value: datetime | None) -> Timestamp | None: ...
def to_ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def from_ts(ts: Timestamp, *, strict: bool = False) -> datetime | None:
    """None for an unset timestamp. One outside what datetime can hold is
    None too (a peer's bad clock must not break a whole batch), or a
    ValueError with strict=True (a client's filter)."""
    seconds, nanos = ts.seconds, ts.nanos
    if seconds == 0 and nanos == 0:
        return None
    # what Timestamp.ToDatetime does (nanos checked, then truncated) for a
    # fraction of its cost: ingest converts one per item
    try:
        if not 0 <= nanos <= 999_999_999:
            raise ValueError(f"nanos {nanos} out of range")
        # positional arguments: keywords cost timedelta twice as much
        return EPOCH + timedelta(0, seconds, nanos // 1000)
    except (ValueError, OverflowError, OSError) as exc:
        if strict:
            raise ValueError(f"timestamp {ts.seconds}s is out of range") from exc
        return None


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
