"""Per-account cursors, so a restarted worker does not fetch everything again.

A cursor is saved only after the items it covers are in the outbox: a crash
in between re-fetches a few items, which the master's dedupe absorbs.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class CursorStore:
    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cursors (account_id TEXT PRIMARY KEY, cursor TEXT NOT NULL)"
        )

    def get(self, account_id: str) -> str:
        with self._lock:
            row = self._db.execute(
                "SELECT cursor FROM cursors WHERE account_id = ?", (account_id,)
            ).fetchone()
        return row[0] if row else ""

    def put(self, account_id: str, cursor: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO cursors (account_id, cursor) VALUES (?, ?) "
                "ON CONFLICT(account_id) DO UPDATE SET cursor = excluded.cursor",
                (account_id, cursor),
            )

    def forget(self, account_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM cursors WHERE account_id = ?", (account_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
