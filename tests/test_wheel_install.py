"""A plain wheel, installed outside any checkout, runs the whole demo fleet.

The wheel must carry everything `hiscrm up` needs (generated code, migrations,
the demo platform's static files, the supervisord configuration). The fresh
virtualenv sees the test venv's third-party packages through a path entry, so
nothing is downloaded, but not its editable install of this project (a plain
path entry does not run the .pth files that make the checkout importable).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.harness import ROOT, free_port, wait_for
from tests.test_fleet import fleet_processes

WANTED = ("comment ", "DM ")


def _build_wheel(out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        timeout=600,
    )
    return next(out.glob("hiscrm-*.whl"))


def _fresh_venv(where: Path, wheel: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site = Path(
        subprocess.run(
            [
                str(where / "bin" / "python"),
                "-c",
                "import sysconfig;print(sysconfig.get_path('purelib'))",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(where / "bin" / "python"),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        timeout=600,
    )
    return where / "bin"


def test_wheel_install_runs_the_demo_fleet(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    bindir = _fresh_venv(tmp_path / "venv", wheel)
    home = tmp_path / "run"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HISCRM_")}
    env.update(
        HISCRM_MASTER=f"127.0.0.1:{port}",
        HISCRM_DEMOSITE_PORT=str(free_port()),
        HISCRM_METRICS_LISTEN="",
        PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    env.pop("PYTHONPATH", None)
    imported = subprocess.run(
        [str(bindir / "python"), "-c", "import ops, master; print(ops.__file__, master.__file__)"],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(ROOT) not in imported, f"the checkout leaked into the fresh venv: {imported}"

    log = (tmp_path / "up.log").open("w+")
    up = subprocess.Popen(
        [str(bindir / "hiscrm"), "up", "--home", str(home), "--no-tui", "--workers", "1"],
        cwd=outside,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def items_shown() -> bool:
            text = (tmp_path / "up.log").read_text()
            if up.poll() is not None:  # wait_for would take this for "not yet"
                pytest.fail(f"hiscrm up exited: {text}")
            return any(w in line for line in text.splitlines() for w in WANTED)

        wait_for(items_shown, timeout=240, interval=0.5, what="items from the wheel's fleet")
        assert (home / "supervisord.conf").exists()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)
            up.wait(timeout=30)
        down = subprocess.run(
            [str(bindir / "hiscrm"), "down", "--home", str(home)],
            cwd=outside,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        log.close()
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not fleet_processes(home), timeout=60, what="no processes left")
