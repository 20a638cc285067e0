"""The BigQuery table schema against the stored record, and the SQL the BigQuery store issues."""

from __future__ import annotations

import re
import types
import typing
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from google.cloud import bigquery
from google.cloud.bigquery.table import Row as BigQueryRow

from auditlog.backends.gcp import bigquery_rows, bigquery_store
from auditlog.backends.gcp.bigquery_store import BigQueryEventStore, ensure_events_table
from auditlog.errors import Unavailable
from auditlog.model.event import COLUMNS, StoredEvent
from auditlog.ports.store import FILTER_COLUMNS, EventQuery, WriteBatch, day_slices
from auditlog.schema import load_events_schema

pytestmark = pytest.mark.unit

SCHEMA = load_events_schema()


def _optional(hint: Any) -> bool:
    return type(None) in typing.get_args(hint)


def test_schema_columns_are_the_stored_columns_in_order() -> None:
    assert [f["name"] for f in SCHEMA] == list(COLUMNS)
    assert all(set(f) == {"name", "type", "mode", "description"} and f["description"] for f in SCHEMA)


def test_required_columns_are_the_stored_event_fields_that_cannot_be_none() -> None:
    hints = typing.get_type_hints(StoredEvent)
    assert {f["name"] for f in SCHEMA if f["mode"] == "REQUIRED"} == {
        name for name, hint in hints.items() if not _optional(hint)
    }
    assert {f["mode"] for f in SCHEMA} == {"REQUIRED", "NULLABLE"}


def test_column_types_fit_the_stored_event() -> None:
    hints = typing.get_type_hints(StoredEvent)
    python_type = {"STRING": str, "JSON": str, "TIMESTAMP": str, "DATE": str, "INT64": int}
    for field in SCHEMA:
        hint = hints[field["name"]]
        base = next(a for a in typing.get_args(hint) if a is not type(None)) if _optional(hint) else hint
        assert base is python_type[field["type"]], field["name"]
    assert {f["name"] for f in SCHEMA if f["type"] == "JSON"} == {"request_data", "response_data", "metadata"}
    assert {f["name"] for f in SCHEMA if f["type"] == "TIMESTAMP"} == {"timestamp", "created_at"}


class RecordingClient:
    """A fake ``bigquery.Client`` that records each statement and answers with canned rows.

    A fake, not the emulator, because the emulator neither stores nor enforces
    ``require_partition_filter``: the only way to know every statement would pass it on
    BigQuery is to read the SQL the store builds.
    """

    project = "p"

    def __init__(self) -> None:
        self.statements: list[tuple[str, list[Any]]] = []
        self.tables: list[bigquery.Table] = []

    def query_and_wait(self, sql: str, *, job_config: bigquery.QueryJobConfig, **_: Any) -> list[Any]:
        self.statements.append((sql, list(job_config.query_parameters)))
        now = datetime.now(UTC)
        if sql.startswith("SELECT partition_date, `timestamp` FROM"):  # get's locator: found
            return [BigQueryRow((now.date(), now), {"partition_date": 0, "timestamp": 1})]
        if sql.startswith("SELECT tenant_id, `timestamp`, audit_id FROM"):  # a page's probe: one key
            return [BigQueryRow(("acme", now, "k"), {"tenant_id": 0, "timestamp": 1, "audit_id": 2})]
        if "GROUP BY partition_date" in sql:
            day = datetime.now(UTC).date()
            return [BigQueryRow((day, 3), {"partition_date": 0, "n": 1})]
        if "GROUP BY tenant_id" in sql:
            return [BigQueryRow(("acme", 1), {"tenant_id": 0, "n": 1})]
        if sql.startswith("SELECT COUNT(*)"):
            return [BigQueryRow((0,), {"n": 0})]
        return []

    def create_dataset(self, dataset: bigquery.Dataset, exists_ok: bool) -> None:
        assert exists_ok

    def create_table(self, table: bigquery.Table, exists_ok: bool) -> None:
        assert exists_ok
        self.tables.append(table)

    def close(self) -> None:
        pass


