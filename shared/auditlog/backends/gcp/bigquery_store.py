"""BigQuery event store: one table partitioned by day on ``partition_date`` and clustered by
``tenant_id, user_id, event_type, timestamp``, laid out as ``auditlog/schema/events.bigquery.json``.

Writes go through the Storage Write API's default stream; copies of a redelivered batch are
dropped when reading. The two candidate write paths, measured on the emulator (bqemulator
1.4.0, this machine) appending 20 batches of 1,000 events of the full schema, three runs:

- Storage Write API, default stream, proto rows (``append`` here): 8,000-11,800 rows/s into an
  empty table; 5,200-9,000 rows/s sending the same 20,000 events again.
- ``MERGE ... USING (SELECT ... FROM UNNEST(@rows))`` on (tenant_id, audit_id), inserting when
  not matched: 2,500-2,700 rows/s for the first 10,000 rows, 1,600-3,000 for the next 10,000;
  1,600-3,100 rows/s for a redelivered batch (nothing inserted).

The Storage Write API won, for reasons that weigh more on BigQuery than on the emulator:

- A MERGE is a mutating DML job, one per Pub/Sub push: about a second of latency, at most two
  running per table with the rest queued, under a per-table DML rate quota, and billed for
  scanning the key columns of every partition the batch touches (at least 10 MB each). Google's
  DML page itself points frequent inserters to the Storage Write API, which costs $0.025/GB
  (2 TB a month free), half the price of legacy streaming inserts, and answers in milliseconds.
- The default stream is at-least-once, so the guarantee lives in one place, the read path, and
  holds whatever Pub/Sub does (overlapping deliveries of one message included).
- Copies are identical rows (the same record, redelivered), so they share the sort key
  ``(timestamp, audit_id)`` and arrive next to each other in every ordered read. Query and
  export drop them as they stream (keeping the keys seen at the current timestamp), which keeps
  BigQuery's top-N plan for a page; ``QUALIFY ROW_NUMBER() OVER (PARTITION BY tenant_id,
  audit_id ...)`` would have made it shuffle every row of the window, payloads included, before
  the ``LIMIT``. ``get`` takes one row; ``count`` and ``expired`` count distinct
  ``(tenant_id, audit_id)``; ``DELETE`` removes every copy.

So ``append`` returns the number of rows sent, which counts a redelivered batch again; query,
get, export and expired never show the copy. ``applied_position`` is 0: Pub/Sub has no
positions, and ``append`` ignores ``batch.position``.

Every statement carries a ``partition_date`` range, because the table has
``require_partition_filter`` (the emulator neither stores nor enforces it, so a unit test checks
the SQL instead). ``get`` and ``count`` have no time range of their own: they look back over the
longest retention there is (``MAX_RETENTION_DAYS``, 2555 days) up to tomorrow (timestamps may
run a few minutes ahead), since no live event lies outside it.

Exports are cut into runs of partition days of at most ``export_slice_rows`` rows (from a count
per day), newest first, each read with one ordered query paged with ``page_size``: memory stays
at one page, and no single ``ORDER BY`` has to sort the whole export.

All values are query parameters; the only text spliced into SQL is column names from
``event.COLUMNS`` and ``store.FILTER_COLUMNS`` and the table's validated name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery
from google.cloud.bigquery_storage_v1 import BigQueryWriteClient
from google.cloud.bigquery_storage_v1 import types as write_types

from auditlog.backends.gcp import bigquery_sql as sql
from auditlog.backends.gcp.bigquery_rows import ROW_DESCRIPTOR, encode
from auditlog.errors import Unavailable
from auditlog.model.event import COLUMNS, MAX_RETENTION_DAYS
from auditlog.ports.store import (
    FILTER_COLUMNS,
    Committed,
    EventQuery,
    HoldScope,
    LeafDigests,
    Row,
    WriteBatch,
    day_slices,
    epoch_us,
)
from auditlog.schema import load_events_schema

# https://cloud.google.com/bigquery/quotas#write-api-limits: 10 MB per AppendRows request.
_MAX_APPEND_REQUEST_BYTES = 9 * 1024 * 1024
_APPEND_TIMEOUT_SECONDS = 120.0
# Timestamps may be ahead of the clock by the ingest skew (minutes), so a day past today.
_FUTURE_DAYS = 1
# How far an event's timestamp may lie past the moment a server-assigned UUIDv7 id was minted
# (the ingest skew, 5 minutes by default); a locator bound, never relied on for correctness.
_LOCATOR_SKEW = timedelta(hours=1)

_TS = COLUMNS.index("timestamp")
_CREATED = COLUMNS.index("created_at")
_ID = COLUMNS.index("audit_id")
_TENANT = COLUMNS.index("tenant_id")
_TYPE, _SERVICE, _STATUS, _METADATA = (
    COLUMNS.index(c) for c in ("event_type", "service_name", "status", "metadata")
)


def ensure_events_table(client: bigquery.Client, dataset: str, table: str) -> None:
    """Create the dataset and the events table if missing (Terraform does it on GCP)."""
    client.create_dataset(bigquery.Dataset(f"{client.project}.{sql.checked_name(dataset)}"), exists_ok=True)
    events = bigquery.Table(
        f"{client.project}.{dataset}.{sql.checked_name(table)}",
        schema=[bigquery.SchemaField.from_api_repr(f) for f in load_events_schema()],
    )
    events.time_partitioning = bigquery.TimePartitioning(
        type_=bigquery.TimePartitioningType.DAY, field=sql.PARTITION_FIELD
    )
    events.clustering_fields = list(sql.CLUSTERING_FIELDS)
    events.require_partition_filter = True
    events.description = "Audit events; one row per (tenant_id, audit_id), copies removed on read."
    client.create_table(events, exists_ok=True)


def storage_write_client(emulator_host: str | None = None) -> BigQueryWriteClient:
    """A Storage Write API client: Google's with default credentials, or the emulator's gRPC
    port (``host:port``) over plaintext."""
    if emulator_host is None:
        return BigQueryWriteClient()  # type: ignore[no-untyped-call]
    import grpc
    from google.cloud.bigquery_storage_v1.services.big_query_write.transports import (
        BigQueryWriteGrpcTransport,
    )

    return BigQueryWriteClient(  # type: ignore[no-untyped-call]
        transport=BigQueryWriteGrpcTransport(channel=grpc.insecure_channel(emulator_host))
    )


class BigQueryEventStore:
    """The ``EventStore`` on BigQuery. It owns the clients given to it and closes them."""

    # BigQuery's JSON type hands JSON columns back re-serialised, not as written.
    reserialises_json = True

    def __init__(
        self,
        client: bigquery.Client,
        dataset: str,
        table: str,
        *,
        write_client: BigQueryWriteClient | None = None,
        export_slice_rows: int = 500_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``clock``: the time the lookback of ``get`` and ``count`` ends at (the capacity model
        fixes it)."""
        self._client = client
        self._table = f"`{client.project}.{sql.checked_name(dataset)}.{sql.checked_name(table)}`"
        self._table_id = f"{client.project}.{sql.checked_name(dataset)}.{sql.checked_name(table)}"
        self._stream = f"{BigQueryWriteClient.table_path(client.project, dataset, table)}/streams/_default"
        self._write_client = write_client
        self._export_slice_rows = export_slice_rows
        self._clock = clock

    # -- writing ------------------------------------------------------------------------------

    def applied_position(self) -> int:
        return 0

    def append(self, batch: WriteBatch) -> int:
        if not batch.events:
            return 0
        requests = self._append_requests([encode(e) for e in batch.events])
        writer = self._writer()
        try:
            responses = list(
                writer.append_rows(
                    iter(requests),
                    timeout=_APPEND_TIMEOUT_SECONDS,
                    # The routing header the service needs for a bidirectional stream.
                    metadata=(("x-goog-request-params", f"write_stream={self._stream}"),),
                )
            )
        except api_exceptions.GoogleAPICallError as exc:
            raise Unavailable(f"BigQuery append failed: {exc.message}") from exc
        problems = [
            r.error.message or str(list(r.row_errors)) for r in responses if r.error.code or r.row_errors
        ]
        if problems or len(responses) != len(requests):
            # Earlier requests may have landed; the batch is redelivered and the copies dropped
            # on read.
            raise Unavailable(f"BigQuery append failed: {'; '.join(problems) or 'responses missing'}")
        return len(batch.events)

    def _append_requests(self, rows: list[bytes]) -> list[write_types.AppendRowsRequest]:
        groups: list[list[bytes]] = [[]]
        size = 0
        for row in rows:
            if groups[-1] and size + len(row) > _MAX_APPEND_REQUEST_BYTES:
                groups.append([])
                size = 0
            groups[-1].append(row)
            size += len(row)
        requests = []
        for i, group in enumerate(groups):
            data = write_types.AppendRowsRequest.ProtoData(rows=write_types.ProtoRows(serialized_rows=group))
            if i == 0:
                data.writer_schema = write_types.ProtoSchema(proto_descriptor=ROW_DESCRIPTOR)
            # Every request names the stream: the service allows it, and the emulator needs it.
            requests.append(write_types.AppendRowsRequest(write_stream=self._stream, proto_rows=data))
        return requests

    def _writer(self) -> BigQueryWriteClient:
        if self._write_client is None:
            self._write_client = storage_write_client()
        return self._write_client

    # -- reading ------------------------------------------------------------------------------

    def query(self, query: EventQuery) -> list[Row]:
        # Probes find the page's keys newest first, step by step, reading narrow columns; one
        # fetch reads the page whole from the blocks its time span covers (bigquery_sql.py).
        sql.check(query)
        keys: list[tuple[str, datetime, str]] = []
        after = query.after
        upper = query.end if after is None else min(query.end, after[0] + sql.ONE_US)
        for lo, hi in sql.steps(query.start, upper):
            statement = sql.probe(self._table, query, lo, hi, after, query.limit - len(keys))
            found = [(r["tenant_id"], _naive(r["timestamp"]), r["audit_id"]) for r in self._run(statement)]
            keys += found
            if len(keys) == query.limit:
                break
        if not keys:
            return []
        wanted = set(keys)
        rows = [
            row
            for row in _without_copies(_row(r) for r in self._run(sql.fetch(self._table, keys)))
            if (row[_TENANT], row[_TS], row[_ID]) in wanted
        ]
        return rows

    def get(self, tenant_id: str, audit_id: str) -> Row | None:
        # Located through the search index on audit_id (narrow columns of the blocks holding it),
        # then read whole from that day at that moment: a block or two, not the tenant's history
        # (docs/CAPACITY.md, section 3).
        for span in _lookups(audit_id, self._clock()):
            found = list(self._run(sql.locate(self._table, tenant_id, audit_id, span)))
            if found:
                day, moment = found[0]["partition_date"], found[0]["timestamp"]
                for r in self._run(sql.fetch_one(self._table, tenant_id, audit_id, day, moment)):
                    return _row(r)
                return None
        return None

    def get_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, Row]:
        # As ``get``: the partitions first (through the index on audit_id, narrow columns), then
        # the rows of those partitions only; the earliest accepted copy of each id wins.
        if not audit_ids:
            return {}
        today = self._clock().date()
        first, last = today - timedelta(days=MAX_RETENTION_DAYS), today + timedelta(days=_FUTURE_DAYS)
        located = sql.locate_many(self._table, tenant_id, audit_ids, first, last)
        days = [r["partition_date"] for r in self._run(located)]
        if not days:
            return {}
        found: dict[str, Row] = {}
        for r in self._run(sql.fetch_many(self._table, tenant_id, audit_ids, days)):
            row = _row(r)
            found.setdefault(str(row[0]), row)
        return found

    def committed_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, Committed]:
        # In Python from the rows: BigQuery re-serialises JSON columns (see ``leaf_digests``).
        from auditlog.ledger.leaves import record_bytes

        return {
            audit_id: Committed(
                record_bytes(row, recanonicalise=True),
                row[_TYPE],
                row[_SERVICE],
                row[_STATUS],
                row[_METADATA],
            )
            for audit_id, row in self.get_many(tenant_id, audit_ids).items()
        }

    def export(self, query: EventQuery, chunk_rows: int = 10_000) -> Iterator[list[Row]]:
        first, last = query.start.date(), query.end.date()
        per_day = {r["partition_date"]: int(r["n"]) for r in self._run(sql.day_counts(self._table, query))}
        chunk: list[Row] = []
        for lo, hi in day_slices(per_day, first, last, self._export_slice_rows):
            result = self._run(sql.export_slice(self._table, query, lo, hi), page_size=chunk_rows)
            for row in _without_copies(_row(r) for r in result):
                chunk.append(row)
                if len(chunk) == chunk_rows:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def export_rendered(
        self, query: EventQuery, fmt: Literal["json", "csv"], *, marker: str, chunk_rows: int = 10_000
    ) -> Iterator[tuple[int, list[bytes | Row]]]:
        """Every row for the caller to render: BigQuery would write JSON and CSV by its own
        conventions, not ``rendering.lines``'s bytes."""
        for chunk in self.export(query, chunk_rows):
            yield len(chunk), list(chunk)

    def leaf_digests(self, tenant_ids: list[str]) -> Iterator[LeafDigests]:
        # Computed here from the rows: BigQuery re-serialises JSON columns, which the leaf's
        # canonical text absorbs only after parsing them again.
        from auditlog.ledger.leaves import event_leaf_hash, record_from_row

        now = datetime.now(UTC).replace(tzinfo=None)
        query = EventQuery(
            tenants=tuple(tenant_ids),
            start=now - timedelta(days=MAX_RETENTION_DAYS + 5),
            end=now + timedelta(days=1),
            include_self_audit=True,
        )
        for rows in self.export(query, chunk_rows=50_000):
            yield LeafDigests(
                [r[_TENANT] for r in rows],
                [r[_ID] for r in rows],
                [epoch_us(r[_CREATED]) for r in rows],
                [event_leaf_hash(record_from_row(r, recanonicalise=True)) for r in rows],
            )

    def oldest_partition(self) -> date | None:
        # Scans the partition column only (4 bytes a row); the retention sweep asks once a sweep.
        statement = sql.Statement(
            f"SELECT MIN(partition_date) AS oldest FROM {self._table} WHERE {sql.ALL_DAYS}"
        )
        for row in self._run(statement):
            oldest: date | None = row["oldest"]
            return oldest
        return None

    def expired(
        self,
        today: date,
        *,
        delete: bool,
        holds: tuple[HoldScope, ...] = (),
        partitions: tuple[date, date] | None = None,
    ) -> dict[str, int]:
        params: list[Any] = [bigquery.ScalarQueryParameter("today", "DATE", today)]
        condition = sql.EXPIRED
        if partitions is not None:
            # One range of partitions per step: the statement reads only those (pruned).
            condition += " AND partition_date BETWEEN @first_day AND @last_day"
            params += [
                bigquery.ScalarQueryParameter("first_day", "DATE", partitions[0]),
                bigquery.ScalarQueryParameter("last_day", "DATE", partitions[1]),
            ]
        for i, hold in enumerate(holds):
            parts = [f"tenant_id = @hold_{i}"]
            params.append(bigquery.ScalarQueryParameter(f"hold_{i}", "STRING", hold.tenant_id))
            for j, (column, values) in enumerate(hold.filters.items()):
                if column not in FILTER_COLUMNS:
                    raise ValueError(f"a hold cannot filter on {column!r}")
                parts.append(f"`{column}` IN UNNEST(@hold_{i}_{j})")
                params.append(bigquery.ArrayQueryParameter(f"hold_{i}_{j}", "STRING", list(values)))
            condition += f" AND NOT ({' AND '.join(parts)})"
        counts = {
            r["tenant_id"]: int(r["n"])
            for r in self._run(
                sql.Statement(
                    f"SELECT tenant_id, COUNT(DISTINCT audit_id) AS n FROM {self._table}"
                    f" WHERE {condition} GROUP BY tenant_id",
                    params,
                )
            )
        }
        if delete and counts:
            # Ingest refuses events already past their retention, so no row starts to match
            # between the count and the delete: the rows deleted are those counted, and copies.
            self._run(sql.Statement(f"DELETE FROM {self._table} WHERE {condition}", params))
        return counts

    def ping(self) -> None:
        # Table metadata: free, unlike any query over the partitions.
        try:
            self._client.get_table(self._table_id)
        except (api_exceptions.ServerError, api_exceptions.TooManyRequests) as exc:
            raise Unavailable(f"BigQuery is unavailable: {exc.message}") from exc

    def count(self) -> int:
        today = self._clock().date()
        statement = sql.Statement(
            f"SELECT COUNT(*) AS n FROM (SELECT DISTINCT tenant_id, audit_id FROM {self._table}"
            " WHERE partition_date BETWEEN @date_lo AND @date_hi)",
            [
                bigquery.ScalarQueryParameter("date_lo", "DATE", today - timedelta(days=MAX_RETENTION_DAYS)),
                bigquery.ScalarQueryParameter("date_hi", "DATE", today + timedelta(days=_FUTURE_DAYS)),
            ],
        )
        return next(int(r["n"]) for r in self._run(statement))

    def close(self) -> None:
        if self._write_client is not None:
            self._write_client.transport.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]

    # -- helpers ------------------------------------------------------------------------------

    def _run(self, statement: sql.Statement, page_size: int | None = None) -> Iterable[Any]:
        try:
            config = statement.config()
            return self._client.query_and_wait(statement.sql, job_config=config, page_size=page_size)
        except (api_exceptions.ServerError, api_exceptions.TooManyRequests) as exc:
            raise Unavailable(f"BigQuery is unavailable: {exc.message}") from exc


