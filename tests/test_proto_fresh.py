"""The committed generated code is exactly what the .proto files produce."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "proto" / "hiscrm" / "v1"


def test_generated_code_matches_protos(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), str(tmp_path)], check=True
    )
    fresh = {p.name: p.read_bytes() for p in (tmp_path / "hiscrm" / "v1").glob("*_pb2*.py*")}
    committed = {p.name: p.read_bytes() for p in GENERATED.glob("*_pb2*.py*")}
    assert fresh, "generation produced nothing"
    assert sorted(fresh) == sorted(committed), (
        "generated file set differs; run scripts/gen_proto.py"
    )
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale generated code: {stale}; run `python scripts/gen_proto.py`"


def test_every_frame_kind_is_typed() -> None:
    from hiscrm.v1 import gateway_pb2

    worker = {f.name for f in gateway_pb2.WorkerFrame.DESCRIPTOR.oneofs_by_name["frame"].fields}
    master = {f.name for f in gateway_pb2.MasterFrame.DESCRIPTOR.oneofs_by_name["frame"].fields}
    assert {
        "register",
        "heartbeat",
        "login",
        "items",
        "config_ack",
        "account_state",
        "command_result",
    } <= worker
    assert {
        "welcome",
        "assign",
        "revoke",
        "config_update",
        "login_start",
        "login_cancel",
        "verification_code",
        "ack",
        "send_reply",
        "drain",
    } <= master
