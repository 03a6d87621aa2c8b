"""The type check's rules (mypy runs in scripts/test.sh): every package is
marked typed, and every `# type: ignore` names its error code and says why."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["master", "worker", "hiscrm_common", "ops", "tui", "demosite", "proto/hiscrm"]
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<code>\[[a-z-, ]+\])?(?P<rest>.*)$")


def ignores() -> list[tuple[str, int, str, str]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
                continue  # generated
            lines = path.read_text().splitlines()
            for i, line in enumerate(lines):
                m = IGNORE.search(line)
                if m:
                    above = lines[i - 1].strip() if i else ""
                    found.append((f"{path.relative_to(ROOT)}:{i + 1}", i, line, above))
    return found


def test_every_type_ignore_has_a_code_and_a_reason() -> None:
    bad = []
    for where, _, line, above in ignores():
        m = IGNORE.search(line)
        assert m
        reason = "#" in m.group("rest") or above.startswith("#")
        if not m.group("code") or not reason:
            bad.append(f"{where}: {line.strip()}")
    assert not bad, "a type: ignore needs [code] and a reason comment:\n" + "\n".join(bad)


def test_the_audit_sees_ignores() -> None:
    """The check above can fail: it finds the ignores there are."""
    assert len(ignores()) >= 5


def test_packages_are_marked_typed_and_ship_the_marker() -> None:
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), f"{package}/py.typed is missing"
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = {name for name, files in data["package-data"].items() if "py.typed" in files}
    assert shipped >= {"master", "worker", "hiscrm_common", "ops", "tui", "demosite", "hiscrm"}