class RecordingWriteClient:
    """A fake Storage Write API client: accepts every row."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.transport = types.SimpleNamespace(close=lambda: None)

    def append_rows(self, requests: Any, **_: Any) -> list[Any]:
        from google.cloud.bigquery_storage_v1 import types as write_types

        sent = list(requests)
        self.requests += sent
        return [write_types.AppendRowsResponse() for _ in sent]


SENTINEL = "zq9"  # in every value below; it must reach BigQuery only as a parameter
PARTITION_RANGE = re.compile(r"\bpartition_date (BETWEEN @date_lo AND @date_hi|< @today)\b")


def _top_level(where: str) -> str:
    """The WHERE clause with every parenthesised part removed."""
    while (shorter := re.sub(r"\([^()]*\)", "", where)) != where:
        where = shorter
    return where


def test_every_statement_bounds_partition_date_and_interpolates_no_value() -> None:
    client = RecordingClient()
    store = BigQueryEventStore(client, "auditlog", "events", write_client=RecordingWriteClient())  # type: ignore[arg-type]
    now = datetime.now(UTC).replace(tzinfo=None)
    query = EventQuery(
        tenants=(f"acme-{SENTINEL}", f"x' OR '1'='1{SENTINEL}"),
        start=now - timedelta(days=3),
        end=now,
        filters={c: (f"{c}-{SENTINEL}", f"\\'); DROP TABLE x; --{SENTINEL}") for c in FILTER_COLUMNS},
        metadata={"geo.region": (f"eu{SENTINEL}",), "a-b.c_d": (f'"{SENTINEL}',)},
        after=(now - timedelta(hours=1), f"after-{SENTINEL}"),
        limit=10,
    )
    store.query(query)
    store.get(f"acme-{SENTINEL}", f"{uuid.uuid4()}{SENTINEL}")
    assert [len(c) for c in store.export(query)] == []
    store.expired(date(2030, 1, 1), delete=True)
    store.count()
    kinds = [sql.split()[0] for sql, _ in client.statements]
    # query: a probe per step of the 3 days (4, each finding one key), one fetch; get: locate, fetch;
    # export: count, one slice; expired: count, delete; count.
    assert kinds == ["SELECT"] * 10 + ["DELETE", "SELECT"]
    for sql, params in client.statements:
        assert SENTINEL not in sql and "acme" not in sql and "2030" not in sql, sql
        where = _top_level(sql.split(" WHERE ", 1)[1])
        # A range on partition_date, and no OR beside it that would let rows around it.
        assert PARTITION_RANGE.search(where) and " OR " not in where, sql
        names = {p.name for p in params}
        assert set(re.findall(r"@(\w+)", sql)) == names, sql
        assert all(
            isinstance(p, bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter) for p in params
        )
    bound = [p for _, params in client.statements for p in params if p.name in ("date_lo", "date_hi")]
    assert all(isinstance(p.value, date) for p in bound)


def test_get_reads_whole_rows_from_one_partition_only() -> None:
    # On-demand billing counts every referenced column in every partition read: across the whole
    # lookback, get may reference only the narrow columns that find the event's partition.
    client = RecordingClient()
    store = BigQueryEventStore(client, "auditlog", "events", write_client=RecordingWriteClient())  # type: ignore[arg-type]
    store.get("acme", str(uuid.uuid4()))
    (probe_sql, probe_params), (row_sql, row_params) = client.statements
    referenced = set(re.findall(r"\b[a-z_]+\b", probe_sql)) & set(COLUMNS)
    assert referenced == {"partition_date", "tenant_id", "audit_id", "timestamp", "created_at"}, probe_sql
    lo, hi = ({p.name: p.value for p in params} for params in (probe_params, row_params))
    assert (hi["date_hi"] - hi["date_lo"]).days == 0  # the row comes from one day
    assert (lo["date_hi"] - lo["date_lo"]).days > 2000  # found across every retention
    assert "request_data" in row_sql


def test_a_filter_on_an_unknown_column_is_refused_before_any_sql() -> None:
    client = RecordingClient()
    store = BigQueryEventStore(client, "auditlog", "events")  # type: ignore[arg-type]
    now = datetime(2026, 11, 1)
    bad = EventQuery(tenants=("acme",), start=now, end=now, filters={"1=1 OR tenant_id": ("x",)})
    with pytest.raises(ValueError, match="not a column"):
        store.query(bad)
    assert client.statements == []
    with pytest.raises(ValueError, match="dataset or table name"):
        BigQueryEventStore(client, "auditlog`; DROP", "events")  # type: ignore[arg-type]


def test_the_table_is_created_with_a_required_partition_filter() -> None:
    """Checked on the request: the emulator drops ``require_partition_filter``."""
    client = RecordingClient()
    ensure_events_table(client, "auditlog", "events")  # type: ignore[arg-type]
    (table,) = client.tables
    assert table.require_partition_filter is True
    assert table.time_partitioning.type_ == "DAY" and table.time_partitioning.field == "partition_date"
    assert table.clustering_fields == ["tenant_id", "timestamp"]
    assert [f.name for f in table.schema] == list(COLUMNS)


def test_appended_rows_are_encoded_for_the_storage_write_api() -> None:
    writer = RecordingWriteClient()
    store = BigQueryEventStore(RecordingClient(), "auditlog", "events", write_client=writer)  # type: ignore[arg-type]
    record = {c: None for c in COLUMNS} | {
        "audit_id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
        "timestamp": "2026-11-26T10:00:00.000001Z",
        "created_at": "1970-01-01T00:00:01.000000Z",
        "partition_date": "2026-11-26",
        "retention_period_days": 90,
        "metadata": '{"a":1}',
    }
    assert store.append(WriteBatch([record] * 3, position=1)) == 3  # type: ignore[list-item]
    (request,) = writer.requests
    assert request.write_stream == "projects/p/datasets/auditlog/tables/events/streams/_default"
    message = bigquery_rows._RowMessage()
    message.ParseFromString(request.proto_rows.rows.serialized_rows[0])
    assert message.timestamp == int(datetime(2026, 11, 26, 10, tzinfo=UTC).timestamp()) * 10**6 + 1
    assert message.created_at == 10**6
    assert message.partition_date == (date(2026, 11, 26) - date(1970, 1, 1)).days
    assert message.metadata == '{"a":1}' and message.retention_period_days == 90
    assert not message.HasField("user_id")  # absent, so NULL
    assert store.append(WriteBatch([], position=2)) == 0


def test_a_refused_append_raises_so_that_the_message_is_redelivered() -> None:
    from google.cloud.bigquery_storage_v1 import types as write_types
    from google.rpc import status_pb2  # type: ignore[import-untyped]

    class RefusingWriteClient(RecordingWriteClient):
        def append_rows(self, requests: Any, **_: Any) -> list[Any]:
            return [write_types.AppendRowsResponse(error=status_pb2.Status(code=3, message="bad row"))]

    store = BigQueryEventStore(RecordingClient(), "auditlog", "events", write_client=RefusingWriteClient())  # type: ignore[arg-type]
    record = {c: None for c in COLUMNS} | {
        "timestamp": "2026-11-26T10:00:00.000000Z",
        "created_at": "2026-11-26T10:00:00.000000Z",
        "partition_date": "2026-11-26",
    }
    with pytest.raises(Unavailable, match="bad row"):
        store.append(WriteBatch([record], position=1))  # type: ignore[list-item]


def test_a_large_batch_is_split_below_the_request_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bigquery_store, "_MAX_APPEND_REQUEST_BYTES", 1000)
    writer = RecordingWriteClient()
    store = BigQueryEventStore(RecordingClient(), "auditlog", "events", write_client=writer)  # type: ignore[arg-type]
    record = {c: None for c in COLUMNS} | {
        "audit_id": str(uuid.uuid4()),
        "timestamp": "2026-11-26T10:00:00.000000Z",
        "created_at": "2026-11-26T10:00:00.000000Z",
        "partition_date": "2026-11-26",
        "retention_period_days": 90,
        "request_data": '{"pad":"' + "x" * 300 + '"}',
    }
    store.append(WriteBatch([record] * 10, position=1))  # type: ignore[list-item]
    sizes = [sum(map(len, r.proto_rows.rows.serialized_rows)) for r in writer.requests]
    assert len(sizes) > 1 and max(sizes) <= 1000
    assert sum(len(r.proto_rows.rows.serialized_rows) for r in writer.requests) == 10
    assert all(r.write_stream for r in writer.requests)
    assert [bool(r.proto_rows.writer_schema.proto_descriptor.field) for r in writer.requests][:2] == [
        True,
        False,
    ]


def test_export_slices_cover_the_window_newest_first() -> None:
    d = date(2026, 11, 10)
    per_day = {d - timedelta(days=i): n for i, n in enumerate([5, 0, 7, 2, 9])}
    first, last = d - timedelta(days=6), d + timedelta(days=1)
    slices = day_slices(per_day, first, last, budget=8)
    assert slices == [(d - timedelta(days=2), last), (d - timedelta(days=4), d - timedelta(days=3))]
    assert day_slices({d: 0}, first, last, budget=8) == []
    assert day_slices({d: 3}, first, last, budget=8) == [(first, last)]
