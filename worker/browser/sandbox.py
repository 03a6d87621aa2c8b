"""Chromium with its sandbox, as a user that cannot read the worker's secrets.

Chromium renders third-party pages; its sandbox is the wall between them
and the machine. It refuses to run sandboxed as root, so a root worker runs
it as an unprivileged user (HISCRM_BROWSER_USER, default `nobody`) through
a small launcher: `setpriv` switches user and execs Chromium (Playwright's
pipe stays on fds 3 and 4). That user cannot read $HISCRM_HOME (0700, files
0600: the token, the keys, the sessions, the outbox), and Chromium gets an
environment without HISCRM_* variables. A worker that is not root runs
Chromium with its sandbox directly.

Where the sandbox cannot work (no user namespaces and no setuid helper, no
setpriv, no such user), Chromium runs with --no-sandbox and the worker says
so, with the reason, at every launch.
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hiscrm_common import settings

log = logging.getLogger(__name__)

NO_SANDBOX = "--no-sandbox"


@dataclass(frozen=True)
class SandboxPlan:
    executable: str | None  # what Playwright runs (the launcher, when there is one)
    sandboxed: bool
    user: str
    why_not: str = ""
    home: str = ""

    def args(self) -> list[str]:
        return [] if self.sandboxed else [NO_SANDBOX]

    def env(self) -> dict[str, str]:
        """The browser's environment: none of the worker's secrets."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HISCRM_")}
        if self.home:
            env["HOME"] = self.home
            env["XDG_CONFIG_HOME"] = env["XDG_CACHE_HOME"] = self.home
        return env


@functools.cache
def _can_run(uid: int, gid: int, executable: str) -> str:
    """'' when that user can run `executable` and make a user namespace (what
    Chromium's sandbox needs), else why not."""
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    if not unshare:
        return "unshare is missing, so user namespaces cannot be checked"
    check = f'test -r "$1" -a -x "$1" || exit 3; exec {unshare} --user true'
    cmd = ["sh", "-c", check, "sh", executable]
    if uid != os.getuid():
        if not setpriv:
            return "setpriv is missing"
        cmd = [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd]
    try:
        code = subprocess.run(cmd, capture_output=True, timeout=10).returncode
    except (OSError, subprocess.SubprocessError) as exc:
        return f"checking the sandbox failed: {exc}"
    if code == 3:
        return f"uid {uid} cannot read or run {executable}"
    if code != 0:
        return (
            f"uid {uid} may not make user namespaces here (kernel.unprivileged_userns_clone=0 "
            "or a container's seccomp profile), so Chromium's sandbox cannot start"
        )
    return ""


def plan(executable: str | None, data_dir: Path) -> SandboxPlan:
    """How to launch `executable` (None: Playwright's own build)."""
    if not settings.get().browser_sandbox:
        return SandboxPlan(executable, False, "", "HISCRM_BROWSER_SANDBOX=off")
    if os.getuid() != 0:
        me = pwd.getpwuid(os.getuid()).pw_name
        if executable is None:
            return SandboxPlan(None, True, me)  # Playwright's build, run as we are
        why = _can_run(os.getuid(), os.getgid(), executable)
        return SandboxPlan(executable, not why, me, why)
    name = settings.get().browser_user
    if executable is None:
        return SandboxPlan(
            None,
            False,
            "root",
            "the worker is root and runs Playwright's own Chromium build; "
            "set HISCRM_CHROMIUM to an installed Chromium to run it as another user",
        )
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        return SandboxPlan(
            executable,
            False,
            "root",
            f"the worker is root and there is no user {name!r} "
            "(HISCRM_BROWSER_USER) to run Chromium as",
        )
    why = _can_run(user.pw_uid, user.pw_gid, executable)
    if why:
        return SandboxPlan(executable, False, "root", f"the worker is root and {why}")
    launcher, home = _write_launcher(executable, data_dir, user.pw_uid, user.pw_gid)
    return SandboxPlan(str(launcher), True, name, home=home)


def _write_launcher(executable: str, data_dir: Path, uid: int, gid: int) -> tuple[Path, str]:
    """A launcher that gives Playwright's profile directory to the browser's
    user and execs Chromium as that user; plus a home directory for it."""
    home = tempfile.mkdtemp(prefix="hiscrm-browser-home-")
    os.chown(home, uid, gid)
    setpriv = shutil.which("setpriv")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    launcher = data_dir / "chromium-sandboxed"
    script = f"""#!/bin/sh
# Made by worker/browser/sandbox.py: Chromium as uid {uid}, with its sandbox.
for arg in "$@"; do
  case "$arg" in
    --user-data-dir=*) chown -R {uid}:{gid} "${{arg#--user-data-dir=}}" ;;
  esac
done
exec {setpriv} --reuid={uid} --regid={gid} --clear-groups -- {executable} "$@"
"""
    tmp = launcher.with_suffix(".tmp")
    tmp.write_text(script)
    tmp.chmod(0o700)
    os.replace(tmp, launcher)
    return launcher, home


def announce(p: SandboxPlan, worker_id: str) -> None:
    if p.sandboxed:
        log.info(
            "worker %s: Chromium runs with its sandbox as user %s%s",
            worker_id,
            p.user,
            " (it cannot read the worker's files)" if p.home else "",
        )
    else:
        log.warning(
            "worker %s: Chromium runs WITHOUT its sandbox (--no-sandbox): %s", worker_id, p.why_not
        )
