"""The BigQuery event store against the BigQuery emulator (bqemulator, REST and gRPC).

Mirrors the embedded store's tests in ``test_embedded_backends.py``; each test writes to a
dataset of its own. What the emulator does not do (``require_partition_filter``) is checked in
``tests/unit/test_bigquery_schema.py``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from auditlog.backends.embedded.duckdb_store import DuckDBEventStore
from auditlog.backends.gcp.bigquery_sql import CLUSTERING_FIELDS
from auditlog.backends.gcp.bigquery_store import (
    BigQueryEventStore,
    ensure_events_table,
    storage_write_client,
)
from auditlog.ledger import merkle
from auditlog.ledger.leaves import event_leaf_hash
from auditlog.model.event import COLUMNS, StoredEvent, parse_rfc3339
from auditlog.ports.store import EventQuery, WriteBatch, epoch_us
from auditlog.schema import load_events_schema
from tests.conftest import BIGQUERY_PROJECT
from tests.records import stored_event

pytestmark = pytest.mark.integration

# Relative to today: get and count look back over the longest retention from today.
BASE = datetime.combine(datetime.now(UTC).date() - timedelta(days=25), time(12))
TS = COLUMNS.index("timestamp")
USER = COLUMNS.index("user_id")


def event(tenant: str = "acme", minutes: int = 0, **overrides: Any) -> StoredEvent:
    return stored_event(BASE, tenant, minutes, **overrides)


def window(tenant: str = "acme", **kw: Any) -> EventQuery:
    return EventQuery(tenants=(tenant,), start=BASE - timedelta(days=10), end=BASE + timedelta(days=10), **kw)


def client_for(emulator: Any) -> bigquery.Client:
    return bigquery.Client(
        project=BIGQUERY_PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=f"http://127.0.0.1:{emulator.port}"),
    )


class Table:
    """A dataset of the test's own with the events table in it."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.dataset = f"t_{uuid.uuid4().hex[:12]}"
        self.admin = client_for(emulator)
        ensure_events_table(self.admin, self.dataset, "events")

    def store(self, **kw: Any) -> BigQueryEventStore:
        return BigQueryEventStore(
            client_for(self.emulator),
            self.dataset,
            "events",
            write_client=storage_write_client(f"127.0.0.1:{self.emulator.extra_ports['grpc']}"),
            **kw,
        )

    def stored_rows(self) -> int:
        """Rows as stored, copies included."""
        sql = f"SELECT COUNT(*) AS n FROM `{self.dataset}.events` WHERE partition_date >= '2000-01-01'"
        return int(next(iter(self.admin.query_and_wait(sql)))["n"])

    def drop(self) -> None:
        self.admin.delete_dataset(self.dataset, delete_contents=True, not_found_ok=True)
        self.admin.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def table(bigquery_emulator: Any) -> Iterator[Table]:
    t = Table(bigquery_emulator)
    yield t
    t.drop()


@pytest.fixture
def store(table: Table) -> Iterator[BigQueryEventStore]:
    s = table.store()
    yield s
    s.close()


def test_the_table_is_partitioned_by_day_and_clustered(table: Table) -> None:
    ensure_events_table(table.admin, table.dataset, "events")  # a second time changes nothing
    created = table.admin.get_table(f"{table.dataset}.events")
    assert created.time_partitioning is not None
    assert created.time_partitioning.type_ == "DAY"
    assert created.time_partitioning.field == "partition_date"
    assert created.clustering_fields == list(CLUSTERING_FIELDS)
    assert [f.to_api_repr()["name"] for f in created.schema] == list(COLUMNS)
    expected = {f["name"]: (f["type"], f["mode"]) for f in load_events_schema()}
    # BigQuery answers with legacy type names (INTEGER); the emulator keeps the name it was given.
    legacy = {"INTEGER": "INT64"}
    assert {f.name: (legacy.get(f.field_type, f.field_type), f.mode) for f in created.schema} == expected


def test_rows_read_back_as_the_embedded_store_gives_them(store: BigQueryEventStore, tmp_path: Path) -> None:
    full = event(
        minutes=3,
        session_id="s-1",
        ip_address="2001:db8::1",
        user_agent="curl/8",
        resource_id="inv-9",
        request_data='{"amount":12.5,"lines":[1,2],"note":"\\"quoted\\" é"}',
        response_data='{"ok":true}',
        metadata='{"geo":{"region":"eu"},"n":5}',
        service_name="billing",
        correlation_id="c-7",
        retention_period_days=365,
    )
    sparse = event(minutes=1)
    store.append(WriteBatch([full, sparse], position=1))
    embedded = DuckDBEventStore(tmp_path / "events.duckdb")
    try:
        embedded.append(WriteBatch([full, sparse], position=1))
        for e in (full, sparse):
            assert store.get("acme", e["audit_id"]) == embedded.get("acme", e["audit_id"])
        assert store.query(window()) == embedded.query(window())
    finally:
        embedded.close()
    row = store.get("acme", full["audit_id"])
    assert row is not None
    assert [type(v).__name__ for v in row] == [
        "str", "datetime", "str", "str", "str", "str", "str", "str", "str", "str", "str",
        "str", "str", "str", "str", "str", "str", "int", "datetime", "date",
    ]  # fmt: skip
    assert row[TS].tzinfo is None and row[COLUMNS.index("metadata")] == '{"geo":{"region":"eu"},"n":5}'


