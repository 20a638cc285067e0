"""How a stored row is shown to readers: a JSON object, an NDJSON line, a CSV record."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from auditlog.event import COLUMNS, JSON_COLUMNS, format_timestamp
from auditlog.store import Row

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


def ndjson_chunks(chunks: Iterable[list[Row]]) -> Iterator[bytes]:
    for rows in chunks:
        yield b"".join(orjson.dumps(row_to_json_object(r)) + b"\n" for r in rows)


def csv_chunks(chunks: Iterable[list[Row]]) -> Iterator[bytes]:
    """RFC 4180 CSV: a header of the seed's columns, JSON columns as compact JSON text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue().encode()
    for rows in chunks:
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            writer.writerow(_csv_values(row))
        yield buffer.getvalue().encode()


def _csv_values(row: Row) -> list[Any]:
    values = list(row)
    for i in _TS_INDEXES:
        values[i] = format_timestamp(values[i])
    values[_DATE_INDEX] = values[_DATE_INDEX].isoformat()
    return ["" if v is None else v for v in values]
