"""INSERT .. ON CONFLICT DO NOTHING .. RETURNING for many rows at once: the
rows that were new, in the caller's transaction.

Ingest stores every item through this (and conversations they create), so it
is the hot path of the master. On SQLite it runs on the session's own DBAPI
connection, as multi-row VALUES statements with the values in column order:
SQLAlchemy's per-row parameter handling was about 40 % of ingest's time
(docs/performance.md). The values still go through each column type's own
bind processor, so what lands is what SQLAlchemy would have written. Other
databases take SQLAlchemy's insertmanyvalues path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlmodel import Session

# Rows per SQLite statement: a power of two, so a batch of any size takes at
# most a few cached statement shapes (1024, 512, .., 1); 256 to 4096 rows
# measured the same within the noise.
SQLITE_ROWS = 1024
# SQLite's default bound-parameter limit before 3.32 was 999; ask the library.
SQLITE_PARAMS_FALLBACK = 999
# Rows per statement elsewhere (PostgreSQL's limit is 65535 parameters).
OTHER_ROWS = 2000


class InsertNew:
    """For one table, one conflict target and one RETURNING list. Every row
    of one call names the same columns (the first row's); a column it does
    not name gets its column default, as with SQLAlchemy."""

    def __init__(self, table: Table, conflict: Sequence[str], returning: Sequence[str]) -> None:
        self.table = table
        self.conflict = list(conflict)
        self.returning = list(returning)
        # column names -> the SQLite plan for rows naming them
        self._plans: dict[tuple[str, ...], _SqlitePlan] = {}

    def run(self, session: Session, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """Inserts the rows; the RETURNING tuple of each new one."""
        if not rows:
            return []
        dialect = session.get_bind().dialect
        if dialect.name == "sqlite":
            return self._sqlite(session, dialect, rows)
        insert = pg_insert if dialect.name == "postgresql" else sqlite_insert
        stmt = (
            insert(self.table)
            .on_conflict_do_nothing(index_elements=self.conflict)
            .returning(*(self.table.c[name] for name in self.returning))
        )
        new: list[tuple[Any, ...]] = []
        for i in range(0, len(rows), OTHER_ROWS):
            new.extend(tuple(found) for found in session.execute(stmt, rows[i : i + OTHER_ROWS]))
        return new

    def _sqlite(
        self, session: Session, dialect: Dialect, rows: list[dict[str, Any]]
    ) -> list[tuple[Any, ...]]:
        names = tuple(rows[0])
        plan = self._plans.get(names)
        if plan is None:
            plan = self._plans[names] = _SqlitePlan(self, dialect, names)
        # The session's connection: same transaction as everything else the
        # caller did, committed or rolled back with the session.
        dbapi = session.connection().connection.driver_connection
        assert isinstance(dbapi, sqlite3.Connection)
        limit = _param_limit(dbapi)
        values = plan.values(rows)
        new: list[tuple[Any, ...]] = []
        cursor = dbapi.cursor()
        try:
            start = 0
            size = SQLITE_ROWS
            while size * len(plan.columns) > limit and size > 1:
                size //= 2
            while start < len(values):
                while start + size > len(values):
                    size //= 2
                chunk = values[start : start + size]
                cursor.execute(plan.sql(size), list(chain.from_iterable(chunk)))
                new.extend(cursor.fetchall())
                start += size
        finally:
            cursor.close()
        return new


def _param_limit(conn: sqlite3.Connection) -> int:
    try:
        return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except (AttributeError, sqlite3.Error):
        return SQLITE_PARAMS_FALLBACK


class _SqlitePlan:
    """The statements and value conversion for rows naming these columns."""

    def __init__(self, owner: InsertNew, dialect: Dialect, names: tuple[str, ...]) -> None:
        table = owner.table
        quote = dialect.identifier_preparer.quote
        given = [table.c[name] for name in names]  # an unknown name is a KeyError
        # columns the rows leave out that have a default (the primary key
        # and server defaults are the database's)
        defaulted = [c for c in table.columns if c.name not in names and c.default is not None]
        self.columns: list[Column[Any]] = given + defaulted
        self._get = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
        self._defaults = [_default_of(c) for c in defaulted]
        self._convert = [
            (i, proc)
            for i, c in enumerate(self.columns)
            if (proc := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]
        self._one_row = "(" + ",".join("?" * len(self.columns)) + ")"
        self._head = (
            f"INSERT INTO {quote(table.name)} ({','.join(quote(c.name) for c in self.columns)})"
            " VALUES "
        )
        self._tail = (
            f" ON CONFLICT ({','.join(quote(n) for n in owner.conflict)}) DO NOTHING"
            f" RETURNING {','.join(quote(n) for n in owner.returning)}"
        )
        self._sql: dict[int, str] = {}

    def sql(self, rows: int) -> str:
        found = self._sql.get(rows)
        if found is None:
            found = self._sql[rows] = self._head + ",".join([self._one_row] * rows) + self._tail
        return found

    def values(self, rows: list[dict[str, Any]]) -> list[list[Any]]:
        get = self._get
        out = [list(get(row)) for row in rows]
        for default in self._defaults:
            for values in out:
                values.append(default())
        for i, proc in self._convert:
            # a commit's rows share values (its receipt time, flags): one
            # conversion per run of the same object
            last_in: object = object()
            last_out: Any = None
            for values in out:
                value = values[i]
                if value is not last_in:
                    last_in, last_out = value, proc(value)
                values[i] = last_out
        return out


def _default_of(column: Column[Any]) -> Callable[[], Any]:
    default = column.default
    assert default is not None
    if default.is_scalar:
        # .arg is on the ScalarElementColumnDefault the flag promises; the
        # stubs only know the base class
        value = default.arg  # type: ignore[attr-defined]
        return lambda: value
    if default.is_callable:
        # SQLAlchemy wraps a column's default function to take a context
        # (.arg: as above, the stubs only know the base class)
        fn = default.arg  # type: ignore[attr-defined]
        return lambda: fn(None)
    raise ValueError(f"{column.table.name}.{column.name}: a SQL default is not supported here")
