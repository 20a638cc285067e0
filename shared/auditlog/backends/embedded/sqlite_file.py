"""Opening the embedded SQLite files the same durable way (journal, state, integrity log)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_durable(path: Path, *pragmas: str) -> sqlite3.Connection:
    """Autocommit connection usable from any thread (callers hold their own lock), WAL with
    ``synchronous=FULL`` so a commit is fsynced when it returns, and a 30 s busy timeout for
    other processes on the same file; ``pragmas`` add to those."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000", *pragmas):
        conn.execute(f"PRAGMA {pragma}")
    return conn