def _lookups(audit_id: str, now: datetime) -> list[sql.Span]:
    """Where to locate an event, cheapest first. Every live event lies within the longest
    retention back from today, up to tomorrow; the freshest minutes (``sql.FRESH``), which the
    search index may not have taken in yet, come last. A UUIDv7 id the server assigned was minted
    when the event was accepted, and the event's timestamp is at most the ingest skew past that,
    so its day is at most that day: looking there first leaves the newer partitions out. A client
    may choose a UUIDv7 of any time, so the rest is looked at when the event is not found there."""
    today = now.date()
    first, last = today - timedelta(days=MAX_RETENTION_DAYS), today + timedelta(days=_FUTURE_DAYS)
    oldest, newest = _midnight(first), _midnight(last + timedelta(days=1))
    fresh = now.replace(tzinfo=None) - sql.FRESH
    minted = _uuid7_time(audit_id)
    bound = None if minted is None else (minted + _LOCATOR_SKEW).date()
    if bound is None or not first <= bound < last:
        bound = last
    spans = [sql.Span(first, bound, oldest, min(fresh, _midnight(bound + timedelta(days=1))))]
    if bound < last:
        spans.append(sql.Span(bound + timedelta(days=1), last, oldest, fresh))
    spans.append(sql.Span(fresh.date(), last, fresh, newest))
    return spans


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _uuid7_time(audit_id: str) -> datetime | None:
    try:
        value = uuid.UUID(audit_id)
    except ValueError:
        return None
    if value.version != 7:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value.int >> 80)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _row(values: Any) -> Row:
    """A result row as the embedded store gives it: naive-UTC times, JSON as text."""
    row = list(values.values())
    row[_TS] = _naive(row[_TS])
    row[_CREATED] = _naive(row[_CREATED])
    return tuple(row)


def _without_copies(rows: Iterable[Row]) -> Iterator[Row]:
    """Drop copies from rows in ``sql.ORDER``: copies share the timestamp, so only the keys seen at
    the current one are remembered, and the first of each (the earliest accepted) is kept."""
    current: datetime | None = None
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if row[_TS] != current:
            current = row[_TS]
            seen.clear()
        key = (row[_TENANT], row[_ID])
        if key not in seen:
            seen.add(key)
            yield row
