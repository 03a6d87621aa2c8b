"""worker/platforms/demo_api.py: live-channel pushes, one function."""

from __future__ import annotations

import json

import pytest

from hiscrm.v1 import common_pb2
from worker.platforms.demo_api import COMMENT_FIELDS, live_item
from worker.platforms.errors import AuthExpired, LayoutChanged


def test_live_pushes() -> None:
    comment = {field: 1 for field in COMMENT_FIELDS} | {"comment_id": 42, "content": "hi"}
    item = live_item("a1", json.dumps({"type": "comment", "comment": comment}))
    assert item is not None and item.kind == common_pb2.ITEM_KIND_COMMENT
    assert item.platform_item_id == "42"
    assert live_item("a1", json.dumps({"type": "ping"})) is None
    assert live_item("a1", "not json") is None
    with pytest.raises(AuthExpired):
        live_item("a1", json.dumps({"type": "session_expired"}))


def test_a_comment_push_in_an_unknown_shape_is_loud() -> None:
    # layout v2 renames the fields: never a silent None
    with pytest.raises(LayoutChanged, match="comment lacks comment_id"):
        live_item("a1", json.dumps({"type": "comment", "comment": {"id": 42, "text": "hi"}}))
