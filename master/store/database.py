"""Engine, migrations at start-up, and running blocking DB work off the loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import CursorResult, Engine, event
from sqlmodel import Session, SQLModel, create_engine

from hiscrm_common import settings

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def database_url() -> str:
    secret = settings.get().database_url  # HISCRM_DATABASE_URL
    url = secret.get_secret_value().strip() if secret is not None else ""
    if url:
        return url
    return f"sqlite:///{settings.home() / 'hiscrm.db'}"


def backend_name(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # how long a write waits for another process's lock before it fails
        # (and is retried by its caller, which shows the outage meanwhile)
        busy_ms = settings.get().sqlite_busy_ms
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: an Ack goes out after the commit, and the worker then
            # deletes the items from its outbox for good, so a commit must
            # survive an OS crash or power loss too. NORMAL in WAL mode may
            # lose the last commits then, and nobody would resend them.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgresql+psycopg"):
        _require_psycopg()
    # hide_parameters: a failed statement's error never carries row values
    # (sessions, proxy secrets) into a message or a log line, whichever
    # path logs it
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True, hide_parameters=True)


def _require_psycopg() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise SystemExit(
            "HISCRM_DATABASE_URL names PostgreSQL but its driver is not installed: "
            "pip install 'hiscrm[postgres]' (or unset HISCRM_DATABASE_URL for SQLite)"
        ) from exc


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Database:
    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        self.backend = backend_name(self.url)
        self.engine = make_engine(self.url)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")

    def migrate(self) -> None:
        migrate(self.engine)
        log.info("database ready (%s)", self.backend)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run fn(session) on the database thread; commit is fn's own business.

        One thread for all of it: writes then commit in the order they were
        made (with a thread each, SQLite let an older write of a row land
        after a newer one), and nobody sleeps in SQLite's busy handler.
        """

        def call() -> T:
            with self.session() as session:
                return fn(session)

        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def dispose(self) -> None:
        self._thread.shutdown(wait=True)
        self.engine.dispose()


def upsert(session: Session, model: type[SQLModel], values: dict[str, Any]) -> None:
    """Insert or update one row by primary key, without a read first."""
    # SQLModel sets __table__ on table models at class creation; its stubs omit it.
    table = model.__table__  # type: ignore[attr-defined]
    keys = [c.name for c in table.primary_key.columns]
    where = [table.c[k] == values[k] for k in keys]
    changes = {k: v for k, v in values.items() if k not in keys}
    # An UPDATE gives a CursorResult (sqlmodel's Session types it as Result).
    stmt = table.update().where(*where).values(**changes)
    result = cast(CursorResult[Any], session.execute(stmt))
    if result.rowcount == 0:
        session.execute(table.insert().values(**values))
