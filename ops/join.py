"""A worker host's run directory, as `hiscrm join` makes it.

Everything lives under the host's HISCRM_HOME: the supervisord
configuration (the host agent, and a `worker` group of slots named after
the host: HOSTID-worker-0, ...), the enrollment token, the master's CA and
this host's client certificate when given, and fleet.json (the worker count
the agent applies once it is enrolled). supervisord's socket stays a UNIX
socket in that directory: nothing of supervisord listens on the network.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from hiscrm_common import fleet_size, settings

CONFIG_NAME = "supervisord.conf"
TLS_FILES = {"ca": "ca.pem", "cert": "client.pem", "key": "client.key"}

TEMPLATE = """; written by `hiscrm join`: a worker host of the fleet at {master}
; (host agent + worker slots; the master starts, stops and scales them)

[unix_http_server]
file={home}/supervisor.sock
chmod=0700

[supervisord]
umask=077
logfile={home}/logs/supervisord.log
pidfile={home}/supervisord.pid
childlogdir={home}/logs
environment={environment}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{home}/supervisor.sock

[program:hostagent]
command={bindir}/hiscrm-hostagent
autostart=true
autorestart=true
startsecs=2
startretries=100
stopsignal=TERM
stopwaitsecs=10
redirect_stderr=true
stdout_logfile={home}/logs/hostagent.log
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=3

[program:worker]
command={bindir}/hiscrm-worker --id {host_id}-worker-%(process_num)s{worker_args}
process_name={host_id}-worker-%(process_num)s
numprocs={slots}
autostart=false
autorestart=true
startsecs=2
startretries=10
stopsignal=TERM
stopwaitsecs=30
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={home}/logs/worker-%(process_num)s.log
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=3
"""


def _copy_secret(source: Path, target: Path) -> Path:
    """An owner-only copy (the key) or a plain one (certificates)."""
    target.unlink(missing_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o600)
    return target


def prepare(
    home: Path,
    *,
    master: str,
    host_id: str,
    enroll_token: str,
    workers: int,
    slots: int,
    tls: dict[str, Path | None],
    worker_args: str = "",
) -> Path:
    """Write the host's run directory; returns the supervisord configuration."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / "logs").mkdir(exist_ok=True)
    settings.check_token(enroll_token, "--enroll-token")
    token_file = home / "enroll-token"
    if not (home / "host-credential").exists():
        token_file.unlink(missing_ok=True)
        settings.write_secret_file(token_file, enroll_token)
    env = {
        "HISCRM_HOME": str(home),
        "HISCRM_MASTER": master,
        "HISCRM_HOST_ID": host_id,
        "PYTHONUNBUFFERED": "1",
    }
    names = {"ca": "HISCRM_TLS_CA", "cert": "HISCRM_TLS_CERT", "key": "HISCRM_TLS_KEY"}
    for kind, source in tls.items():
        if source is not None:
            env[names[kind]] = str(_copy_secret(source, home / TLS_FILES[kind]))
    environment = ",".join(f'{k}="{v}"' for k, v in env.items())
    # the same for `hiscrm leave --home` and any other command run here
    keys = {"HISCRM_MASTER": "master", "HISCRM_HOST_ID": "host_id"}
    keys.update({v: v.removeprefix("HISCRM_").lower() for v in names.values()})
    lines = [f"{keys[k]} = {json.dumps(v)}" for k, v in env.items() if k in keys]
    settings_file = home / "hiscrm.toml"
    settings_file.unlink(missing_ok=True)
    settings.write_secret_file(settings_file, "# written by `hiscrm join`\n" + "\n".join(lines))
    config = home / CONFIG_NAME
    config.write_text(
        TEMPLATE.format(
            master=master,
            home=home,
            environment=environment,
            bindir=Path(sys.executable).parent,
            host_id=host_id,
            slots=slots,
            worker_args=f" {worker_args}" if worker_args else "",
        )
    )
    fleet_size.remember_workers(home, workers)
    return config
