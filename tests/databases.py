"""Fresh databases for store tests: SQLite always, PostgreSQL when
HISCRM_TEST_DATABASE_URL points at a server (scripts/test.sh starts one)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("HISCRM_TEST_DATABASE_URL", "")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not PG_URL, reason="HISCRM_TEST_DATABASE_URL is not set"),
    ),
]


def _admin_url() -> str:
    url = make_url(PG_URL)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    name = f"hiscrm_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
