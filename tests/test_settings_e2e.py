"""The settings file with real processes: `hiscrm init` writes it, a master
started with a setting only in the file uses it, `hiscrm config` says where
each value came from and masks secrets, and a bad value stops the master
with a message naming the setting."""

from __future__ import annotations

import stat
import subprocess

from tests.harness import BIN, Cluster, Proc, wait_for
from tests.raw_worker import RawWorker, register

FILE_TOKEN = "f" * 43
ENV_TOKEN = "e" * 43


def _plain_env(cluster: Cluster) -> dict[str, str]:
    """The harness's environment without the heartbeat it normally sets."""
    env = cluster.env()
    del env["HISCRM_HEARTBEAT_MS"]
    return env


def _hiscrm(cluster: Cluster, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in _plain_env(cluster).items() if k != "HISCRM_HOME"}
    env.update(extra)
    return subprocess.run(
        [str(BIN / "hiscrm"), *args, "--home", str(cluster.home)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _start_master(cluster: Cluster) -> Proc:
    proc = Proc(
        "master", [str(BIN / "hiscrm-master")], _plain_env(cluster), cluster.home / "logs" / "m.log"
    ).start()
    cluster.master = proc
    cluster.procs.append(proc)
    return proc


def test_init_file_setting_reaches_the_master_and_config_shows_it(cluster: Cluster) -> None:
    done = _hiscrm(cluster, "init")
    assert done.returncode == 0, done.stderr
    path = cluster.home / "hiscrm.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "# heartbeat_ms = 2000" in text
    again = _hiscrm(cluster, "init")
    assert again.returncode != 0 and "--force" in again.stderr
    path.write_text(
        text.replace("# heartbeat_ms = 2000", "heartbeat_ms = 700")
        + f'\ndemosite_admin_token = "{FILE_TOKEN}"\n'
    )

    _start_master(cluster)
    wait_for(cluster._healthy, what="master health", timeout=60)
    raw = RawWorker(cluster, register("settings-raw"))
    try:
        assert raw.welcomed().heartbeat_interval_ms == 700  # from the file only
    finally:
        raw.close()

    shown = _hiscrm(cluster, "config", HISCRM_TOKEN=ENV_TOKEN)
    assert shown.returncode == 0, shown.stderr
    rows = {line.split()[0]: line.split()[1:] for line in shown.stdout.splitlines()[1:]}
    assert rows["HISCRM_HEARTBEAT_MS"] == ["file", "700"]
    assert rows["HISCRM_HOME"] == ["--home", str(cluster.home.resolve())]
    assert rows["HISCRM_OFFLINE_AFTER_MS"][0] == "env"  # the harness sets it
    assert rows["HISCRM_TOKEN"] == ["env", "***"]
    assert rows["HISCRM_DEMOSITE_ADMIN_TOKEN"] == ["file", "***"]
    assert rows["HISCRM_MAX_CALLS"] == ["default", "20000"]
    assert ENV_TOKEN not in shown.stdout and FILE_TOKEN not in shown.stdout


def test_a_bad_file_value_stops_the_master_with_the_fix(cluster: Cluster) -> None:
    (cluster.home / "hiscrm.toml").write_text("heartbeat_ms = 10\n")
    proc = _start_master(cluster)
    wait_for(lambda: not proc.alive(), what="the master to refuse the setting", timeout=60)
    log = proc.log_text()
    assert "heartbeat_ms = 10 in" in log and "HISCRM_HEARTBEAT_MS" in log
    assert "at least 100" in log
