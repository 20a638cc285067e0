"""How a stored row is shown to readers: a JSON object, an NDJSON line, a CSV record.

A store that renders rows itself (``EventStore.export_rendered``) must give exactly these bytes;
``tests/integration/test_rendered_export.py`` holds the DuckDB store to it.

CSV cells that a spreadsheet would run as a formula (OWASP's "CSV injection": a cell starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) are prefixed with ``'``, which
spreadsheets show as text. NDJSON and exports with a manifest keep the stored bytes, which the
integrity log committed to.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, Literal

import orjson

from auditlog.model.event import COLUMNS, JSON_COLUMNS, format_timestamp
from auditlog.ports.store import Row

ExportFormat = Literal["json", "csv"]

_JSON_INDEXES = frozenset(i for i, c in enumerate(COLUMNS) if c in JSON_COLUMNS)
_TS_INDEXES = frozenset(COLUMNS.index(c) for c in ("timestamp", "created_at"))
_DATE_INDEX = COLUMNS.index("partition_date")


def row_to_json_object(row: Row) -> dict[str, Any]:
    """A row as a JSON-ready dict; JSON columns are embedded as they are stored."""
    out: dict[str, Any] = {}
    for i, (name, value) in enumerate(zip(COLUMNS, row, strict=True)):
        if value is None:
            out[name] = None
        elif i in _JSON_INDEXES:
            out[name] = orjson.Fragment(value)
        elif i in _TS_INDEXES:
            out[name] = format_timestamp(value)
        elif i == _DATE_INDEX:
            out[name] = value.isoformat()
        else:
            out[name] = value
    return out


def header(fmt: ExportFormat) -> bytes:
    """What an export starts with: CSV's header record of the seed's columns; nothing for NDJSON."""
    return _csv_records([COLUMNS]) if fmt == "csv" else b""


def lines(fmt: ExportFormat, rows: Iterable[Row]) -> bytes:
    """Rows as NDJSON lines, or RFC 4180 CSV records with JSON columns as compact JSON text."""
    if fmt == "csv":
        return _csv_records(_csv_values(r) for r in rows)
    return b"".join(orjson.dumps(row_to_json_object(r)) + b"\n" for r in rows)


def _csv_records(records: Iterable[Iterable[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(records)
    return buffer.getvalue().encode()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _csv_values(row: Row) -> list[Any]:
    values = ["" if v is None else neutralised(v) if isinstance(v, str) else v for v in row]
    for i in _TS_INDEXES:
        values[i] = format_timestamp(row[i])
    values[_DATE_INDEX] = row[_DATE_INDEX].isoformat()
    return values
