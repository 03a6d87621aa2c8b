"""`hiscrm config` and `hiscrm init`: the settings as a process would see
them, and a commented settings file to start from."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from hiscrm_common import config_docs, config_model


def add_parsers(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Adds `config` and `init` through ops/cli.py's factory of subcommands."""
    command("config", "print every setting's effective value and its source (secrets masked)")
    init = command("init", "write a commented settings file ($HISCRM_HOME/hiscrm.toml)")
    init.add_argument("--force", action="store_true", help="replace an existing settings file")


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")


def _config(home: Path, from_command_line: bool) -> None:
    current = config_model.get(home)
    path = config_model.settings_file(home)
    state = "present" if path.exists() else "absent: defaults and environment only"
    _write(f"# settings file: {path} ({state})")
    rows = config_docs.effective(current)
    width = max(len(r.variable) for r in rows)
    for row in rows:
        source = row.source
        if row.variable == config_model.env_name("home") and from_command_line:
            source = "--home"  # ops/cli.py put it in the environment for the processes
        _write(f"{row.variable:<{width}}  {source:<7}  {row.value}")


def _init(home: Path, force: bool) -> None:
    path = config_model.settings_file(home)
    try:
        config_docs.write_template(path, force=force)
    except FileExistsError:
        raise SystemExit(
            f"{path} exists; keep it, or replace it with `hiscrm init --force`"
        ) from None
    _write(f"wrote {path} (mode 0600); edit it, then check with `hiscrm config`")


def handler(command: str) -> Callable[[object, argparse.Namespace], Coroutine[Any, Any, None]]:
    async def call(fleet: object, args: argparse.Namespace) -> None:
        home = Path(getattr(fleet, "home", config_model.get().home))
        if command == "config":
            await asyncio.to_thread(_config, home, bool(getattr(args, "home", None)))
        else:
            await asyncio.to_thread(_init, home, args.force)

    return call
