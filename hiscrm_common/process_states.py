"""supervisord's state names as the protocol's ProcessState."""

from __future__ import annotations

from typing import cast

from hiscrm.v1 import common_pb2


def process_state(name: str) -> common_pb2.ProcessState:
    key = f"PROCESS_STATE_{name}"
    if key not in common_pb2.ProcessState.keys():
        return common_pb2.PROCESS_STATE_UNKNOWN
    # Value() is typed int in the generated stubs; it is this enum's value.
    return cast(common_pb2.ProcessState, common_pb2.ProcessState.Value(key))
