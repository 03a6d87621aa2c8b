"""The deployment files in deploy/ pass the tools that judge them, offline.

systemd units: `systemd-analyze verify` (syntax, known keys, executables) and
`systemd-analyze security --offline` (an exposure ceiling); the Dockerfile:
hadolint; the compose files: the compose specification's JSON schema
(vendored in check-jsonschema). Each check is shown to fail on a broken copy,
so a silent tool cannot pass them. Building and starting the image needs a
container engine and is tested only where `docker info` succeeds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.deploy_helpers import (
    COMPOSE,
    COMPOSE_POSTGRES,
    DOCKERFILE,
    ENTRYPOINT,
    INSTALL_PREFIX,
    UNITS,
    dockerfile_env,
    dockerfile_instructions,
    read_unit,
)
from tests.harness import BIN, ROOT

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze is missing (Debian package systemd; "
    "scripts/setup.sh --test installs it)",
)
# Exposure in tenths as `systemd-analyze security` scores it (10 = 1.0);
# both units score 2.2 now (user, PID and network namespaces allowed for
# Chromium's sandbox cost 0.5).
EXPOSURE_CEILING = 25
UNIT_NAMES = ("hiscrm.service", "hiscrm-worker.service")


def _units_with_real_paths(tmp_path: Path, names: tuple[str, ...] = UNIT_NAMES) -> list[Path]:
    """Copies whose /opt/hiscrm is a stand-in holding this venv's programs.

    verify checks that every Exec*= program exists; the programs are the
    ones a wheel install puts in /opt/hiscrm/bin.
    """
    prefix = tmp_path / "opt-hiscrm"
    (prefix / "bin").mkdir(parents=True)
    for program in ("hiscrm", "python"):
        (prefix / "bin" / program).symlink_to(BIN / program)
    copies = []
    for name in names:
        copy = tmp_path / name
        copy.write_text((UNITS / name).read_text().replace(INSTALL_PREFIX, str(prefix)))
        copies.append(copy)
    return copies


def _verify(*units: Path) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_systemd
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    result = _verify(*_units_with_real_paths(tmp_path))
    # verify exits 0 even for unknown keys; anything it says is a finding.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )


@needs_systemd
def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    (unit,) = _units_with_real_paths(tmp_path, ("hiscrm.service",))
    unit.write_text(unit.read_text().replace("Restart=on-failure", "Restart=on-falure"))
    broken = _verify(unit)
    assert "on-falure" in broken.stdout + broken.stderr
    missing = _verify(UNITS / "hiscrm.service")  # /opt/hiscrm is not on this machine
    assert missing.returncode != 0 and "/opt/hiscrm/bin/hiscrm" in missing.stderr


@needs_systemd
@pytest.mark.parametrize("name", UNIT_NAMES)
def test_unit_exposure_stays_low(tmp_path: Path, name: str) -> None:
    (unit,) = _units_with_real_paths(tmp_path, (name,))
    assert SYSTEMD_ANALYZE is not None
    scored = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", f"--threshold={EXPOSURE_CEILING}", unit],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert scored.returncode == 0, scored.stdout[-3000:] + scored.stderr


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_unit_policy(name: str) -> None:
    """What docs/deploy.md promises of both units."""
    unit = read_unit(UNITS / name)
    assert unit.value("User") == "hiscrm"
    assert unit.value("Restart") == "on-failure"
    assert unit.value("StateDirectory") == "hiscrm"
    assert unit.value("KillMode") == "mixed"  # supervisord stops its children in order
    assert unit.value("NoNewPrivileges") == "yes"
    assert unit.value("ProtectSystem") == "strict"
    # V8's JIT needs writable+executable memory; this would crash Chromium.
    assert not unit.values("MemoryDenyWriteExecute")
    # psutil's heartbeat figures read /proc/stat and /proc/meminfo.
    assert not unit.values("ProcSubset")
    assert unit.environment()["HOME"] == "/var/lib/hiscrm"
    # Chromium's sandbox runs its renderers in new user, PID and network
    # namespaces; RestrictNamespaces=yes would force it off.
    assert set(unit.value("RestrictNamespaces").split()) == {"user", "pid", "net"}


def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    clean = _hadolint(DOCKERFILE)
    assert clean.returncode == 0 and not clean.stdout.strip(), clean.stdout + clean.stderr
    broken = tmp_path / "Dockerfile"
    broken.write_text(DOCKERFILE.read_text().replace("USER 10001:10001", "USER hiscrm"))
    flagged = _hadolint(broken)
    assert flagged.returncode != 0 and "DL3066" in flagged.stdout, flagged.stdout


def test_dockerfile_follows_the_container_advice() -> None:
    instructions = dockerfile_instructions()
    args = {name: [a for n, a in instructions if n == name] for name, _ in instructions}
    assert args["ARG"][0] == "PYTHON_IMAGE=python:3.11-slim-bookworm"
    (install,) = [a for a in args["RUN"] if "apt-get install" in a]
    for package in ("chromium-headless-shell", "fonts-noto-cjk", "tini"):
        assert package in install.split()
    user = args["USER"][-1]
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) != 0
    assert json.loads(args["ENTRYPOINT"][-1])[:2] == ["/usr/bin/tini", "--"]
    assert args["HEALTHCHECK"][-1].endswith('CMD ["python", "-m", "ops.health"]')
    assert any("hiscrm-*.whl" in a for a in args["RUN"]), "the package comes from its wheel"
    home = dockerfile_env()["HISCRM_HOME"]
    assert json.loads(args["VOLUME"][-1]) == [home]
    copied = [a.split()[-2] for a in args["COPY"] if "entrypoint" in a]
    assert copied == [str(ENTRYPOINT.relative_to(ROOT))]
    ignored = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    assert ".venv" in ignored and "var" in ignored


def _validate_compose(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_files_match_the_compose_schema(tmp_path: Path) -> None:
    valid = _validate_compose(COMPOSE, COMPOSE_POSTGRES)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    typo = tmp_path / "compose.yaml"
    typo.write_text(COMPOSE.read_text().replace("shm_size:", "shm_sise:"))
    invalid = _validate_compose(typo)
    assert invalid.returncode != 0 and "shm_sise" in invalid.stdout, invalid.stdout


def test_compose_agrees_with_the_image() -> None:
    yaml = YAML(typ="safe")
    compose = yaml.load(COMPOSE.read_text())
    service = compose["services"]["hiscrm"]
    assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).samefile(
        DOCKERFILE
    )
    assert service["shm_size"] == "1gb"
    home = dockerfile_env()["HISCRM_HOME"]
    assert any(v.endswith(f":{home}") for v in service["volumes"])
    # Ports published on the host's loopback only.
    assert all(p.startswith("127.0.0.1:") for p in service["ports"])
    postgres = yaml.load(COMPOSE_POSTGRES.read_text())
    assert postgres["services"]["hiscrm"]["environment"]["HISCRM_DATABASE_URL"].startswith(
        "postgresql://"
    )
    assert postgres["services"]["hiscrm"]["depends_on"]["postgres"]["condition"] == (
        "service_healthy"
    )


def _engine_missing() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return "no docker client"
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        return f"no container engine (docker info: {info.stderr.strip().splitlines()[-1:]})"
    return None


@pytest.mark.slow
def test_image_builds_and_becomes_healthy() -> None:
    """Needs a Docker engine (and the network for the base image and apt)."""
    missing = _engine_missing()
    if missing:
        pytest.skip(f"{missing}: the image is linted above, not built")
    docker = shutil.which("docker")
    assert docker is not None
    tag = f"hiscrm-test:{os.getpid()}"
    subprocess.run(
        [docker, "build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT)], check=True, timeout=1800
    )
    name = f"hiscrm-test-{os.getpid()}"
    subprocess.run(
        [docker, "run", "-d", "--name", name, "--shm-size=1g", "-e", "HISCRM_WORKERS=1", tag],
        check=True,
        timeout=120,
    )
    try:
        from tests.harness import wait_for

        def healthy() -> bool:
            state = subprocess.run(
                [docker, "inspect", "-f", "{{.State.Health.Status}}", name],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
            assert state != "unhealthy", state
            return state == "healthy"

        wait_for(healthy, timeout=300, interval=2, what="the container's HEALTHCHECK")
        status = subprocess.run(
            [docker, "exec", name, "hiscrm", "status"], capture_output=True, text=True, timeout=60
        )
        assert status.returncode == 0, status.stdout + status.stderr
        stop = subprocess.run([docker, "stop", "-t", "90", name], timeout=150)
        assert stop.returncode == 0
        code = subprocess.run(
            [docker, "inspect", "-f", "{{.State.ExitCode}}", name],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        assert code == "0", f"supervisord exited {code} on docker stop"
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60)
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True, timeout=120)
