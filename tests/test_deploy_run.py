"""The deployment files' commands, run as written against a real wheel install.

No systemd runs as PID 1 here and no container engine is present, so the
tests do what systemd and Docker would do with the files: a wheel installed
in a fresh virtualenv stands in for /opt/hiscrm (the image's pip install),
/var/lib/hiscrm and /etc/hiscrm become temporary directories, and then
- hiscrm.service: ExecStart with the unit's Environment= and the example
  EnvironmentFile, the master healthy and a worker online, PIDFile naming
  supervisord, SIGTERM to it alone (KillMode=mixed) stopping everything;
- hiscrm-worker.service: its ExecStartPre lines and ExecStart against that
  master with the example worker.env filled in as docs/deploy.md says;
- the image: its ENTRYPOINT (tini + deploy/docker/entrypoint.sh) with its ENV
  and compose.yaml's environment, its HEALTHCHECK command, both roles, and
  `docker stop`'s SIGTERM to PID 1.
What this cannot show: the units' sandboxing options in effect (only
`systemd-analyze` judges them, tests/test_deploy_files.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from ruamel.yaml import YAML

from hiscrm.v1 import common_pb2
from hiscrm_common import fleet_size
from hiscrm_common.supervisor_client import SupervisorClient
from tests.deploy_helpers import (
    COMPOSE,
    ENTRYPOINT,
    INSTALL_PREFIX,
    STATE_DIR,
    UNITS,
    Unit,
    dockerfile_env,
    dockerfile_instructions,
    read_env_file,
    read_unit,
)
from tests.harness import Cluster, free_port, wait_for
from tests.test_fleet import fleet_processes
from tests.test_wheel_install import _build_wheel, _fresh_venv

pytestmark = pytest.mark.slow
ONLINE = common_pb2.WORKER_STATE_ONLINE
TINI = "/usr/bin/tini"


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/opt/hiscrm: a fresh virtualenv with the wheel, as docs/deploy.md installs it."""
    base = tmp_path_factory.mktemp("opt")
    _fresh_venv(base / "hiscrm", _build_wheel(base / "dist"))
    return base / "hiscrm"


def _base_env() -> dict[str, str]:
    """The environment systemd or Docker would start from: none of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HISCRM_")}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    return env


def _unit_env(unit: Unit) -> dict[str, str]:
    env = _base_env()
    env.update(unit.environment())
    for path, required in unit.environment_files():
        if path.exists():
            env.update(read_env_file(path))
        else:
            assert not required, f"{unit.path.name}: {path} is required"
    return env


def _fill_in(example: Path, target: Path, values: dict[str, str]) -> None:
    """Edit an .env.example the way an operator would: set these keys."""
    lines = []
    for line in example.read_text().splitlines():
        key = line.lstrip("#").partition("=")[0].strip()
        lines.append(f"{key}={values.pop(key)}" if key in values else line)
    lines += [f"{k}={v}" for k, v in values.items()]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    target.chmod(0o600)


def _run_exec(unit: Unit, key: str, env: dict[str, str]) -> None:
    for line in unit.values(key):
        done = subprocess.run(
            unit.command(line),
            env=env,
            cwd=unit.value("WorkingDirectory"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{key}={line}: {done.stdout}{done.stderr}"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _stop_and_check(pid: int, home: Path) -> None:
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: _gone(pid), timeout=120, what="supervisord gone")
    wait_for(lambda: not fleet_processes(home), timeout=60, what=f"no process left in {home}")


def _health(python: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "ops.health"], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def cleanup() -> Iterator[list[Path]]:
    homes: list[Path] = []
    yield homes
    for home in homes:
        for proc in fleet_processes(home):
            proc.kill()


def test_systemd_units_run_as_written(prefix: Path, tmp_path: Path, cleanup: list[Path]) -> None:
    home, whome, etc = tmp_path / "main", tmp_path / "hostb", tmp_path / "etc"
    cleanup += [home, whome]
    port = free_port()
    main = read_unit(
        UNITS / "hiscrm.service",
        {INSTALL_PREFIX: str(prefix), STATE_DIR: str(home), "/etc/hiscrm": str(etc)},
    )
    _fill_in(
        UNITS / "hiscrm.env.example",
        etc / "hiscrm.env",
        {
            "HISCRM_MASTER": f"127.0.0.1:{port}",
            "HISCRM_METRICS_LISTEN": "",
            "HISCRM_DEMOSITE_PORT": str(free_port()),
        },
    )
    home.mkdir(mode=0o750)  # StateDirectory=
    fleet_size.remember_workers(home, 1)  # as `hiscrm scale 1` left it
    env = _unit_env(main)
    assert env["HOME"] == str(home)
    _run_exec(main, "ExecStart", env)

    pid = int(Path(main.value("PIDFile")).read_text())
    assert "supervisord" in " ".join(psutil.Process(pid).cmdline())
    probe = _health(prefix / "bin" / "python", {**env, "HISCRM_MASTER": f"127.0.0.1:{port}"})
    assert probe.returncode == 0, probe.stderr
    cluster = Cluster(home=home, port=port)
    cluster.wait_worker_state("worker-0", ONLINE, timeout=120)
    running = asyncio.run(SupervisorClient(home / "supervisor.sock").group_processes("worker"))
    assert [p.process for p in running if p.active] == ["worker-0"], "fleet.json's count not kept"

    # A worker host, told the master's address, enrollment token and key as docs/deploy.md says.
    key = wait_for(lambda: (home / "secret.key").exists(), timeout=60, what="secret.key")
    assert key
    worker = read_unit(
        UNITS / "hiscrm-worker.service",
        {INSTALL_PREFIX: str(prefix), STATE_DIR: str(whome), "/etc/hiscrm": str(etc)},
    )
    _fill_in(
        UNITS / "hiscrm-worker.env.example",
        etc / "worker.env",
        {
            "HISCRM_MASTER": f"127.0.0.1:{port}",
            "HISCRM_WORKER_PREFIX": "hostb",
            "HISCRM_ENROLL_TOKEN": cluster.enrollment_token(),
            "HISCRM_SECRET_KEY": (home / "secret.key").read_text().strip(),
        },
    )
    whome.mkdir(mode=0o750)
    wenv = _unit_env(worker)
    _run_exec(worker, "ExecStartPre", wenv)
    assert "%(here)s" not in (whome / "supervisord.worker.conf").read_text()
    log = (tmp_path / "worker-unit.log").open("w")
    supervisord = subprocess.Popen(
        worker.command(worker.value("ExecStart")),
        env=wenv,
        cwd=worker.value("WorkingDirectory"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for wid in ("hostb-worker-0", "hostb-worker-1"):
            cluster.wait_worker_state(wid, ONLINE, timeout=180)
        _stop_and_check(supervisord.pid, whome)
    finally:
        if supervisord.poll() is None:  # only when the test failed above
            supervisord.kill()
        log.close()
    assert supervisord.wait(30) == 0, (tmp_path / "worker-unit.log").read_text()
    _stop_and_check(pid, home)
    cluster.stop_all()


def _compose_environment() -> dict[str, str]:
    service = YAML(typ="safe").load(COMPOSE.read_text())["services"]["hiscrm"]
    return {k: str(v) for k, v in service["environment"].items()}


def _image_command(prefix: Path) -> list[str]:
    """The image's ENTRYPOINT with its paths on this machine."""
    import json

    (entrypoint,) = [json.loads(a) for n, a in dockerfile_instructions() if n == "ENTRYPOINT"]
    mapping = {TINI: TINI, "/usr/local/bin/hiscrm-entrypoint": str(ENTRYPOINT)}
    return [mapping.get(arg, arg) for arg in entrypoint]


