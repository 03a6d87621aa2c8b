"""Carrying an account's cursor over to the next worker."""

from __future__ import annotations

from worker.platforms.base import Adapter


def test_numbers_take_the_larger() -> None:
    assert Adapter.newer_cursor("120", "80") == "120"
    assert Adapter.newer_cursor("80", "120") == "120"


def test_json_marks_merge_key_by_key() -> None:
    merged = Adapter.newer_cursor('{"c": 10, "m": 3}', '{"c": 7, "m": 9}')
    assert merged == '{"c": 10, "m": 9}'


def test_missing_or_foreign_cursors() -> None:
    assert Adapter.newer_cursor("", "42") == "42"
    assert Adapter.newer_cursor("42", "") == "42"
    assert Adapter.newer_cursor("opaque-a", "opaque-b") == "opaque-a"
