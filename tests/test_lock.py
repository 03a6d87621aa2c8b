"""requirements/ci.lock (what CI installs) pins every dependency pyproject
names, at a version its specifier admits; scripts/lock.sh refreshes it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "ci.lock"


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line)
        assert m, f"ci.lock line is not an exact pin: {line!r}"
        pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    reqs = [Requirement(s) for s in specs]
    return [r for r in reqs if canonicalize_name(r.name) != "hiscrm"]


def test_every_dependency_is_locked_at_an_allowed_version() -> None:
    pins = locked()
    missing, outside = [], []
    for req in declared():
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            missing.append(req.name)
        elif not req.specifier.contains(version, prereleases=True):
            outside.append(f"{req.name}=={version} (pyproject: {req.specifier})")
    assert not missing, f"not in requirements/ci.lock (run scripts/lock.sh): {missing}"
    assert not outside, f"requirements/ci.lock outside pyproject's range: {outside}"


def test_the_check_can_fail() -> None:
    """A requirement the lock does not satisfy is noticed by the same logic."""
    pins = locked()
    assert not Requirement("protobuf<1").specifier.contains(pins["protobuf"])
    assert "no-such-package" not in pins
