"""requirements/ci.lock (what CI installs) pins every dependency pyproject
names for CI (the base ones and the test extra's), at a version its specifier
admits; scripts/lock.sh refreshes it."""

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


# Extras CI does not install (scripts/setup.sh --test installs .[test]), so
# the lock does not pin them: bench/plot.py's matplotlib.
NOT_IN_CI = {"bench"}


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def ci_extras() -> set[str]:
    """The test extra and the extras it pulls in (hiscrm[postgres,...])."""
    extras = project()["optional-dependencies"]
    seen: set[str] = set()
    todo = ["test"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in extras[name]:
            req = Requirement(spec)
            if canonicalize_name(req.name) == "hiscrm":
                todo += sorted(req.extras)
    return seen


def declared() -> list[Requirement]:
    specs = list(project()["dependencies"])
    for name in ci_extras():
        specs += project()["optional-dependencies"][name]
    reqs = [Requirement(s) for s in specs]
    return [r for r in reqs if canonicalize_name(r.name) != "hiscrm"]


def test_every_extra_is_installed_in_ci_or_exempt() -> None:
    extras = set(project()["optional-dependencies"])
    assert extras - ci_extras() == NOT_IN_CI, (
        "an extra CI does not install: add it to the test extra, or to NOT_IN_CI"
    )


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
