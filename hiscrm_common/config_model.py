"""Every HISCRM_* setting in one typed, documented model.

Each field is read from the environment (HISCRM_<NAME>) or from the settings
file ($HISCRM_CONFIG_FILE, else $HISCRM_HOME/hiscrm.toml, key <name> in
lower case); the environment wins over the file, the file over the default.
docs/settings.md and the file `hiscrm init` writes are generated from this
model, and a test fails when code names a HISCRM_* variable that is not here.

Processes call get(): the result is cached for as long as the HISCRM_*
environment and the settings file stay the same, so a test or `hiscrm --home`
changing the environment is seen, and nothing is parsed twice otherwise.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PREFIX = "HISCRM_"
FILE_NAME = "hiscrm.toml"
DEFAULT_MASTER_ADDRESS = "127.0.0.1:50051"
DEFAULT_PLATFORMS = "demo,douyin,xiaohongshu,synthetic"
# gRPC's own default is 4 MiB; we state ours so both ends agree and batches
# are chunked well below it.
DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_BATCH_BYTES = 1024 * 1024
DEFAULT_MAX_BATCH_ITEMS = 2000

Group = Literal["paths", "secrets", "master", "limits", "worker", "demo", "tls", "deploy"]
GROUP_TITLES: dict[str, str] = {
    "paths": "Where things are",
    "secrets": "Tokens and keys",
    "tls": "TLS",
    "master": "Master",
    "limits": "Connection and call bounds (master)",
    "worker": "Workers",
    "demo": "Demo platform",
    "deploy": "Deployment (read by supervisord and the container, not by hiscrm processes)",
}


def setting(
    default: Any,
    doc: str,
    group: Group,
    *,
    env_only: bool = False,
    example: str = "",
    shown_default: str = "",
    **constraints: Any,
) -> Any:
    """A field with what docs/settings.md and `hiscrm init` say about it.

    env_only: decides where the settings file is, so the file cannot set it.
    shown_default: the default in words when it is derived at run time."""
    extra: dict[str, Any] = {
        "group": group,
        "env_only": env_only,
        "example": example,
        "shown_default": shown_default,
    }
    return Field(default, description=doc, json_schema_extra=extra, **constraints)


class SettingsError(SystemExit):
    """A setting that cannot be used; the message names it and says how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        case_sensitive=False,
        extra="forbid",
        validate_default=True,
    )

    # -- where things are -------------------------------------------------
    home: Path = setting(
        Path("./var"),
        "Run directory: database, tokens, keys, logs, worker data, the settings file. "
        "Made owner-only (0700).",
        "paths",
        env_only=True,
        shown_default="./var (`hiscrm` in a checkout: the checkout's var/)",
    )
    config_file: Path | None = setting(
        None,
        "The settings file; `hiscrm init` writes a commented one.",
        "paths",
        env_only=True,
        shown_default="$HISCRM_HOME/hiscrm.toml",
    )
    database_url: SecretStr | None = setting(
        None,
        "SQLAlchemy URL of the master's database; its password is masked wherever it is shown.",
        "paths",
        example="postgresql+psycopg://user:pass@db.internal/hiscrm",
        shown_default="SQLite file $HISCRM_HOME/hiscrm.db",
    )
    supervisor_socket: Path | None = setting(
        None,
        "supervisord's UNIX socket, through which the master starts and stops workers.",
        "paths",
        shown_default="$HISCRM_HOME/supervisor.sock",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = setting(
        "INFO", "Log level of every hiscrm process (DEBUG, INFO, WARNING, ERROR).", "paths"
    )

    # -- tokens and keys --------------------------------------------------
    token: SecretStr | None = setting(
        None,
        "An operator's bearer token (at least 32 bytes); overrides the token file.",
        "secrets",
    )
    token_file: Path | None = setting(
        None,
        "File with an operator's token; the master writes the first admin's there on "
        "first start (mode 0600).",
        "secrets",
        shown_default="$HISCRM_HOME/token",
    )
    enroll_token: SecretStr | None = setting(
        None,
        "The token a new worker id exchanges once for its own credential.",
        "secrets",
    )
    enroll_token_file: Path | None = setting(
        None,
        "File with the enrollment token (written by the master on first start).",
        "secrets",
        shown_default="$HISCRM_HOME/enroll-token",
    )
    enrollment: bool = setting(
        True,
        "Whether the master accepts workers that present the enrollment token; off: only "
        "workers with a credential from `hiscrm token create --worker ID`.",
        "secrets",
        example="off",
    )
    worker_credential: SecretStr | None = setting(
        None,
        "A worker's own credential (`hiscrm token create --worker ID`).",
        "secrets",
        shown_default="<worker data>/credential",
    )
    master_key: SecretStr | None = setting(
        None,
        "The master's key for proxy passwords at rest.",
        "secrets",
    )
    master_key_file: Path | None = setting(
        None,
        "File with the master's key (made owner-only on first use).",
        "secrets",
        shown_default="$HISCRM_HOME/master.key",
    )
    secret_key: SecretStr | None = setting(
        None,
        "Session encryption key (urlsafe base64 of 32 bytes); workers on other hosts need "
        "the master host's.",
        "secrets",
        shown_default="$HISCRM_HOME/secret.key",
    )

    # -- TLS --------------------------------------------------------------
    tls_cert: Path | None = setting(
        None,
        "Master: its certificate chain (PEM), with tls_key turns TLS on; clients: the client "
        "certificate they present when the master asks.",
        "tls",
    )
    tls_key: Path | None = setting(
        None, "Master: its private key (PEM); clients: the key of their certificate.", "tls"
    )
    # supervisord gives the master and the workers one environment, and under
    # mTLS the workers present tls_cert as their client certificate
    tls_server_cert: Path | None = setting(
        None,
        "Master: a server certificate of its own (PEM), served instead of tls_cert, so that "
        "tls_cert/tls_key can be the client certificate the workers and `hiscrm` present "
        "when they share one environment (`hiscrm up`). Set with tls_server_key.",
        "tls",
    )
    tls_server_key: Path | None = setting(
        None, "Master: the private key of tls_server_cert (PEM).", "tls"
    )
    tls_ca: Path | None = setting(
        None,
        "Clients: the CA that signed the master's certificate; master: the CA for client "
        "certificates.",
        "tls",
    )

    # -- master -----------------------------------------------------------
    listen: str = setting(DEFAULT_MASTER_ADDRESS, "host:port the master serves gRPC on.", "master")
    master: str = setting(
        DEFAULT_MASTER_ADDRESS, "host:port where workers and clients reach the master.", "master"
    )
    metrics_listen: str = setting(
        "127.0.0.1:9464", "host:port of the Prometheus endpoint; empty disables it.", "master"
    )
    heartbeat_ms: int = setting(
        2000, "Heartbeat interval the master asks workers for, in ms.", "master", ge=100
    )
    notify_urls: SecretStr | None = setting(
        None,
        "Notification targets (apprise URLs, separated by spaces or commas) that get every "
        "notification kind; more are added with Control.CreateNotifier. They hold webhook "
        "keys and passwords: masked wherever they are shown.",
        "master",
        example="json://127.0.0.1:8080/hook wecom://BOT_KEY",
    )
    notify_max_per_minute: int = setting(
        20,
        "Messages per minute at most to one notification target (chat bots accept about 20); "
        "events beyond wait and go out batched in the next message.",
        "master",
        ge=1,
        le=6000,
    )
    notify_batch_seconds: float = setting(
        2.0,
        "How long a notification waits for others to go out with it in one message.",
        "master",
        ge=0,
        le=600,
    )
    notify_queue: int = setting(
        1000,
        "Notifications waiting per target at most; beyond, new ones are dropped and counted "
        "(ingest never waits for notifications).",
        "master",
        ge=10,
        le=1_000_000,
    )
    notify_retries: int = setting(
        4,
        "Attempts to deliver one notification message (exponential backoff with jitter "
        "between them) before it counts as failed.",
        "master",
        ge=1,
        le=20,
    )
    missing_after_beats: float = setting(
        2.5,
        "Silent heartbeat intervals before a worker counts as missing and its accounts move.",
        "master",
        gt=0,
    )
    offline_after_ms: int | None = setting(
        None,
        "After how long without a heartbeat a worker counts as offline, in ms.",
        "master",
        shown_default="10 × heartbeat_ms",
        ge=1,
    )
    max_message_bytes: int = setting(
        DEFAULT_MAX_MESSAGE_BYTES,
        "Protocol frame limit, both directions; worker and master must agree.",
        "master",
        ge=64 * 1024,
    )
    max_batch_bytes: int | None = setting(
        None,
        "Workers chunk item batches under this many bytes.",
        "master",
        shown_default="min(1 MiB, max_message_bytes / 2)",
        ge=1024,
    )
    max_batch_items: int = setting(
        DEFAULT_MAX_BATCH_ITEMS, "Most items in one batch.", "master", ge=1
    )
    sqlite_busy_ms: int = setting(
        30_000,
        "How long a master write waits for a lock held by another process before it fails "
        "and is retried (the outage shows in GetStats.problems).",
        "master",
        ge=0,
    )

    # -- bounds (docs/security.md) -----------------------------------------
    max_connections: int | None = setting(
        None,
        "gRPC connections in total.",
        "limits",
        shown_default="open-file limit − 256, between 64 and 8192",
        ge=1,
    )
    max_streams_per_connection: int = setting(
        1000, "Concurrent streams on one connection.", "limits", ge=1
    )
    handshake_timeout_ms: int = setting(
        10_000, "A connection's handshake must finish within this, in ms.", "limits", ge=1
    )
    idle_connection_ms: int = setting(
        600_000, "An idle connection is closed after this, in ms.", "limits", ge=1
    )
    max_calls: int = setting(20_000, "Calls in progress in total.", "limits", ge=1)
    max_calls_per_credential: int = setting(
        256, "Calls in progress for one token or credential.", "limits", ge=1
    )
    max_anonymous_calls: int = setting(
        256, "Calls in progress without a valid token (health, reflection).", "limits", ge=1
    )
    max_anonymous_calls_per_peer: int = setting(
        32, "Calls in progress without a valid token from one peer address.", "limits", ge=1
    )

    # -- workers ----------------------------------------------------------
    worker_id: str = setting(
        "", "The worker's id, unique in the fleet (a worker's --id).", "worker", example="worker-1"
    )
    worker_platforms: str = setting(
        DEFAULT_PLATFORMS, "Comma-separated platforms a worker runs.", "worker"
    )
    host_id: str = setting(
        "",
        "This host's id in the fleet (`hiscrm join --host-id`): the host agent says hello with "
        "it and workers report it as their host; empty: the machine's host name.",
        "worker",
        example="hostb",
    )
    host_account_mib: int = setting(
        64,
        "Master: memory one account costs on a worker host, for the per-host account cap "
        "(memory_total - HISCRM_HOST_RESERVE_MIB) / this.",
        "master",
        ge=1,
    )
    host_reserve_mib: int = setting(
        1024,
        "Master: memory of a worker host kept for its system, supervisord, agent and browsers "
        "before the per-host account cap is counted.",
        "master",
        ge=0,
    )
    worker_max_accounts: int = setting(30, "Most accounts one worker runs at once.", "worker", ge=1)
    worker_data: Path | None = setting(
        None,
        "A worker's outbox, sessions and screenshots.",
        "worker",
        shown_default="$HISCRM_HOME/workers/<id>",
    )
    outbox_max_items: int = setting(
        200_000,
        "Worker outbox bound; when full the account shows OUTBOX_FULL.",
        "worker",
        ge=1,
    )
    page_concurrency: int = setting(4, "Page loads one worker runs at once.", "worker", ge=1)
    resource_policy: bool = setting(
        True,
        "Monitoring pages skip images, media, fonts and telemetry hosts (never during a login).",
        "worker",
        example="false",
    )
    render_scale: float = setting(
        0.25,
        "Monitoring pages paint at this fraction of their size (pages see no change; "
        "replies and screenshots paint at full size); 1 paints everything in full.",
        "worker",
        gt=0,
        le=1,
        example="1",
    )
    page_renew_min: float = setting(
        30.0,
        "A monitoring page is replaced by a fresh one after this many minutes (each page "
        "draws between 75 % and 100 % of it), which frees what it gathered while open.",
        "worker",
        gt=0,
        example="60",
    )
    page_max_heap_mib: float = setting(
        256.0,
        "A monitoring page whose JS heap is above this many MiB is replaced at its next cycle.",
        "worker",
        gt=0,
        example="512",
    )
    block_hosts: str = setting(
        "",
        "More hosts (comma-separated) that monitoring pages never fetch from.",
        "worker",
        example="stats.example.com,ads.example.com",
    )
    chromium: str | None = setting(
        None,
        "Browser executable for workers.",
        "worker",
        shown_default="Debian's chromium-headless-shell, else chromium, else Playwright's",
        example="/usr/bin/chromium",
    )
    browser_sandbox: bool = setting(
        True, "Run Chromium sandboxed (as browser_user when the worker is root).", "worker"
    )
    browser_user: str = setting("nobody", "The user a root worker runs Chromium as.", "worker")
    proxy_check_url: str = setting(
        "https://www.baidu.com/",
        "What a proxied account's health check fetches through its proxy.",
        "worker",
    )
    demosite_url: str | None = setting(
        None,
        "Base URL of the demo platform for demo accounts without their own.",
        "worker",
        shown_default="http://127.0.0.1:8300",
    )

    # -- demo platform ----------------------------------------------------
    demosite_port: int = setting(
        8300, "Port `hiscrm up` serves the demo platform on.", "demo", ge=1, le=65535
    )
    demosite_admin_token: SecretStr | None = setting(
        None, "The demo platform's admin token (X-Admin-Token on /admin/*).", "demo"
    )
    demosite_admin_token_file: Path | None = setting(
        None,
        "File with the demo platform's admin token (made on its first start).",
        "demo",
        shown_default="$HISCRM_HOME/demosite-admin-token",
    )

    # -- deployment: read where supervisord's configuration or the container's
    # entrypoint runs, before any hiscrm process, so only the environment
    # can set them --------------------------------------------------------
    worker_prefix: str = setting(
        "",
        "Worker-only hosts (etc/supervisord.worker.conf): the worker id prefix, unique per "
        "host; `hostb` gives hostb-worker-0, hostb-worker-1, ...",
        "deploy",
        env_only=True,
        example="hostb",
    )
    role: Literal["main", "worker"] = setting(
        "main",
        "The container's role (deploy/docker/entrypoint.sh): main runs master, workers and "
        "the demo platform; worker runs workers for a master elsewhere.",
        "deploy",
        env_only=True,
    )
    workers: int = setting(
        2,
        "The container's worker count on its very first start; afterwards the count an "
        "operator last chose ($HISCRM_HOME/fleet.json) applies.",
        "deploy",
        env_only=True,
        ge=0,
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: Any) -> Any:
        """HISCRM_<NAME>= (empty) means the default, as it always did, except
        where empty is a value of its own (metrics_listen: disabled)."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (v == "" and k not in EMPTY_IS_A_VALUE)}
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init carries the settings file's values (read by load(), which
        # checks them first); the environment wins over them.
        return (_NonEmptyEnv(settings_cls), init_settings)

    # -- values derived from others -----------------------------------------
    @property
    def offline_after(self) -> int:
        if self.offline_after_ms is not None:
            return self.offline_after_ms
        return self.heartbeat_ms * 10

    @property
    def batch_bytes(self) -> int:
        if self.max_batch_bytes is not None:
            return self.max_batch_bytes
        return min(DEFAULT_MAX_BATCH_BYTES, self.max_message_bytes // 2)

    def by_env(self, env_name: str) -> Any:
        """The value of the field HISCRM_<NAME> (for code that names the variable)."""
        return getattr(self, field_name(env_name))


EMPTY_IS_A_VALUE = {"metrics_listen"}


class _NonEmptyEnv(EnvSettingsSource):
    """HISCRM_<NAME>= (empty) is as if unset, so the file's value or the default
    applies, except where empty is a value of its own."""

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in super().__call__().items() if v != "" or k in EMPTY_IS_A_VALUE}


FIELDS: dict[str, FieldInfo] = Settings.model_fields


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def field_name(env: str) -> str:
    name = env.removeprefix(PREFIX).lower()
    if name not in FIELDS:
        raise KeyError(f"{env} is not a hiscrm setting")
    return name


def extra(field: str) -> dict[str, Any]:
    value = FIELDS[field].json_schema_extra
    return value if isinstance(value, dict) else {}


def is_secret(field: str) -> bool:
    return "SecretStr" in repr(FIELDS[field].annotation)


def settings_file(home: Path | None = None) -> Path:
    """$HISCRM_CONFIG_FILE, else hiscrm.toml in the run directory (`home`
    when a command line names one, else $HISCRM_HOME, else ./var)."""
    explicit = os.environ.get(PREFIX + "CONFIG_FILE", "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    run_dir = home or Path(os.environ.get(PREFIX + "HOME", "") or "./var")
    return (run_dir.expanduser() / FILE_NAME).resolve()


def read_file(path: Path) -> dict[str, Any]:
    """The settings file's keys, checked: known names, none env-only, and
    owner-only when it holds a secret. A missing file is no settings."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"cannot read the settings file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(
            f"the settings file {path} is not valid TOML ({exc}); fix it, or move it "
            "away and write a fresh one with `hiscrm init`"
        ) from None
    for key in data:
        if key not in FIELDS:
            raise SettingsError(
                f"the settings file {path} has an unknown setting {key!r}; the names are "
                "those in docs/settings.md, in lower case without HISCRM_ (e.g. heartbeat_ms)"
            )
        if extra(key).get("env_only"):
            raise SettingsError(
                f"the settings file {path} sets {key!r}, which only the environment can set "
                f"({env_name(key)}): remove it from the file"
            )
    mode = path.stat().st_mode
    holds_secret = [k for k in data if is_secret(k)]
    if holds_secret and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(
            f"the settings file {path} holds {', '.join(holds_secret)} and is readable by "
            f"other users (mode {stat.S_IMODE(mode):03o}); fix it with: chmod 600 {path}"
        )
    return data


def _explain(exc: ValidationError, file_data: dict[str, Any], path: Path) -> str:
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field not in FIELDS:
            lines.append(f"bad setting: {error['msg']}")
            continue
        var = env_name(field)
        secret = is_secret(field)  # never echo a secret, not even a bad one
        if var in os.environ or var.lower() in {k.lower() for k in os.environ}:
            where = var if secret else f"{var}={os.environ.get(var, '')!r}"
            where += " (environment)"
        elif field in file_data:
            where = field if secret else f"{field} = {file_data[field]!r}"
            where += f" in {path} ({var})"
        else:
            where = var
        lines.append(f"bad setting {where}: {error['msg']}; {_hint(field)}")
    return "\n".join(lines)


def _hint(field: str) -> str:
    info = FIELDS[field]
    default = extra(field).get("shown_default") or repr(info.default)
    example = extra(field).get("example")
    kind = {int: "a whole number", float: "a number", bool: "on or off"}.get(
        info.annotation,  # type: ignore[arg-type]  # annotations are types here
        "a value as in docs/settings.md",
    )
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    bounds = [
        f"{words[name]} {getattr(m, name)}"
        for m in info.metadata
        for name in words
        if hasattr(m, name)
    ]
    return (
        f"set it to {kind}{' (' + ', '.join(bounds) + ')' if bounds else ''}"
        f"{', e.g. ' + example if example else ''}, or unset it for the default ({default})"
    )


def load(home: Path | None = None) -> Settings:
    """The settings now, from the environment and the settings file; a bad
    value raises SettingsError naming the variable and the fix. `home` (a
    command line's --home) wins over $HISCRM_HOME."""
    path = settings_file(home)
    file_data = read_file(path)
    try:
        loaded = Settings(**file_data)
    except ValidationError as exc:
        raise SettingsError(_explain(exc, file_data, path)) from None
    return loaded.model_copy(update={"home": home}) if home is not None else loaded


@dataclass(frozen=True)
class _Cached:
    key: tuple[Any, ...]
    settings: Settings


_cache: _Cached | None = None


def _cache_key(home: Path | None) -> tuple[Any, ...]:
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(PREFIX)))
    path = settings_file(home)
    try:
        info = path.stat()
        stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = None
    return (env, str(home), str(path), stamp)


def get(home: Path | None = None) -> Settings:
    """The effective settings, parsed again only when they may have changed."""
    global _cache
    key = _cache_key(home)
    if _cache is None or _cache.key != key:
        _cache = _Cached(key, load(home))
    return _cache.settings
