"""The worker count an operator chose, kept in $HISCRM_HOME/fleet.json.

Written by `hiscrm up`/`hiscrm scale` and Control.ScaleWorkers; read by
`hiscrm up` and by the master at start, so supervisord starting from boot (or
`supervisorctl reload`) brings back the same fleet as `hiscrm up`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE_NAME = "fleet.json"


def path(home: Path) -> Path:
    return home / FILE_NAME


def wanted_workers(home: Path) -> int | None:
    """The saved count, or None when none was saved (or the file is unreadable)."""
    try:
        count = int(json.loads(path(home).read_text())["workers"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return count if count >= 0 else None


def remember_workers(home: Path, count: int) -> None:
    """Replace the saved count atomically (a crash never leaves half a file)."""
    target = path(home)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"workers": count}))
    os.replace(tmp, target)
