"""Read the files in deploy/ the way systemd and Docker read them, for the tests.

Just enough of each format for these files: a unit's [Service] keys (with
systemd's "%%" escape and "-" prefixes), an EnvironmentFile, a Dockerfile's
instructions with their continuation lines.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import ROOT

DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
ENTRYPOINT = DEPLOY / "docker" / "entrypoint.sh"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_POSTGRES = DEPLOY / "compose.postgres.yaml"
INSTALL_PREFIX = "/opt/hiscrm"
STATE_DIR = "/var/lib/hiscrm"


@dataclass
class Unit:
    path: Path
    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def values(self, key: str, section: str = "Service") -> list[str]:
        return [v for k, v in self.sections.get(section, []) if k == key]

    def value(self, key: str, section: str = "Service") -> str:
        found = self.values(key, section)
        assert len(found) == 1, f"{self.path.name}: {key}= appears {len(found)} times"
        return found[0]

    def command(self, line: str) -> list[str]:
        """An Exec*= line as argv: "%%" is a literal "%", prefixes dropped.

        These units use no specifiers; any other "%X" would be expanded (or
        refused) by systemd, so it fails here rather than pass as written.
        """
        stray = re.findall(r"%[^%]", line.replace("%%", ""))
        assert not stray, f"{self.path.name}: specifier(s) {stray} in {line!r}"
        return shlex.split(line.lstrip("-@:+!").replace("%%", "%"))

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for line in self.values("Environment"):
            for assignment in shlex.split(line):
                key, _, value = assignment.partition("=")
                env[key] = value
        return env

    def environment_files(self) -> list[tuple[Path, bool]]:
        """(path, required) for every EnvironmentFile= ("-" makes it optional)."""
        files = self.values("EnvironmentFile")
        return [(Path(v.lstrip("-")), not v.startswith("-")) for v in files]


def read_unit(path: Path, replace: dict[str, str] | None = None) -> Unit:
    text = path.read_text()
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    unit = Unit(path)
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            unit.sections.setdefault(section, [])
            continue
        key, _, value = line.partition("=")
        unit.sections[section].append((key.strip(), value.strip()))
    return unit


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        instruction, _, args = whole.partition(" ")
        found.append((instruction.upper(), args.strip()))
    return found


def dockerfile_env(path: Path = DOCKERFILE) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in dockerfile_instructions(path):
        if instruction == "ENV":
            for assignment in shlex.split(args):
                key, _, value = assignment.partition("=")
                env[key] = value
    return env
