"""The DuckDB store renders exports in the engine: its bytes must be the reference renderer's
(``rendering.lines``) on awkward values, with rows holding the marker (an encrypted field) or a
control-character escape handed back as stored."""

from __future__ import annotations

import csv
import io
import tempfile
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.backends.embedded.duckdb_store import DuckDBEventStore
from auditlog.model.event import COLUMNS, StoredEvent, canonical_json
from auditlog.ports.store import EventQuery, Row, WriteBatch
from auditlog.read import rendering
from auditlog.read.rendering import ExportFormat
from tests.integration.test_embedded_backends import event, window

pytestmark = pytest.mark.integration

MARKER = "enc:v1:"
TEXTS = [
    "plain",
    'a "quoted" word',
    "comma, separated",
    "line one\nline two",
    "windows\r\nline end",
    "trailing backslash \\",
    "ünïcødé ☃ 😀 日本語 \u2028\u2029",
    "/a/b and \x7f",
    "",
    '"',
    ",",
    f"{MARKER}looks sealed",
    "bell \x07 and unit separator \x1f",
    "tab\tform\x0cfeed",
]
MARKED = {t for t in TEXTS if MARKER in t}
ESCAPED = {t for t in TEXTS if any(ord(c) < 0x20 and c not in "\n\r\t\b\f" for c in t)}


def _awkward(i: int, text: str) -> StoredEvent:
    document = {"text": text, "n": [1, 2.5, 1e21, -0.0, 10**18], "nested": {"k": [text, None, True]}}
    return event(
        minutes=-i,
        user_id=text or "u",
        user_agent=text,
        resource_id=None if i % 3 == 0 else text,
        session_id=f"s,{i}",
        request_data=canonical_json(document).decode(),
        response_data=None if i % 2 else canonical_json({"t": text}).decode(),
        metadata=canonical_json({"note": text, "region": "eu"}).decode(),
        service_name="svc, with comma",
        retention_period_days=90 + i,
    )


def _rendered(
    store: DuckDBEventStore, query: EventQuery, fmt: ExportFormat, **kw: Any
) -> tuple[bytes, list[Row], int]:
    """The store's export, raw rows rendered by the reference renderer, with the raw rows."""
    out, raw, rows = [], [], 0
    for count, parts in store.export_rendered(query, fmt, marker=MARKER, **kw):
        rows += count
        for part in parts:
            if isinstance(part, bytes):
                out.append(part)
            else:
                raw.append(part)
                out.append(rendering.lines(fmt, [part]))
    return b"".join(out), raw, rows


def _reference(store: DuckDBEventStore, query: EventQuery, fmt: ExportFormat) -> tuple[bytes, list[Row]]:
    rows = [r for chunk in store.export(query) for r in chunk]
    return rendering.lines(fmt, rows), rows


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_engine_rendering_is_the_reference_rendering(tmp_path: Path, fmt: ExportFormat) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb")
    store.append(WriteBatch([_awkward(i, t) for i, t in enumerate(TEXTS)], position=1))
    got, raw, count = _rendered(store, window(), fmt)
    expected, rows = _reference(store, window(), fmt)
    assert count == len(rows) == len(TEXTS)
    assert got == expected
    # Raw rows come back exactly as ``export`` gives them, and only those that need it.
    handed_back = MARKED | (ESCAPED if fmt == "json" else set())
    assert sorted(r[COLUMNS.index("user_agent")] for r in raw) == sorted(handed_back)
    by_id = {r[0]: r for r in rows}
    assert all(r == by_id[r[0]] and list(map(type, r)) == list(map(type, by_id[r[0]])) for r in raw)
    if fmt == "json":
        lines = got.split(b"\n")[:-1]
        assert [orjson.loads(line)["user_agent"] for line in lines] == [
            r[COLUMNS.index("user_agent")] for r in rows
        ]
        assert b"1e+21" in got, "stored JSON is embedded as stored, not re-serialised"
    else:
        parsed = list(csv.reader(io.StringIO(got.decode(), newline="")))
        assert [p[COLUMNS.index("user_agent")] for p in parsed] == [
            r[COLUMNS.index("user_agent")] for r in rows
        ]
    store.close()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_rendered_export_crosses_days_in_order_and_counts_rows(tmp_path: Path, fmt: ExportFormat) -> None:
    store = DuckDBEventStore(tmp_path / "events.duckdb", export_slice_rows=30)
    events = [event(minutes=m, user_agent=TEXTS[m % len(TEXTS)]) for m in range(-3 * 1440, 1440, 37)]
    store.append(WriteBatch(events, position=1))
    chunks = list(store.export_rendered(window(), fmt, marker=MARKER, chunk_rows=16))
    assert len(chunks) > 4 and all(0 < n <= 16 for n, _ in chunks)
    got, _, count = _rendered(store, window(), fmt, chunk_rows=16)
    expected, rows = _reference(store, window(), fmt)
    assert count == len(rows) == len(events)
    assert got == expected
    assert list(store.export_rendered(window("nobody"), fmt, marker=MARKER)) == []
    store.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=8), st.sampled_from(["json", "csv"]))
def test_any_text_renders_as_the_reference(texts: list[str], fmt: ExportFormat) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBEventStore(Path(tmp) / "events.duckdb")
        events = [
            event(
                minutes=-i,
                audit_id=str(uuid.uuid4()),
                user_agent=text,
                resource_id=text,
                request_data=canonical_json({text: [text, i]}).decode(),
            )
            for i, text in enumerate(texts)
        ]
        store.append(WriteBatch(events, position=1))
        got, _, _ = _rendered(store, window(), fmt)
        assert got == _reference(store, window(), fmt)[0]
        store.close()