def _image_env(prefix: Path, home: Path, **overrides: str) -> dict[str, str]:
    env = _base_env()
    env.update(dockerfile_env())
    env.update(_compose_environment())
    env.update(HISCRM_HOME=str(home), HOME=str(home))
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env['PATH']}"
    # tini is PID 1 in a container; here it reaps as a subreaper instead.
    env["TINI_SUBREAPER"] = "1"
    env.update(overrides)
    return env


@pytest.mark.skipif(
    shutil.which(TINI) is None, reason="tini is missing (scripts/setup.sh --test installs it)"
)
def test_image_entrypoint_and_healthcheck(
    prefix: Path, tmp_path: Path, cleanup: list[Path]
) -> None:
    home, box = tmp_path / "home", tmp_path / "box"
    cleanup += [home, box]
    home.mkdir()
    box.mkdir()
    port = free_port()
    # The container listens on every interface; here on loopback only.
    master = f"127.0.0.1:{port}"
    env = _image_env(
        prefix,
        home,
        HISCRM_LISTEN=master,
        HISCRM_MASTER=master,
        HISCRM_METRICS_LISTEN="",
        HISCRM_DEMOSITE_PORT=str(free_port()),
        HISCRM_WORKERS="1",
    )
    log = (tmp_path / "main.log").open("w")
    main = subprocess.Popen(
        _image_command(prefix), env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT
    )
    workers: subprocess.Popen[bytes] | None = None
    try:
        (healthcheck,) = [a for n, a in dockerfile_instructions() if n == "HEALTHCHECK"]
        assert healthcheck.endswith('CMD ["python", "-m", "ops.health"]')
        wait_for(
            lambda: _health(prefix / "bin" / "python", env).returncode == 0,
            timeout=120,
            interval=1,
            what="the image's HEALTHCHECK",
        )
        assert "%(here)s" not in (home / "supervisord.conf").read_text()
        cluster = Cluster(home=home, port=port)
        cluster.wait_worker_state("worker-0", ONLINE, timeout=120)
        assert fleet_size.wanted_workers(home) == 1

        wenv = _image_env(
            prefix,
            box,
            HISCRM_ROLE="worker",
            HISCRM_MASTER=master,
            HISCRM_WORKER_PREFIX="box",
            HISCRM_ENROLL_TOKEN=cluster.enrollment_token(),
            HISCRM_SECRET_KEY=(home / "secret.key").read_text().strip(),
        )
        wlog = (tmp_path / "workers.log").open("w")
        workers = subprocess.Popen(
            _image_command(prefix), env=wenv, cwd=box, stdout=wlog, stderr=subprocess.STDOUT
        )
        wlog.close()
        for wid in ("box-worker-0", "box-worker-1"):
            cluster.wait_worker_state(wid, ONLINE, timeout=180)
    finally:
        # `docker stop`: SIGTERM to PID 1 (tini), which passes it on.
        for proc, where in ((workers, box), (main, home)):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(120)
                wait_for(lambda w=where: not fleet_processes(w), timeout=60, what="all stopped")
        log.close()
    assert workers is not None and workers.returncode == 0
    assert main.returncode == 0, (tmp_path / "main.log").read_text()
    down = _health(prefix / "bin" / "python", env)
    assert down.returncode == 1 and "UNAVAILABLE" in down.stderr, down.stderr
    cluster.stop_all()


def test_entrypoint_refuses_an_unknown_role(prefix: Path, tmp_path: Path) -> None:
    env = _image_env(prefix, tmp_path, HISCRM_ROLE="master")
    done = subprocess.run(
        [str(ENTRYPOINT)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "HISCRM_ROLE=master" in done.stderr
    assert not (tmp_path / "supervisord.conf").exists()
