"""The dependency pins admit only runtimes the committed generated code accepts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "proto" / "hiscrm" / "v1"


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra if not r.startswith("hiscrm[")]
    return {r.name: r for r in reqs}


def _lowest_admitted(req: Requirement, candidates: list[str]) -> Version:
    admitted = [Version(v) for v in candidates if req.specifier.contains(v)]
    assert admitted, f"{req} admits none of {candidates}"
    return min(admitted)


def test_grpcio_pin_matches_generated_version() -> None:
    text = (GENERATED / "control_pb2_grpc.py").read_text()
    generated = Version(re.search(r"GRPC_GENERATED_VERSION = '([\d.]+)'", text)[1])
    reqs = _requirements()
    probes = [f"{generated.major}.{generated.minor}.{p}" for p in range(10)]
    for name in ("grpcio", "grpcio-health-checking", "grpcio-reflection"):
        assert _lowest_admitted(reqs[name], probes) >= generated, name
    assert reqs["grpcio-tools"].specifier.contains(str(generated)), "protoc differs from the code"


def test_protobuf_pin_matches_generated_runtime() -> None:
    for module in sorted(GENERATED.glob("*_pb2.py")):
        pattern = r"ValidateProtobufRuntimeVersion\(\s*\S+,\s*(\d+),\s*(\d+),\s*(\d+),"
        nums = re.search(pattern, module.read_text())
        assert nums, module
        needed = Version(".".join(nums.groups()))
        probes = [
            f"{needed.major}.{m}.{p}"
            for m in range(needed.minor - 2, needed.minor + 2)
            for p in range(4)
        ]
        assert _lowest_admitted(_requirements()["protobuf"], probes) >= needed, module.name


def test_postgres_driver_is_an_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(r.startswith("psycopg") for r in project["dependencies"])
    assert any(r.startswith("psycopg") for r in project["optional-dependencies"]["postgres"])


def test_postgres_url_without_driver_says_how_to_fix(monkeypatch) -> None:
    import sys

    import pytest

    from master.store.database import make_engine

    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(SystemExit, match=r"hiscrm\[postgres\]"):
        make_engine("postgresql://u:p@127.0.0.1:1/db")
