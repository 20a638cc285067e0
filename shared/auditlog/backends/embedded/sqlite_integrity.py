"""Embedded integrity log: one SQLite file beside the event store.

Kept apart from DuckDB on purpose: the verifier compares two stores, and someone who can rewrite
the events file does not thereby rewrite the tree. ``commit`` is one transaction guarded by the
tree's version, like Firestore's precondition on GCP.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from auditlog.backends.embedded.sqlite_file import open_durable
from auditlog.ledger.checkpoints import Checkpoint
from auditlog.ledger.leaves import LeafEntry, SpineLeaf, StagedBatch, StagedInput
from auditlog.ledger.merkle import Frontier, NodeId
from auditlog.ledger.tree import spine_columns
from auditlog.ports.integrity import TreeState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS staged (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    entries BLOB,                -- dropped once integrated; the key stays for idempotency
    first_index INTEGER,
    staged_at REAL,
    UNIQUE (tenant_id, key)
);
CREATE INDEX IF NOT EXISTS staged_pending ON staged (tenant_id, seq) WHERE first_index IS NULL;
CREATE TABLE IF NOT EXISTS trees (
    tenant_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    frontier BLOB NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes (
    tenant_id TEXT NOT NULL,
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (tenant_id, level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leaves (
    tenant_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    audit_id TEXT NOT NULL,
    expires TEXT NOT NULL,
    PRIMARY KEY (tenant_id, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS leaves_by_id ON leaves (tenant_id, audit_id);
CREATE TABLE IF NOT EXISTS checkpoints (
    tenant_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    tree_size INTEGER NOT NULL,
    document BLOB NOT NULL,
    final INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, timestamp)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS checkpoints_by_size ON checkpoints (tenant_id, tree_size, timestamp);
"""
_FINAL_INDEX = "CREATE INDEX IF NOT EXISTS checkpoints_final ON checkpoints (tenant_id, final, timestamp)"


