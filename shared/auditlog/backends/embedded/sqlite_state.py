"""Embedded state store: small JSON documents in one SQLite table.

State (tenant policies, later integrity checkpoints and keys) is small, rarely written and must
survive a crash, so one connection behind a mutex is enough: WAL with ``synchronous=FULL`` makes
every write durable when it returns. ``create`` is ``INSERT OR IGNORE``, so it stays a correct
idempotency primitive even when several processes share the file.

Names follow Firestore's rules for document and collection ids (no ``/``, not ``.``/``..``, not
``__x__``, at most 1,500 bytes), so what works here also works on GCP.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson

from auditlog.backends.embedded.sqlite_file import open_durable
from auditlog.ports.state import Document, check_name

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    document TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (collection, key)
) WITHOUT ROWID;
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class SqliteStateStore:
    def __init__(self, path: Path) -> None:
        self._conn = open_durable(path, "secure_delete=ON")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def get(self, collection: str, key: str) -> Document | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT document FROM state WHERE collection = ? AND key = ?",
                (check_name(collection), check_name(key)),
            ).fetchone()
        return None if row is None else _load(row[0])

    def put(self, collection: str, key: str, document: Document) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO state (collection, key, document, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (collection, key) DO UPDATE "
                "SET document = excluded.document, updated_at = excluded.updated_at",
                (check_name(collection), check_name(key), _dump(document), _now()),
            )

    def create(self, collection: str, key: str, document: Document) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO state (collection, key, document, updated_at) VALUES (?, ?, ?, ?)",
                (check_name(collection), check_name(key), _dump(document), _now()),
            )
        return cursor.rowcount == 1

    def delete(self, collection: str, key: str) -> None:
        with self._lock:
            self._conn.execute(
                "DELETE FROM state WHERE collection = ? AND key = ?",
                (check_name(collection), check_name(key)),
            )
            # Erasure deletes keys: with secure_delete the freed page is zeroed, and the
            # checkpoint moves it out of the WAL, so no copy of the key stays in either file.
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def list(self, collection: str) -> list[tuple[str, Document]]:
        """Every document of ``collection``, by key (byte order, as Firestore lists them)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, document FROM state WHERE collection = ? ORDER BY key",
                (check_name(collection),),
            ).fetchall()
        return [(key, _load(document)) for key, document in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _dump(document: Document) -> str:
    if not isinstance(document, dict):
        raise TypeError(f"a state document is a JSON object, not {type(document).__name__}")
    return orjson.dumps(document).decode()


def _load(text: str) -> Document:
    document: Document = orjson.loads(text)
    return document
