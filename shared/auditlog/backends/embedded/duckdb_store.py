"""Embedded event store: one DuckDB file, laid out like the BigQuery table.

Appends arrive in batches from the writer as Arrow tables, each sorted by tenant and time, so that
DuckDB's per-row-group min/max statistics prune by ``tenant_id`` and ``timestamp``. The batch's
queue position is stored in the same transaction as its rows, so a batch delivered twice (after a
crash between append and acknowledgement) is written once. An ART index on ``audit_id`` serves
point lookups.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from auditlog.model.event import COLUMNS, JSON_COLUMNS
from auditlog.ports.store import (
    FILTER_COLUMNS,
    SELF_AUDIT_PREFIX,
    Committed,
    EventQuery,
    HoldScope,
    LeafDigests,
    Row,
    WriteBatch,
    day_slices,
    json_path,
)
from auditlog.read.rendering import FORMULA_STARTS

log = logging.getLogger(__name__)

_TYPES: dict[str, str] = {
    "audit_id": "UUID NOT NULL",
    "timestamp": "TIMESTAMP NOT NULL",
    "event_type": "VARCHAR NOT NULL",
    "user_id": "VARCHAR NOT NULL",
    "session_id": "VARCHAR",
    "ip_address": "VARCHAR",
    "user_agent": "VARCHAR",
    "resource_type": "VARCHAR NOT NULL",
    "resource_id": "VARCHAR",
    "action": "VARCHAR NOT NULL",
    "status": "VARCHAR NOT NULL",
    "request_data": "JSON",
    "response_data": "JSON",
    "metadata": "JSON",
    "tenant_id": "VARCHAR NOT NULL",
    "service_name": "VARCHAR",
    "correlation_id": "VARCHAR",
    "retention_period_days": "INTEGER NOT NULL",
    "created_at": "TIMESTAMP NOT NULL",
    "partition_date": "DATE NOT NULL",
}
# Short, nearly unique strings stored uncompressed: with DuckDB's default (DICT_FSST) every page
# that returns rows paid ~5 ms per 100 rows for each of these two columns alone (the 90-day
# event_type + status page of a 200k store: 15.5 -> 5.0 ms; the 24 h page 6.0 -> 3.1 ms), for 4-7 %
# more disk. Session and correlation ids, as unique but longer, showed no such cost. Applies to
# tables created from now on (bench/README.md, "Queries against PostgreSQL").
_COMPRESSION: dict[str, str] = {"ip_address": "uncompressed", "resource_id": "uncompressed"}
# Incoming records are JSON-native (times and dates as text); DuckDB casts them on insert.
_INSERT_CASTS = ", ".join(f'CAST("{c}" AS {_TYPES[c].removesuffix(" NOT NULL")})' for c in COLUMNS)
_TENANT = COLUMNS.index("tenant_id")
EXPORT_SLICE_ROWS = 100_000  # rows sorted at once by an export (see ``export``)
_SELECTED = [f'"{c}"' if c != "audit_id" else 'CAST("audit_id" AS VARCHAR)' for c in COLUMNS]
_SELECT = ", ".join(_SELECTED)
_ORDER = "ORDER BY timestamp DESC, audit_id DESC"


def _text(column: str) -> str:
    """SQL for a scalar column as the readers' rendering writes it (``rendering``)."""
    if column in ("timestamp", "created_at"):
        return f"strftime(\"{column}\", '%Y-%m-%dT%H:%M:%S.%fZ')"
    if column == "partition_date":
        return "strftime(partition_date, '%Y-%m-%d')"
    return f'CAST("{column}" AS VARCHAR)'


def _committed_text(column: str) -> str:
    """SQL for one column as the committed record writes it (``integrity.leaf_bytes``)."""
    if column == "retention_period_days":
        return "CAST(retention_period_days AS VARCHAR)"
    return f"coalesce(to_json({_text(column)}), 'null')"


def _ndjson_line() -> str:
    """SQL for a row's NDJSON line, as ``rendering.lines``: JSON columns embedded as stored,
    the rest as JSON strings (retention as a number). One ``concat`` call: 2x faster than ``||``
    chains or ``json_object`` (which also re-serialises stored JSON: ``1e+21`` becomes ``1e21``)."""
    args = []
    for i, column in enumerate(COLUMNS):
        args.append(f"""'{"{" if i == 0 else ","}"{column}":'""")
        if column in JSON_COLUMNS:
            args.append(f"coalesce(CAST(\"{column}\" AS VARCHAR), 'null')")
        elif column == "retention_period_days":
            args.append("CAST(retention_period_days AS VARCHAR)")
        else:
            args.append(f"coalesce(CAST(to_json({_text(column)}) AS VARCHAR), 'null')")
    return f"concat({', '.join(args)}, '}}', chr(10))"


