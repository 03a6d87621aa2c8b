"""The settings model (hiscrm_common/config_model.py): precedence, errors,
masking, the generated reference and the commented file; and that every
HISCRM_* name the code uses is in the model."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

import pytest

from hiscrm_common import config_docs, config_model, settings
from master.config import MasterConfig

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ["master", "worker", "tui", "ops", "hiscrm_common", "demosite", "etc", "deploy"]
TOKEN = "t" * 43


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("HISCRM_"):
            monkeypatch.delenv(name)
    run_dir = tmp_path / "home"
    run_dir.mkdir(mode=0o700)
    monkeypatch.setenv("HISCRM_HOME", str(run_dir))
    return run_dir


def write(home: Path, text: str, mode: int = 0o600) -> Path:
    path = home / "hiscrm.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_names_in_code_are_all_in_the_model() -> None:
    used: dict[str, str] = {}
    for top in CODE_DIRS:
        for path in (ROOT / top).rglob("*"):
            if not path.is_file() or path.suffix in {".pyc", ".png", ".db"}:
                continue
            text = path.read_text(errors="replace")
            for name in re.findall(r"HISCRM_[A-Z0-9_]*[A-Z0-9]", text):
                used.setdefault(name, str(path.relative_to(ROOT)))
    known = {config_model.env_name(f) for f in config_model.FIELDS}
    missing = {name: where for name, where in used.items() if name not in known}
    assert not missing, f"HISCRM_* names used in code but not in config_model.Settings: {missing}"
    # the scan finds what it should (guards against a scan that sees nothing)
    assert {"HISCRM_HOME", "HISCRM_TOKEN", "HISCRM_CHROMIUM", "HISCRM_WORKER_PREFIX"} <= set(used)


def test_every_setting_is_documented_and_the_doc_is_fresh() -> None:
    for field, info in config_model.FIELDS.items():
        assert info.description, f"{field} has no description"
        assert config_model.extra(field)["group"] in config_model.GROUP_TITLES
    committed = (ROOT / "docs" / "settings.md").read_text()
    assert committed == config_docs.markdown() + "\n", (
        "docs/settings.md is stale: run .venv/bin/python scripts/gen_settings_doc.py"
    )
    for field in config_model.FIELDS:
        assert f"`{config_model.env_name(field)}`" in committed


def test_defaults(home: Path) -> None:
    current = config_model.get()
    assert current.heartbeat_ms == 2000
    assert current.offline_after == 20_000
    assert current.batch_bytes == 1024 * 1024
    assert current.enrollment is True
    assert settings.token_file() == home.resolve() / "token"
    config = MasterConfig.from_env()
    assert config.heartbeat_interval_ms == 2000 and config.offline_after_ms == 20_000


def test_file_then_env_precedence(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home, 'heartbeat_ms = 700\nlisten = "127.0.0.1:5999"\nenrollment = false\n')
    current = config_model.get()
    assert (current.heartbeat_ms, current.listen, current.enrollment) == (
        700,
        "127.0.0.1:5999",
        False,
    )
    assert current.offline_after == 7000  # derived from the file's heartbeat
    monkeypatch.setenv("HISCRM_HEARTBEAT_MS", "900")
    monkeypatch.setenv("HISCRM_ENROLLMENT", "on")
    current = config_model.get()  # the cache sees the changed environment
    assert (current.heartbeat_ms, current.listen, current.enrollment) == (
        900,
        "127.0.0.1:5999",
        True,
    )
    sources = {r.variable: r.source for r in config_docs.effective(current)}
    assert sources["HISCRM_HEARTBEAT_MS"] == "env"
    assert sources["HISCRM_LISTEN"] == "file"
    assert sources["HISCRM_MAX_CALLS"] == "default"
    # an empty variable is the default (the file's value here), except metrics
    monkeypatch.setenv("HISCRM_HEARTBEAT_MS", "")
    monkeypatch.setenv("HISCRM_METRICS_LISTEN", "")
    current = config_model.get()
    assert current.heartbeat_ms == 700 and current.metrics_listen == ""


def test_config_file_variable_names_the_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text("page_concurrency = 9\n")
    monkeypatch.setenv("HISCRM_CONFIG_FILE", str(other))
    assert config_model.get().page_concurrency == 9


def test_bad_env_value_names_the_variable_and_the_fix(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HISCRM_HEARTBEAT_MS", "fast")
    with pytest.raises(config_model.SettingsError) as err:
        config_model.get()
    message = str(err.value)
    assert "HISCRM_HEARTBEAT_MS='fast' (environment)" in message
    assert "whole number" in message and "at least 100" in message and "2000" in message
    monkeypatch.setenv("HISCRM_HEARTBEAT_MS", "50")
    with pytest.raises(config_model.SettingsError, match="HISCRM_HEARTBEAT_MS='50'"):
        MasterConfig.from_env()


def test_bad_file_values_name_the_key_and_the_file(home: Path) -> None:
    path = write(home, 'max_calls = "many"\n')
    with pytest.raises(config_model.SettingsError) as err:
        config_model.get()
    assert f"max_calls = 'many' in {path.resolve()} (HISCRM_MAX_CALLS)" in str(err.value)
    write(home, "heartbeat_msec = 700\n")
    with pytest.raises(config_model.SettingsError, match="unknown setting 'heartbeat_msec'"):
        config_model.get()
    write(home, 'home = "/elsewhere"\n')
    with pytest.raises(config_model.SettingsError, match="only the environment"):
        config_model.get()
    write(home, "heartbeat_ms = \n")
    with pytest.raises(config_model.SettingsError, match="not valid TOML"):
        config_model.get()


def test_a_secret_in_a_readable_file_is_refused_and_never_echoed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(home, f'token = "{TOKEN}"\n', mode=0o644)
    with pytest.raises(config_model.SettingsError) as err:
        config_model.get()
    assert "chmod 600" in str(err.value) and TOKEN not in str(err.value)
    path.chmod(0o600)
    assert settings.load_token() == TOKEN  # the file's token is the operator's
    # a bad secret is reported without its value
    monkeypatch.setenv("HISCRM_LOG_LEVEL", "loud")
    with pytest.raises(config_model.SettingsError, match="HISCRM_LOG_LEVEL='loud'"):
        config_model.get()


def test_masking(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home, f'demosite_admin_token = "{TOKEN}"\n')
    monkeypatch.setenv("HISCRM_TOKEN", "e" * 40)
    monkeypatch.setenv("HISCRM_DATABASE_URL", "postgresql://alice:s3cret-pw@db/hiscrm")
    rows = {r.variable: r for r in config_docs.effective(config_model.get())}
    shown = "\n".join(f"{r.variable} {r.source} {r.value}" for r in rows.values())
    assert TOKEN not in shown and "e" * 40 not in shown and "s3cret-pw" not in shown
    assert (rows["HISCRM_TOKEN"].value, rows["HISCRM_TOKEN"].source) == ("***", "env")
    assert rows["HISCRM_DEMOSITE_ADMIN_TOKEN"].value == "***"
    assert rows["HISCRM_DEMOSITE_ADMIN_TOKEN"].source == "file"
    assert rows["HISCRM_DATABASE_URL"].value == "postgresql://alice:***@db/hiscrm"
    assert TOKEN not in repr(config_model.get())


def test_template_is_valid_and_sets_nothing(home: Path) -> None:
    path = home / "hiscrm.toml"
    config_docs.write_template(path, force=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert tomllib.loads(text) == {}  # all commented out: defaults
    for field in config_model.FIELDS:
        if not config_model.extra(field)["env_only"]:
            assert f"# {field} = " in text, field
    # each commented line, uncommented, is a valid setting of its own
    for line in text.splitlines():
        if re.match(r"# [a-z_]+ = ", line):
            key = line[2:].split(" = ")[0]
            assert key in tomllib.loads(line[2:])
    with pytest.raises(FileExistsError):
        config_docs.write_template(path, force=False)
    path.write_text("heartbeat_ms = 700\n")
    config_docs.write_template(path, force=True)
    assert tomllib.loads(path.read_text()) == {}


def test_a_secret_file_is_never_seen_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker waits for the enrollment token the master writes at its first
    start: the name appears only once the whole token is in the file."""
    path = tmp_path / "enroll-token"
    visible_while_writing: list[bool] = []
    real_fdopen = os.fdopen

    def watched_fdopen(fd: int, *args: object, **kwargs: object) -> object:
        f = real_fdopen(fd, *args, **kwargs)  # type: ignore[call-overload]
        write = f.write

        def watched_write(text: str) -> int:
            visible_while_writing.append(path.exists())
            return write(text)

        f.write = watched_write
        return f

    monkeypatch.setattr(settings.os, "fdopen", watched_fdopen)
    settings.write_secret_file(path, "first-token")
    monkeypatch.undo()
    assert visible_while_writing == [False]
    assert path.read_text() == "first-token\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):  # never replaces one
        settings.write_secret_file(path, "second-token")
    assert path.read_text() == "first-token\n"
    assert [p.name for p in tmp_path.iterdir()] == ["enroll-token"]  # no temp file left
