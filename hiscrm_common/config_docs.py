"""What the settings model says about itself, in three forms: the reference
(docs/settings.md, by scripts/gen_settings_doc.py), the commented settings
file (`hiscrm init`) and the effective values (`hiscrm config`)."""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hiscrm_common import config_model as model

MASK = "***"


def _default_text(field: str) -> str:
    shown = model.extra(field).get("shown_default")
    if shown:
        return str(shown)
    default = model.FIELDS[field].default
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return "on" if default else "off"
    if default == "":
        return "empty"
    return str(default)


def _type_text(field: str) -> str:
    annotation = repr(model.FIELDS[field].annotation)
    for name, text in (
        ("SecretStr", "secret"),
        ("Literal", "one of " + ", ".join(re.findall(r"'(\w+)'", annotation))),
        ("bool", "on/off"),
        ("int", "integer"),
        ("float", "number"),
        ("Path", "path"),
    ):
        if name in annotation:
            return text
    return "text"


def _bounds(field: str) -> str:
    words = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    return " ".join(
        f"{words[name]} {getattr(m, name)}"
        for m in model.FIELDS[field].metadata
        for name in words
        if hasattr(m, name)
    )


def markdown() -> str:
    """docs/settings.md."""
    out = [
        "# Settings",
        "",
        "<!-- generated from hiscrm_common/config_model.py by scripts/gen_settings_doc.py; "
        "do not edit by hand -->",
        "",
        "Every hiscrm process reads the same settings: the environment variable "
        "`HISCRM_<NAME>`, else the key `<name>` (lower case, without `HISCRM_`) in the "
        "settings file, else the default. The settings file is `$HISCRM_CONFIG_FILE`, "
        "else `$HISCRM_HOME/hiscrm.toml` (TOML); `hiscrm init` writes a commented one "
        "(mode 0600), and `hiscrm config` prints the effective values, where each came "
        "from, with secrets masked. An empty variable (`HISCRM_<NAME>=`) means the default, "
        "except `HISCRM_METRICS_LISTEN=`, which disables metrics. A bad value stops the "
        "process with a message naming the setting; a settings file that holds a secret "
        "must be owner-only.",
        "",
    ]
    for group, title in model.GROUP_TITLES.items():
        out += [f"## {title}", "", "| variable | file key | type | default | meaning |"]
        out.append("| --- | --- | --- | --- | --- |")
        for field in model.FIELDS:
            if model.extra(field)["group"] != group:
                continue
            key = "(environment only)" if model.extra(field)["env_only"] else f"`{field}`"
            kind = _type_text(field)
            bounds = _bounds(field)
            if bounds:
                kind += f", {bounds}"
            doc = model.FIELDS[field].description or ""
            example = model.extra(field).get("example")
            if example:
                doc += f" Example: `{example}`."
            cells = [f"`{model.env_name(field)}`", key, kind, _default_text(field), doc]
            # <id>, <worker data>: text, not HTML
            out.append("| " + " | ".join(c.replace("<", "&lt;") for c in cells) + " |")
        out.append("")
    return "\n".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def template() -> str:
    """The commented settings file `hiscrm init` writes: every setting the
    file may hold, commented out at its default (or an example)."""
    out = [
        "# hiscrm settings (TOML). The environment (HISCRM_<NAME>) wins over this file;",
        "# this file wins over the defaults. Uncomment a line to change a setting.",
        "# Reference: docs/settings.md. Effective values: `hiscrm config`.",
        "# Keep this file owner-only (0600): it may hold tokens and keys.",
        "",
    ]
    for group, title in model.GROUP_TITLES.items():
        fields = [
            f
            for f in model.FIELDS
            if model.extra(f)["group"] == group and not model.extra(f)["env_only"]
        ]
        if not fields:
            continue
        out += [f"# ---- {title} ----", ""]
        for field in fields:
            info = model.FIELDS[field]
            out += textwrap.wrap(
                f"{info.description} ({model.env_name(field)})",
                width=88,
                initial_indent="# ",
                subsequent_indent="# ",
            )
            out.append(f"# default: {_default_text(field)}")
            example = model.extra(field).get("example")
            default = info.default
            value: object
            if isinstance(default, bool):
                value = default
            elif example or default is None or model.is_secret(field):
                value = example or ""
            elif isinstance(default, Path):
                value = str(default)
            else:
                value = default
            out.append(f"# {field} = {_toml_value(value)}")
            out.append("")
    return "\n".join(out)


def write_template(path: Path, *, force: bool) -> None:
    """Owner-only from the first byte; an existing file only with force,
    and then replaced whole (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() and not force:
        raise FileExistsError(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(template())
    os.replace(tmp, path)


@dataclass(frozen=True)
class Effective:
    variable: str
    value: str
    source: str  # default, file or env


def _mask_url(url: str) -> str:
    return re.sub(r"(://[^/:@]*):[^/@]*@", rf"\1:{MASK}@", url)


def _derived(current: model.Settings, field: str) -> Any:
    home = current.home.expanduser().resolve()
    return {
        "home": home,
        "config_file": model.settings_file(home),
        "offline_after_ms": current.offline_after,
        "max_batch_bytes": current.batch_bytes,
        "token_file": home / "token",
        "enroll_token_file": home / "enroll-token",
        "master_key_file": home / "master.key",
        "supervisor_socket": home / "supervisor.sock",
        "demosite_admin_token_file": home / "demosite-admin-token",
        "database_url": f"sqlite:///{home / 'hiscrm.db'}",
    }.get(field)


def effective(current: model.Settings) -> list[Effective]:
    """Every setting's value now and where it came from; secrets masked."""
    file_data = model.read_file(model.settings_file(current.home.expanduser().resolve()))
    rows = []
    for field in model.FIELDS:
        var = model.env_name(field)
        raw_env = os.environ.get(var)
        if raw_env is not None and (raw_env != "" or field in model.EMPTY_IS_A_VALUE):
            source = "env"
        elif field in file_data:
            source = "file"
        else:
            source = "default"
        value = getattr(current, field)
        if value is None:
            value = _derived(current, field)
        if isinstance(value, SecretStr):
            text = MASK if field != "database_url" else _mask_url(value.get_secret_value())
        elif value is None:
            default = _default_text(field)
            text = "(unset)" if default == "unset" else f"(unset: {default})"
        elif value == "":
            text = "(empty)"
        elif isinstance(value, bool):
            text = "on" if value else "off"
        else:
            text = str(value)
        rows.append(Effective(var, text, source))
    return rows