def _csv_line() -> str:
    """SQL for a row's CSV record, as ``rendering.lines`` writes it: a cell a spreadsheet would
    run as a formula prefixed with ``'``, then a field holding a quote, a comma or a line break
    quoted as Python's ``csv`` module does (four ``contains`` cost less than one regular
    expression)."""

    def field(column: str) -> str:
        if column in _PLAIN:
            return _text(column)
        text = _text(column)
        starts = ", ".join(f"'{c}'" if c.isprintable() else f"chr({ord(c)})" for c in FORMULA_STARTS)
        value = f"(CASE WHEN left({text}, 1) IN ({starts}) THEN concat(chr(39), {text}) ELSE {text} END)"
        quoted = f"""'"' || replace({value}, '"', '""') || '"'"""
        special = " OR ".join(f"contains({value}, {c})" for c in ("'\"'", "','", "chr(10)", "chr(13)"))
        return f"coalesce(CASE WHEN {special} THEN {quoted} ELSE {value} END, '')"

    fields = ", ',', ".join(field(c) for c in COLUMNS)
    return f"concat({fields}, chr(13), chr(10))"


# Columns whose text never holds a character CSV quotes, and is never null.
_PLAIN = frozenset({"audit_id", "timestamp", "created_at", "partition_date", "retention_period_days"})
_LINES = {"json": _ndjson_line(), "csv": _csv_line()}
# DuckDB escapes control characters as \u001F where the renderer writes \u001f: lines holding
# an escape of that form are left to the caller, so every line is the renderer's, byte for byte.
_LEFT_TO_CALLER = {"json": "contains(line, ?) OR contains(line, '\\u00')", "csv": "contains(line, ?)"}
_RAW_ROW = ", ".join(f"CASE WHEN raw THEN {c} END" for c in _SELECTED)


# The bytes each row's leaf hash is taken of, written by DuckDB: 0x00 and the JCS of the
# committed record (members in sorted order). DuckDB writes control characters as \u001F where
# JCS has \u001f, so rows with such characters do not match here; the verifier re-checks every
# mismatch in Python, which decides. A match cannot be wrong: the serialisation is injective.
_LEAF_BYTES = (
    "(chr(0) || concat("
    + ", ".join(
        f"'{'{' if i == 0 else ','}\"{c}\":', {_committed_text(c)}" for i, c in enumerate(sorted(COLUMNS))
    )
    + ", '}'))"
)


# Writes arrive as text (as on the wire) and are cast by the INSERT.
_INCOMING = pa.schema([(c, pa.int32() if c == "retention_period_days" else pa.string()) for c in COLUMNS])


_LIST_JOIN = 64  # ids from which get_many passes one list rather than a parameter each