class SqliteIntegrityStore:
    def __init__(self, path: Path) -> None:
        self._conn = open_durable(path)
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(staged)")}
        if "staged_at" not in columns:  # files made before the column existed
            self._conn.execute("ALTER TABLE staged ADD COLUMN staged_at REAL")
        if "final" not in {row[1] for row in self._conn.execute("PRAGMA table_info(checkpoints)")}:
            self._conn.execute("ALTER TABLE checkpoints ADD COLUMN final INTEGER NOT NULL DEFAULT 1")
        self._conn.execute(_FINAL_INDEX)
        self._lock = threading.Lock()  # the writing connection's
        # Reads take a connection of their own from a pool (as many as reads ever ran at once):
        # WAL lets them run beside a commit, which the writing connection holds for the length
        # of its transaction (a stream's batch read waited ~40 % of its time behind ingest's
        # commits when both shared one).
        self._path = path
        self._idle: list[sqlite3.Connection] = []
        self._opened: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._readers_lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = open_durable(self._path)
            with self._readers_lock:
                self._opened.append(conn)
        try:
            yield conn
        finally:
            with self._readers_lock:
                self._idle.append(conn)

    def stage(self, batches: list[StagedInput]) -> None:
        rows = [
            (t, k, orjson.dumps([[e.audit_id, e.leaf_hash.hex(), e.expires] for e in entries]))
            for t, k, entries in batches
        ]
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO staged (tenant_id, key, entries, staged_at) VALUES (?, ?, ?, ?)",
                    [(*r, now) for r in rows],
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def pending(self, tenant_id: str, max_batches: int) -> list[StagedBatch]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, entries, staged_at FROM staged WHERE tenant_id = ? AND first_index IS NULL "
                "ORDER BY seq LIMIT ?",
                (tenant_id, max_batches),
            ).fetchall()
        return [
            StagedBatch(
                key, tuple(LeafEntry(a, bytes.fromhex(h), x) for a, h, x in orjson.loads(blob)), staged_at
            )
            for key, blob, staged_at in rows
        ]

    def pending_tenants(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT tenant_id FROM staged WHERE first_index IS NULL"
            ).fetchall()
        return [r[0] for r in rows]

    def tenants(self) -> list[str]:
        with self._read() as conn:
            return [r[0] for r in conn.execute("SELECT tenant_id FROM trees").fetchall()]

    def state(self, tenant_id: str) -> TreeState:
        with self._read() as conn:
            row = conn.execute(
                "SELECT size, frontier, version FROM trees WHERE tenant_id = ?", (tenant_id,)
            ).fetchone()
        if row is None:
            return TreeState(Frontier.empty(), None)
        size, blob, version = row
        return TreeState(Frontier(size, tuple(bytes.fromhex(h) for h in orjson.loads(blob))), version)

    def nodes(self, tenant_id: str, ids: set[NodeId]) -> dict[NodeId, bytes]:
        out: dict[NodeId, bytes] = {}
        with self._read() as conn:
            for level, idx in ids:
                row = conn.execute(
                    "SELECT hash FROM nodes WHERE tenant_id = ? AND level = ? AND idx = ?",
                    (tenant_id, level, idx),
                ).fetchone()
                if row is not None:
                    out[(level, idx)] = row[0]
        return out

    def commit(
        self,
        tenant_id: str,
        expected: TreeState,
        frontier: Frontier,
        nodes: dict[NodeId, bytes],
        leaves: list[SpineLeaf],
        integrated: list[tuple[str, int]],
    ) -> bool:
        blob = orjson.dumps([h.hex() for h in frontier.hashes])
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if expected.version is None:
                    cur = self._conn.execute(
                        "INSERT OR IGNORE INTO trees (tenant_id, size, frontier, version) "
                        "VALUES (?, ?, ?, 1)",
                        (tenant_id, frontier.size, blob),
                    )
                else:
                    cur = self._conn.execute(
                        "UPDATE trees SET size = ?, frontier = ?, version = version + 1 "
                        "WHERE tenant_id = ? AND version = ?",
                        (frontier.size, blob, tenant_id, expected.version),
                    )
                if cur.rowcount != 1:
                    self._conn.execute("ROLLBACK")
                    return False
                self._conn.executemany(
                    "INSERT INTO nodes (tenant_id, level, idx, hash) VALUES (?, ?, ?, ?)",
                    [(tenant_id, lv, i, h) for (lv, i), h in nodes.items()],
                )
                self._conn.executemany(
                    "INSERT INTO leaves (tenant_id, idx, audit_id, expires) VALUES (?, ?, ?, ?)",
                    [(tenant_id, x.index, x.audit_id, x.expires) for x in leaves],
                )
                self._conn.executemany(
                    "UPDATE staged SET first_index = ?, entries = NULL WHERE tenant_id = ? AND key = ?",
                    [(first, tenant_id, key) for key, first in integrated],
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return True

    def locate(self, tenant_id: str, audit_id: str) -> int | None:
        return self.locate_many(tenant_id, [audit_id]).get(audit_id)

    def locate_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with self._read() as conn:
            for i in range(0, len(audit_ids), 500):
                part = audit_ids[i : i + 500]
                rows = conn.execute(
                    f"SELECT audit_id, idx FROM leaves WHERE tenant_id = ? AND audit_id IN "
                    f"({', '.join('?' for _ in part)})",
                    (tenant_id, *part),
                ).fetchall()
                found.update({a: int(i) for a, i in rows})
        return found

    def leaves(self, tenant_id: str, start: int, end: int) -> list[SpineLeaf]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT l.idx, l.audit_id, n.hash, l.expires FROM leaves l "
                "LEFT JOIN nodes n ON n.tenant_id = l.tenant_id AND n.level = 0 AND n.idx = l.idx "
                "WHERE l.tenant_id = ? AND l.idx >= ? AND l.idx < ? ORDER BY l.idx",
                (tenant_id, start, end),
            ).fetchall()
        return [SpineLeaf(i, a, h if h is not None else b"", x) for i, a, h, x in rows]

    def spine(self, tenant_id: str, start: int, end: int) -> tuple[list[str], list[bytes]]:
        # Two range reads cost two thirds of the join ``leaves`` makes; they pair up when both
        # hold every index of the range (each is unique per index).
        with self._read() as conn:
            ids = [
                a
                for (a,) in conn.execute(
                    "SELECT audit_id FROM leaves WHERE tenant_id = ? AND idx >= ? AND idx < ? ORDER BY idx",
                    (tenant_id, start, end),
                )
            ]
            hashes = [
                h
                for (h,) in conn.execute(
                    "SELECT hash FROM nodes WHERE tenant_id = ? AND level = 0 AND idx >= ? AND idx < ? "
                    "ORDER BY idx",
                    (tenant_id, start, end),
                )
            ]
        if len(ids) == len(hashes) == end - start:
            return ids, hashes
        return spine_columns(self.leaves(tenant_id, start, end))

    def put_checkpoint(self, checkpoint: Checkpoint) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO checkpoints (tenant_id, timestamp, tree_size, document, final) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    checkpoint.tenant_id,
                    checkpoint.timestamp,
                    checkpoint.tree_size,
                    orjson.dumps(checkpoint.as_dict()),
                    int(checkpoint.final),
                ),
            )

    def latest_checkpoint(self, tenant_id: str, *, final: bool = False) -> Checkpoint | None:
        only_final = " AND final = 1" if final else ""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT document FROM checkpoints WHERE tenant_id = ?{only_final} "
                "ORDER BY timestamp DESC LIMIT 1",
                (tenant_id,),
            ).fetchone()
        return None if row is None else Checkpoint.from_dict(orjson.loads(row[0]))

    def checkpoint_at(self, tenant_id: str, tree_size: int) -> Checkpoint | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT document FROM checkpoints WHERE tenant_id = ? AND tree_size = ? "
                "ORDER BY timestamp DESC LIMIT 1",
                (tenant_id, tree_size),
            ).fetchone()
        return None if row is None else Checkpoint.from_dict(orjson.loads(row[0]))

    def close(self) -> None:
        with self._readers_lock:
            for reader in self._opened:
                reader.close()
            self._opened.clear()
            self._idle.clear()
        with self._lock:
            self._conn.close()
