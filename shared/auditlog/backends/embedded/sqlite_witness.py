"""A witness's state in one SQLite file (WAL, fsynced commits): a witness killed at any moment
restarts knowing the newest checkpoint it cosigned, since nothing is answered before the commit
that records it returns."""

from __future__ import annotations

import threading
from pathlib import Path

from auditlog.backends.embedded.sqlite_file import open_durable
from auditlog.ports.witness import Cosigned, origin_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cosigned (
    origin TEXT PRIMARY KEY,
    origin_hash TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL
) WITHOUT ROWID;
"""


class SqliteWitnessState:
    def __init__(self, path: Path) -> None:
        self._conn = open_durable(path)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def latest(self, origin: str) -> Cosigned | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT size, root_hash, note FROM cosigned WHERE origin = ?", (origin,)
            ).fetchone()
        return None if row is None else Cosigned(int(row[0]), bytes(row[1]), str(row[2]))

    def latest_by_hash(self, origin_hash: str) -> Cosigned | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT size, root_hash, note FROM cosigned WHERE origin_hash = ?", (origin_hash,)
            ).fetchone()
        return None if row is None else Cosigned(int(row[0]), bytes(row[1]), str(row[2]))

    def advance(self, origin: str, expected_size: int, new: Cosigned) -> int | None:
        with self._lock:
            # One write transaction: another process on the same file waits for it (busy_timeout).
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT size FROM cosigned WHERE origin = ?", (origin,)).fetchone()
                held = 0 if row is None else int(row[0])
                if held != expected_size:
                    self._conn.execute("ROLLBACK")
                    return held
                self._conn.execute(
                    "INSERT OR REPLACE INTO cosigned (origin, origin_hash, size, root_hash, note) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (origin, origin_hash(origin), new.size, new.root_hash, new.note),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