class DuckDBEventStore:
    reserialises_json = False  # JSON columns come back as the text that was written

    def __init__(
        self,
        path: Path,
        *,
        threads: int | None = None,
        read_only: bool = False,
        export_slice_rows: int = EXPORT_SLICE_ROWS,
        checkpoint_mib: int | None = None,
    ) -> None:
        """``read_only``: for the verifier, beside no writer (DuckDB lets one process write).

        ``checkpoint_mib``: the write-ahead log size at which DuckDB checkpoints (its default is
        16 MiB). Each checkpoint re-serialises the whole audit_id index (duckdb/duckdb#24848),
        and rows checkpointed by this process scan 2-2.5x slower until the file is reopened
        (bench/README.md, "Queries against PostgreSQL"); a larger log costs that much disk and
        memory until the checkpoint, and its replay at the next start after a crash.
        """
        self._export_slice_rows = export_slice_rows
        self._read_only = read_only
        path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if checkpoint_mib:
            config["checkpoint_threshold"] = f"{checkpoint_mib}MiB"
        self._db = duckdb.connect(str(path), read_only=read_only, config=config)
        if not read_only:
            columns = ", ".join(
                f'"{c}" {_TYPES[c]}' + (f" USING COMPRESSION {_COMPRESSION[c]}" if c in _COMPRESSION else "")
                for c in COLUMNS
            )
            self._db.execute(f"CREATE TABLE IF NOT EXISTS events ({columns})")
            self._db.execute("CREATE INDEX IF NOT EXISTS events_audit_id ON events (audit_id)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS writer_position (id INTEGER PRIMARY KEY, position BIGINT)"
            )
        self._local = threading.local()
        self._write_lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._db.cursor()
            self._local.cursor = cur
        return cur

    # -- writing ------------------------------------------------------------------------------

    def applied_position(self) -> int:
        rows = self._cursor().execute("SELECT position FROM writer_position WHERE id = 1").fetchall()
        return int(rows[0][0]) if rows else 0

    def append(self, batch: WriteBatch) -> int:
        table = pa.Table.from_pylist(batch.events, schema=_INCOMING)
        with self._write_lock:
            cur = self._cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                if batch.position > 0:
                    # fetchall: DuckDB streams results; an unfinished one blocks the connection.
                    rows = cur.execute("SELECT position FROM writer_position WHERE id = 1").fetchall()
                    if rows and rows[0][0] >= batch.position:
                        cur.execute("ROLLBACK")
                        return 0
                    source = "incoming"
                else:
                    # No queue position (a Pub/Sub message): skip events already stored, found
                    # through the audit_id index.
                    source = (
                        "incoming WHERE NOT EXISTS (SELECT 1 FROM events e WHERE "
                        "e.audit_id = CAST(incoming.audit_id AS UUID) AND e.tenant_id = incoming.tenant_id)"
                    )
                cur.register("incoming", table)
                # Sorted by tenant and time so row-group statistics prune on both.
                inserted = cur.execute(
                    f"INSERT INTO events SELECT {_INSERT_CASTS} FROM {source} ORDER BY tenant_id, timestamp"
                ).fetchall()[0][0]
                cur.unregister("incoming")
                if batch.position > 0:
                    cur.execute("INSERT OR REPLACE INTO writer_position VALUES (1, ?)", [batch.position])
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return int(inserted)

    # -- reading ------------------------------------------------------------------------------

    def _where(self, query: EventQuery) -> tuple[str, list[Any]]:
        clauses = [
            f"tenant_id IN ({', '.join('?' for _ in query.tenants)})",
            "partition_date BETWEEN ? AND ?",
            "timestamp >= ?",
            "timestamp < ?",
        ]
        params: list[Any] = [
            *query.tenants,
            query.start.date(),
            query.end.date(),
            query.start,
            query.end,
        ]
        for column, values in query.filters.items():
            clauses.append(f'"{column}" IN ({", ".join("?" for _ in values)})')
            params.extend(values)
        for key, values in query.metadata.items():
            clauses.append(f"json_extract_string(metadata, ?) IN ({', '.join('?' for _ in values)})")
            params.append(json_path(key))
            params.extend(values)
        if not query.include_self_audit:
            clauses.append("NOT starts_with(event_type, ?)")
            params.append(SELF_AUDIT_PREFIX)
        if query.after is not None:
            ts, audit_id = query.after
            clauses.append("(timestamp < ? OR (timestamp = ? AND audit_id < CAST(? AS UUID)))")
            params.extend([ts, ts, audit_id])
        return " AND ".join(clauses), params

    def query(self, query: EventQuery) -> list[Row]:
        where, params = self._where(query)
        sql = f"SELECT {_SELECT} FROM events WHERE {where} ORDER BY timestamp DESC, audit_id DESC LIMIT ?"
        return self._cursor().execute(sql, [*params, query.limit]).fetchall()

    def get(self, tenant_id: str, audit_id: str) -> Row | None:
        # The audit_id alone in the filter: DuckDB takes the ART index only for a predicate on
        # the indexed column by itself; with the tenant beside it the plan is a full scan
        # (8 ms against 0.6 ms at 3M rows). Ids are unique per tenant, so the tenant is checked
        # on the few rows found.
        rows = (
            self._cursor()
            .execute(f"SELECT {_SELECT} FROM events WHERE audit_id = CAST(? AS UUID)", [audit_id])
            .fetchall()
        )
        return next((tuple(r) for r in rows if r[_TENANT] == tenant_id), None)

    def get_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, Row]:
        if not audit_ids:
            return {}
        params: list[Any]
        if len(audit_ids) >= _LIST_JOIN:
            # One list parameter joined with the table: binding thousands of parameters cost 6x
            # more (0.38 s against 0.06 s for 5,000 ids, a stream's batch).
            sql = f"SELECT {_SELECT} FROM events WHERE audit_id IN (SELECT unnest(?::UUID[]))"
            params = [list(audit_ids)]
        else:
            marks = ", ".join("CAST(? AS UUID)" for _ in audit_ids)
            sql, params = f"SELECT {_SELECT} FROM events WHERE audit_id IN ({marks})", list(audit_ids)
        rows = self._cursor().execute(sql, params).fetchall()
        return {str(r[0]): tuple(r) for r in rows if r[_TENANT] == tenant_id}

    def committed_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, Committed]:
        # DuckDB writes the records (as ``leaf_digests`` does), ~6 us each, against ~12 us to
        # fetch the rows and ~22 us more to rebuild and serialise them in Python. The ids are
        # found first (a scan of their column alone), then those rows by rowid: joining the ids
        # with the table directly read every column of every row (54 against 36 ms for 5,000 of
        # 120k rows).
        sql = (
            f"SELECT CAST(audit_id AS VARCHAR), tenant_id, {_LEAF_BYTES}, event_type, service_name, "
            "status, CAST(metadata AS VARCHAR) FROM events WHERE rowid IN "
            "(SELECT rowid FROM events WHERE audit_id IN (SELECT unnest(?::UUID[])))"
        )
        rows = self._cursor().execute(sql, [list(audit_ids)]).fetchall()  # the tenant as in get()
        return {r[0]: Committed(r[2][1:].encode(), *r[3:]) for r in rows if r[1] == tenant_id}

    def export(self, query: EventQuery, chunk_rows: int = 10_000) -> Iterator[list[Row]]:
        # A cursor of its own: the export is consumed lazily, possibly across threads.
        cur = self._db.cursor()
        pending: list[Row] = []
        try:
            for where, params in self._export_slices(cur, query):
                cur.execute(f"SELECT {_SELECT} FROM events WHERE {where} {_ORDER}", params)
                while rows := cur.fetchmany(chunk_rows):
                    pending += rows
                    if len(pending) >= chunk_rows:
                        yield pending[:chunk_rows]
                        del pending[:chunk_rows]
            if pending:
                yield pending
        finally:
            cur.close()

    def export_rendered(
        self, query: EventQuery, fmt: Literal["json", "csv"], *, marker: str, chunk_rows: int = 10_000
    ) -> Iterator[tuple[int, list[bytes | Row]]]:
        # DuckDB writes the lines (~470k rows/s for NDJSON against ~95k in Python); they come
        # back as one Arrow string column whose data buffer is the lines back to back, so a run
        # of them is one slice of it. Rows whose line holds the marker come back as stored.
        cur = self._db.cursor()
        try:
            for where, params in self._export_slices(cur, query):
                sql = (
                    f"SELECT line, raw, {_RAW_ROW} FROM (SELECT *, {_LEFT_TO_CALLER[fmt]} AS raw "
                    f"FROM (SELECT {_LINES[fmt]} AS line, * FROM events WHERE {where})) {_ORDER}"
                )
                for batch in cur.sql(sql, params=[marker, *params]).to_arrow_reader(chunk_rows):
                    if batch.num_rows:
                        yield batch.num_rows, _parts(batch)
        finally:
            cur.close()

    def _export_slices(
        self, cur: duckdb.DuckDBPyConnection, query: EventQuery
    ) -> Iterator[tuple[str, list[Any]]]:
        """The WHERE clause and parameters of each run of days an export reads, newest first.

        Runs of about ``export_slice_rows`` rows, each sorted on its own: sorting the whole window
        at once held every row of it in DuckDB's memory (+2.2 GiB of server RSS for a 3M-row
        export in the 10M run); the runs concatenate in order."""
        where, params = self._where(query)
        per_day = dict(
            cur.execute(
                f"SELECT partition_date, COUNT(*) FROM events WHERE {where} GROUP BY 1", params
            ).fetchall()
        )
        for lo, hi in day_slices(per_day, query.start.date(), query.end.date(), self._export_slice_rows):
            part = dataclasses.replace(
                query,
                start=max(query.start, datetime.combine(lo, time.min)),
                end=min(query.end, datetime.combine(hi + timedelta(days=1), time.min)),
            )
            yield self._where(part)

    def leaf_digests(self, tenant_ids: list[str]) -> Iterator[LeafDigests]:
        """DuckDB writes each leaf's bytes; hashlib hashes them (SHA-NI where the CPU has it: 3x
        DuckDB's own sha256), reading each from the Arrow buffer without a copy. One scan for all
        the tenants: a scan filtered to one tenant decodes most of the table all the same."""
        cur = self._db.cursor()
        try:
            sql = (
                f"SELECT tenant_id, CAST(audit_id AS VARCHAR), epoch_us(created_at), {_LEAF_BYTES} "
                "FROM events WHERE tenant_id IN (SELECT unnest(?::VARCHAR[]))"
            )
            sha256 = hashlib.sha256
            for batch in cur.sql(sql, params=[tenant_ids]).to_arrow_reader(32768):
                offsets, data = _string_buffers(batch.column(3))
                yield LeafDigests(
                    batch.column(0).to_pylist(),
                    batch.column(1).to_pylist(),
                    batch.column(2).to_pylist(),
                    [sha256(data[offsets[i] : offsets[i + 1]]).digest() for i in range(batch.num_rows)],
                )
        finally:
            cur.close()

    def oldest_partition(self) -> date | None:
        row = self._cursor().execute("SELECT min(partition_date) FROM events").fetchone()
        return row[0] if row else None

    def expired(
        self,
        today: date,
        *,
        delete: bool,
        holds: tuple[HoldScope, ...] = (),
        partitions: tuple[date, date] | None = None,
    ) -> dict[str, int]:
        condition = "partition_date + CAST(retention_period_days AS INTEGER) < ?"
        params: list[Any] = [today]
        if partitions is not None:
            condition += " AND partition_date BETWEEN ? AND ?"
            params += list(partitions)
        for hold in holds:
            parts = ["tenant_id = ?"]
            params.append(hold.tenant_id)
            for column, values in hold.filters.items():
                if column not in FILTER_COLUMNS:
                    raise ValueError(f"a hold cannot filter on {column!r}")
                parts.append(f'"{column}" IN ({", ".join("?" for _ in values)})')
                params.extend(values)
            condition += f" AND NOT ({' AND '.join(parts)})"
        with self._write_lock:
            cur = self._cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                counts = cur.execute(
                    f"SELECT tenant_id, count(*) FROM events WHERE {condition} GROUP BY tenant_id",
                    params,
                ).fetchall()
                if delete and counts:
                    cur.execute(f"DELETE FROM events WHERE {condition}", params)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return {tenant: int(n) for tenant, n in counts}

    def ping(self) -> None:
        self._cursor().execute("SELECT 1").fetchall()

    def count(self) -> int:
        rows = self._cursor().execute("SELECT count(*) FROM events").fetchall()
        return int(rows[0][0])

    def checkpoint(self) -> None:
        with self._write_lock:
            self._cursor().execute("CHECKPOINT")

    def close(self) -> None:
        if not self._read_only:
            # Explicitly: DuckDB checkpoints at shutdown only once every cursor of the database
            # is closed, and other threads' cursors may still be open; the log would otherwise
            # stay behind (up to ``checkpoint_mib``) and be replayed by every later open.
            try:
                self.checkpoint()
            except duckdb.Error:
                log.exception("checkpoint at close failed; the next open replays the log")
        self._db.close()


def _string_buffers(column: pa.Array) -> tuple[memoryview, memoryview]:
    """A string column's offsets (from its first row) and data, where row i is data[o[i]:o[i+1]]."""
    raw = memoryview(column.buffers()[1])
    offsets = raw.cast("q") if pa.types.is_large_string(column.type) else raw.cast("i")
    offsets = offsets[column.offset : column.offset + len(column) + 1]
    data = column.buffers()[2]
    return offsets, memoryview(data) if data is not None else memoryview(b"")


def _parts(batch: pa.RecordBatch) -> list[bytes | Row]:
    """A batch of (line, raw, row columns when raw) as runs of lines and the raw rows between."""
    offsets, data = _string_buffers(batch.column(0))
    parts: list[bytes | Row] = []
    start = 0
    for i in pc.indices_nonzero(batch.column(1)).to_pylist():
        if i > start:
            parts.append(bytes(data[offsets[start] : offsets[i]]))
        parts.append(tuple(batch.column(k)[i].as_py() for k in range(2, batch.num_columns)))
        start = i + 1
    if start < batch.num_rows:
        parts.append(bytes(data[offsets[start] : offsets[batch.num_rows]]))
    return parts
