"""Autogenerate an Alembic migration from the SQLModel tables.

Usage: python scripts/new_migration.py "what changed" [REVISION_ID]
It migrates a scratch SQLite database to the current head first, so the new
revision holds exactly the difference.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from master.store.database import alembic_config, make_engine, migrate


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        engine = make_engine(url)
        migrate(engine)
        cfg = alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(
                cfg,
                message=sys.argv[1],
                autogenerate=True,
                rev_id=sys.argv[2] if len(sys.argv) > 2 else None,
            )


if __name__ == "__main__":
    main()