def test_a_redelivered_batch_shows_once_in_query_get_export_and_count(
    table: Table, store: BigQueryEventStore
) -> None:
    events = [event(minutes=i) for i in range(3)]
    assert store.append(WriteBatch(events, position=7)) == 3
    assert store.append(WriteBatch(events, position=7)) == 3  # Pub/Sub redelivers the message
    assert store.append(WriteBatch([events[1]], position=8)) == 1
    assert table.stored_rows() == 7  # the copies are stored; no read shows them
    ids = sorted((e["audit_id"] for e in events), reverse=True)
    assert sorted((r[0] for r in store.query(window())), reverse=True) == ids
    assert len(store.query(window())) == 3
    for e in events:
        assert store.get("acme", e["audit_id"]) is not None
    assert [len(c) for c in store.export(window(), chunk_rows=2)] == [2, 1]
    assert store.count() == 3
    assert store.expired(BASE.date() + timedelta(days=91), delete=False) == {"acme": 3}
    assert store.applied_position() == 0


def test_paging_reads_past_copies_without_losing_or_repeating(store: BigQueryEventStore) -> None:
    events = [event(minutes=i // 2) for i in range(7)]  # ties on timestamp, too
    for _ in range(3):
        store.append(WriteBatch(events, position=1))
    seen: list[str] = []
    after = None
    while page := store.query(window(limit=2, after=after)):
        assert len(page) <= 2
        seen += [r[0] for r in page]
        after = (page[-1][TS], page[-1][0])
    expected = sorted(events, key=lambda e: (e["timestamp"], e["audit_id"]), reverse=True)
    assert seen == [e["audit_id"] for e in expected]


def test_query_is_newest_first_with_keyset_ties_by_audit_id(store: BigQueryEventStore) -> None:
    same = [event(minutes=5) for _ in range(4)]
    store.append(WriteBatch([event(minutes=1), *same, event(minutes=9)], position=1))
    rows = store.query(window(limit=100))
    ids = [r[0] for r in rows]
    assert [r[TS] for r in rows] == sorted((r[TS] for r in rows), reverse=True)
    assert ids[1:5] == sorted((e["audit_id"] for e in same), reverse=True)
    seen: list[str] = []
    after = None
    while True:
        page = store.query(window(limit=2, after=after))
        if not page:
            break
        seen += [r[0] for r in page]
        after = (page[-1][TS], page[-1][0])
    assert seen == ids


def test_filters_and_metadata(store: BigQueryEventStore) -> None:
    store.append(
        WriteBatch(
            [
                event(user_id="bob", action="read", metadata='{"geo":{"region":"eu"},"n":5}'),
                event(user_id="carol", metadata='{"geo":{"region":"us"}}'),
                event(user_id="dave"),
                event(tenant="globex", user_id="bob"),
            ],
            position=1,
        )
    )

    def users(q: EventQuery) -> list[str]:
        return sorted(r[USER] for r in store.query(q))

    assert users(window(filters={"user_id": ("bob", "carol")})) == ["bob", "carol"]
    assert users(window(filters={"user_id": ("bob", "carol"), "action": ("create",)})) == ["carol"]
    assert users(window(metadata={"geo.region": ("eu",)})) == ["bob"]
    assert users(window(metadata={"geo.region": ("eu", "us")})) == ["bob", "carol"]
    assert users(window(metadata={"n": ("5",)})) == ["bob"]
    assert users(window(metadata={"geo.region": ("eu') OR ('1'='1",)})) == []
    assert users(window(filters={"user_id": ("x' OR '1'='1",)})) == []
    assert users(window("globex")) == ["bob"]
    both = EventQuery(tenants=("acme", "globex"), start=window().start, end=window().end)
    assert users(dataclasses.replace(both, filters={"user_id": ("bob",)})) == ["bob", "bob"]


def test_time_bounds_are_start_inclusive_end_exclusive(store: BigQueryEventStore) -> None:
    store.append(WriteBatch([event(minutes=0), event(minutes=10)], position=1))
    q = EventQuery(tenants=("acme",), start=BASE, end=BASE + timedelta(minutes=10))
    assert [r[TS] for r in store.query(q)] == [BASE]


def test_get_is_scoped_to_the_tenant(store: BigQueryEventStore) -> None:
    e = event()
    store.append(WriteBatch([e], position=1))
    row = store.get("acme", e["audit_id"])
    assert row is not None and row[0] == e["audit_id"]
    assert store.get("globex", e["audit_id"]) is None
    assert store.get("acme", str(uuid.uuid4())) is None


def test_export_streams_every_row_in_chunks(store: BigQueryEventStore) -> None:
    store.append(WriteBatch([event(minutes=i % 500) for i in range(2500)], position=1))
    chunks = list(store.export(window(), chunk_rows=1000))
    assert [len(c) for c in chunks] == [1000, 1000, 500]


def test_export_reads_runs_of_days_newest_first(table: Table) -> None:
    """With a small slice budget the export is several ordered queries; together they are one
    ordered stream, with the copies of a redelivered batch dropped."""
    store = table.store(export_slice_rows=150)
    try:
        events = [event(minutes=(i % 8) * 24 * 60 - i) for i in range(800)]  # 100 a day, 8 days
        store.append(WriteBatch(events, position=1))
        store.append(WriteBatch(events[:120], position=2))
        rows = [r for chunk in store.export(window(), chunk_rows=64) for r in chunk]
        expected = sorted(events, key=lambda e: (e["timestamp"], e["audit_id"]), reverse=True)
        assert [r[0] for r in rows] == [e["audit_id"] for e in expected]
        assert list(store.export(window("nobody"))) == []
    finally:
        store.close()


def test_expired_counts_and_deletes_per_tenant(store: BigQueryEventStore) -> None:
    store.append(
        WriteBatch(
            [event(), event(retention_period_days=365), event(tenant="globex")],
            position=1,
        )
    )
    today = BASE.date() + timedelta(days=91)
    assert store.expired(today, delete=False) == {"acme": 1, "globex": 1}
    assert store.count() == 3
    assert store.expired(today, delete=True) == {"acme": 1, "globex": 1}
    assert store.count() == 1
    assert store.expired(today, delete=True) == {}
    assert store.expired(BASE.date(), delete=False) == {}


def test_ping_reads_table_metadata_and_fails_for_a_missing_table(
    store: BigQueryEventStore, table: Table
) -> None:
    store.ping()
    missing = BigQueryEventStore(client_for(table.emulator), table.dataset, "no_such_table")
    with pytest.raises(NotFound):
        missing.ping()
    missing.close()


def test_leaf_digests_give_each_event_of_the_tenants_asked_once(store: BigQueryEventStore) -> None:
    acme = [event(minutes=i, request_data='{"k":"é","n":[1,2.5]}') for i in range(3)]
    globex = [event("globex", minutes=i) for i in range(2)]
    store.append(WriteBatch(acme, position=1))
    store.append(WriteBatch(acme[:1], position=1))  # a redelivered copy
    store.append(WriteBatch([*globex, event("initech")], position=2))

    rows = [
        row
        for chunk in store.leaf_digests(["acme", "globex"])
        for row in zip(chunk.tenant_ids, chunk.audit_ids, chunk.created_us, chunk.digests, strict=True)
    ]

    assert sorted(rows) == sorted(
        (e["tenant_id"], e["audit_id"], epoch_us(parse_rfc3339(e["created_at"])), event_leaf_hash(e))
        for e in [*acme, *globex]
    )


def test_committed_records_are_the_leaf_bytes_of_the_rows(store: BigQueryEventStore) -> None:
    """A log stream's read: each found event's committed record, as its leaf hash covers it
    (BigQuery's re-serialised JSON made canonical again), and the filter's columns."""
    acme = [event(minutes=i, request_data='{"k":"é","n":[1,2.5]}') for i in range(3)]
    store.append(WriteBatch([*acme, event("globex")], position=1))
    ids = [e["audit_id"] for e in acme]
    found = store.committed_many("acme", [*ids, str(uuid.uuid4())])
    assert set(found) == set(ids)
    for e in acme:
        got = found[e["audit_id"]]
        assert merkle.leaf_hash(got.record) == event_leaf_hash(e)
        assert (got.event_type, got.status) == (e["event_type"], e["status"])


def test_a_table_with_the_seeds_clustering_is_migrated_and_reads_the_same(table: Table) -> None:
    """devtools/bq_migrate.py: the clustering changed, every partition rewritten, nothing lost.
    The emulator keeps no clustering order and has no search indexes (the DDL's text is checked
    in tests/unit/test_terraform.py), so only a real project shows the pruning itself."""
    from auditlog.backends.gcp.bigquery_sql import PREVIOUS_CLUSTERING_FIELDS
    from devtools.bq_migrate import migrate

    old = table.admin.get_table(f"{table.dataset}.events")
    old.clustering_fields = list(PREVIOUS_CLUSTERING_FIELDS)
    table.admin.update_table(old, ["clustering_fields"])
    store = table.store()
    try:
        events = [event(minutes=i * 60 * 24) for i in range(40)]  # 40 days: two runs of 31
        store.append(WriteBatch(events, position=1))
        before = store.query(window(limit=100))
        before_export = [r for chunk in store.export(window()) for r in chunk]
        assert len(before) == 10
        assert migrate(table.admin, table.dataset, "events", search_index=False) == 2
        assert table.admin.get_table(f"{table.dataset}.events").clustering_fields == list(CLUSTERING_FIELDS)
        assert store.query(window(limit=100)) == before
        assert [r for chunk in store.export(window()) for r in chunk] == before_export
        got = store.get("acme", events[7]["audit_id"])
        assert got is not None and got[0] == events[7]["audit_id"]
        assert table.stored_rows() == 40
    finally:
        store.close()
