"""The supervisord-managed fleet on this machine: start, scale, stop.

etc/supervisord.conf is the real config for the default run directory
(../var beside it). For another run directory a copy is rendered there with
the paths replaced, so every process of that fleet lives under it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from hiscrm_common import fleet_size, settings
from hiscrm_common.supervisor_client import ScaleResult, SupervisorClient, SupervisorError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CHECKOUT_TEMPLATE = ROOT / "etc" / "supervisord.conf"
# A wheel ships etc/ as data files ([tool.setuptools.data-files] in pyproject).
INSTALLED_TEMPLATE = Path(sysconfig.get_path("data")) / "share" / "hiscrm" / "supervisord.conf"
IN_CHECKOUT = (ROOT / "pyproject.toml").exists() and CHECKOUT_TEMPLATE.exists()
TEMPLATE = CHECKOUT_TEMPLATE if IN_CHECKOUT else INSTALLED_TEMPLATE
DEFAULT_HOME_TOKEN = "%(here)s/../var"
WORKER_GROUP = "worker"


@dataclass(frozen=True)
class Fleet:
    home: Path
    master_address: str = "127.0.0.1:50051"
    demosite_port: int = 8300

    @classmethod
    def from_env(cls, home: str | None = None) -> Fleet:
        default_home = ROOT / "var" if IN_CHECKOUT else Path.cwd() / "var"
        chosen = home or os.environ.get("HISCRM_HOME") or str(default_home)
        current = settings.get(Path(chosen).resolve())  # that home's settings file
        return cls(
            Path(chosen).resolve(),
            master_address=current.master,
            demosite_port=current.demosite_port,
        )

    @property
    def demosite_url(self) -> str:
        return f"http://127.0.0.1:{self.demosite_port}"

    @property
    def is_default_home(self) -> bool:
        return (
            IN_CHECKOUT
            and self.home == (ROOT / "var").resolve()
            and self.master_address == "127.0.0.1:50051"
            and self.demosite_port == 8300
        )

    @property
    def config_path(self) -> Path:
        return TEMPLATE if self.is_default_home else self.home / "supervisord.conf"

    @property
    def socket_path(self) -> Path:
        return self.home / "supervisor.sock"

    @property
    def pid_path(self) -> Path:
        return self.home / "supervisord.pid"

    def client(self) -> SupervisorClient:
        return SupervisorClient(self.socket_path)

    def render_config(self) -> Path:
        if not TEMPLATE.exists():
            raise SystemExit(
                f"{TEMPLATE} is missing: reinstall hiscrm (pip install --force-reinstall hiscrm)"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        if self.is_default_home:
            return TEMPLATE
        text = TEMPLATE.read_text().replace(DEFAULT_HOME_TOKEN, str(self.home))
        host, _, port = self.master_address.rpartition(":")
        text = text.replace(
            "command=hiscrm-demosite --host 127.0.0.1 --port 8300",
            f"command=hiscrm-demosite --host 127.0.0.1 --port {self.demosite_port}",
        )
        text = text.replace(
            'environment=HISCRM_HOME="',
            f'environment=HISCRM_LISTEN="{host}:{port}",HISCRM_MASTER="{host}:{port}",'
            'HISCRM_HOME="',
        )
        self.config_path.write_text(text)
        return self.config_path

    # ------------------------------------------------------------ desired size

    def wanted_workers(self, default: int = 2) -> int:
        saved = fleet_size.wanted_workers(self.home)
        return default if saved is None else saved

    def remember_workers(self, count: int) -> None:
        fleet_size.remember_workers(self.home, count)

    # ------------------------------------------------------------ lifecycle

    def supervisord_running(self) -> bool:
        try:
            pid = int(self.pid_path.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return False
        return self.socket_path.exists()

    def start_supervisord(self, config: Path | None = None) -> None:
        """With the rendered main configuration, or another one (a worker
        host's, written by `hiscrm join`)."""
        if self.supervisord_running():
            log.info("supervisord already running for %s", self.home)
            return
        config = config or self.render_config()
        bindir = Path(sys.executable).parent
        env = dict(os.environ)
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
        env["HISCRM_HOME"] = str(self.home)
        # The module, not the `supervisord` script: installs that leave the
        # scripts off PATH (pip --user, borrowed site-packages) still work.
        supervisord = [sys.executable, "-m", "supervisor.supervisord"]
        subprocess.run([*supervisord, "-c", str(config)], env=env, check=True, cwd=self.home)
        deadline = time.monotonic() + 30
        while not self.socket_path.exists():
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"supervisord did not start; see {self.home / 'logs' / 'supervisord.log'}"
                )
            time.sleep(0.1)

    async def scale(self, count: int) -> ScaleResult:
        result = await self.client().scale_group(WORKER_GROUP, count)
        self.remember_workers(count)
        return result

    async def shutdown(self, within_s: float = 60.0) -> bool:
        """Stop every process and supervisord itself; True when all are gone."""
        if not self.supervisord_running():
            return True
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            pid = 0
        try:
            await self.client().shutdown()
        except SupervisorError as exc:
            log.warning("supervisord shutdown: %s", exc)
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return True
            await asyncio.sleep(0.2)
        return False
