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

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery
from google.cloud.bigquery_storage_v1 import BigQueryWriteClient
from google.cloud.bigquery_storage_v1 import types as write_types

from auditlog.backends.gcp.bigquery_rows import ROW_DESCRIPTOR, encode
from auditlog.errors import Unavailable
from auditlog.model.event import COLUMNS, JSON_COLUMNS, MAX_RETENTION_DAYS
from auditlog.ports.store import (
    FILTER_COLUMNS,
    SELF_AUDIT_PREFIX,
    EventQuery,
    HoldScope,
    LeafDigests,
    Row,
    WriteBatch,
    day_slices,
    epoch_us,
    json_path,
)
from auditlog.schema import load_events_schema

PARTITION_FIELD = "partition_date"
CLUSTERING_FIELDS: tuple[str, ...] = ("tenant_id", "user_id", "event_type", "timestamp")

# https://cloud.google.com/bigquery/quotas#write-api-limits: 10 MB per AppendRows request.
_MAX_APPEND_REQUEST_BYTES = 9 * 1024 * 1024
_APPEND_TIMEOUT_SECONDS = 120.0
# Timestamps may be ahead of the clock by the ingest skew (minutes), so a day past today.
_FUTURE_DAYS = 1
_NAME = re.compile(r"^[A-Za-z0-9_]{1,1024}$")

_TS = COLUMNS.index("timestamp")
_CREATED = COLUMNS.index("created_at")
_ID = COLUMNS.index("audit_id")
_TENANT = COLUMNS.index("tenant_id")

_SELECT = ", ".join(
    # TO_JSON_STRING gives compact text, as stored; the client would parse a JSON column.
    f"IF(`{c}` IS NULL, NULL, TO_JSON_STRING(`{c}`)) AS `{c}`" if c in JSON_COLUMNS else f"`{c}`"
    for c in COLUMNS
)
# Copies of one event sort together, the first accepted first: that is the version the claims and
# the integrity log kept (a copy stored before claims existed, with a later created_at, is a
# retry's second version, and reads never show it).
_ORDER = "ORDER BY `timestamp` DESC, audit_id DESC, created_at ASC"
# A filter on the partition column that admits every partition (require_partition_filter).
_ALL_DAYS = "partition_date IS NOT NULL"
_EXPIRED = "partition_date < @today AND DATE_ADD(partition_date, INTERVAL retention_period_days DAY) < @today"


def ensure_events_table(client: bigquery.Client, dataset: str, table: str) -> None:
    """Create the dataset and the events table if missing (Terraform does it on GCP)."""
    client.create_dataset(bigquery.Dataset(f"{client.project}.{_name(dataset)}"), exists_ok=True)
    events = bigquery.Table(
        f"{client.project}.{dataset}.{_name(table)}",
        schema=[bigquery.SchemaField.from_api_repr(f) for f in load_events_schema()],
    )
    events.time_partitioning = bigquery.TimePartitioning(
        type_=bigquery.TimePartitioningType.DAY, field=PARTITION_FIELD
    )
    events.clustering_fields = list(CLUSTERING_FIELDS)
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
    ) -> None:
        self._client = client
        self._table = f"`{client.project}.{_name(dataset)}.{_name(table)}`"
        self._table_id = f"{client.project}.{_name(dataset)}.{_name(table)}"
        self._stream = f"{BigQueryWriteClient.table_path(client.project, dataset, table)}/streams/_default"
        self._write_client = write_client
        self._export_slice_rows = export_slice_rows

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
        rows: list[Row] = []
        seen: set[tuple[str, str]] = set()
        after = query.after
        while len(rows) < query.limit:
            wanted = query.limit - len(rows)
            where, params = self._where(query, query.start.date(), query.end.date(), after)
            params.append(bigquery.ScalarQueryParameter("limit", "INT64", wanted))
            sql = f"SELECT {_SELECT} FROM {self._table} WHERE {where} {_ORDER} LIMIT @limit"
            raw = [_row(r) for r in self._run(sql, params)]
            for row in raw:
                key = (row[_TENANT], row[_ID])
                if key not in seen:
                    seen.add(key)
                    rows.append(row)
            if len(raw) < wanted:
                break
            # Copies of a redelivered event took some of the places; read on past them.
            after = (raw[-1][_TS], raw[-1][_ID])
        return rows

    def get(self, tenant_id: str, audit_id: str) -> Row | None:
        # Two steps, because an id says nothing about its partition and on-demand queries bill
        # every referenced column of every partition read: the probe across the lookback reads
        # three narrow columns (~60 B a row), then one partition gives the whole row, instead of
        # ~900 B a row over every live partition of the tenant (docs/CAPACITY.md, section 3).
        who = [
            bigquery.ScalarQueryParameter("tenant_id", "STRING", tenant_id),
            bigquery.ScalarQueryParameter("audit_id", "STRING", audit_id),
        ]
        where = (
            "partition_date BETWEEN @date_lo AND @date_hi AND tenant_id = @tenant_id AND audit_id = @audit_id"
        )
        days = [
            r["partition_date"]
            for r in self._run(
                f"SELECT partition_date FROM {self._table} WHERE {where} LIMIT 1", [*self._lookback(), *who]
            )
        ]
        if not days:
            return None
        day = [
            bigquery.ScalarQueryParameter("date_lo", "DATE", days[0]),
            bigquery.ScalarQueryParameter("date_hi", "DATE", days[0]),
        ]
        sql = f"SELECT {_SELECT} FROM {self._table} WHERE {where} ORDER BY created_at LIMIT 1"
        for r in self._run(sql, [*day, *who]):
            return _row(r)
        return None

    def get_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, Row]:
        # As ``get``: the partitions first (narrow columns over the lookback), then the rows of
        # those partitions only; the earliest accepted copy of each id wins.
        if not audit_ids:
            return {}
        who = [
            bigquery.ScalarQueryParameter("tenant_id", "STRING", tenant_id),
            bigquery.ArrayQueryParameter("audit_ids", "STRING", list(audit_ids)),
        ]
        where = "tenant_id = @tenant_id AND audit_id IN UNNEST(@audit_ids)"
        probe = (
            f"SELECT DISTINCT partition_date FROM {self._table} "
            f"WHERE partition_date BETWEEN @date_lo AND @date_hi AND {where}"
        )
        days = [r["partition_date"] for r in self._run(probe, [*self._lookback(), *who])]
        if not days:
            return {}
        sql = (
            f"SELECT {_SELECT} FROM {self._table} WHERE partition_date IN UNNEST(@days) AND {where} "
            "ORDER BY created_at"
        )
        found: dict[str, Row] = {}
        for r in self._run(sql, [bigquery.ArrayQueryParameter("days", "DATE", days), *who]):
            row = _row(r)
            found.setdefault(str(row[0]), row)
        return found

    def export(self, query: EventQuery, chunk_rows: int = 10_000) -> Iterator[list[Row]]:
        first, last = query.start.date(), query.end.date()
        where, params = self._where(query, first, last, query.after)
        per_day = {
            r["partition_date"]: int(r["n"])
            for r in self._run(
                f"SELECT partition_date, COUNT(*) AS n FROM {self._table} WHERE {where}"
                " GROUP BY partition_date",
                params,
            )
        }
        chunk: list[Row] = []
        for lo, hi in day_slices(per_day, first, last, self._export_slice_rows):
            where, params = self._where(query, lo, hi, query.after)
            result = self._run(
                f"SELECT {_SELECT} FROM {self._table} WHERE {where} {_ORDER}", params, page_size=chunk_rows
            )
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
        sql = f"SELECT MIN(partition_date) AS oldest FROM {self._table} WHERE {_ALL_DAYS}"
        for row in self._run(sql, []):
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
        condition = _EXPIRED
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
                f"SELECT tenant_id, COUNT(DISTINCT audit_id) AS n FROM {self._table}"
                f" WHERE {condition} GROUP BY tenant_id",
                params,
            )
        }
        if delete and counts:
            # Ingest refuses events already past their retention, so no row starts to match
            # between the count and the delete: the rows deleted are those counted, and copies.
            self._run(f"DELETE FROM {self._table} WHERE {condition}", params)
        return counts

    def ping(self) -> None:
        # Table metadata: free, unlike any query over the partitions.
        try:
            self._client.get_table(self._table_id)
        except (api_exceptions.ServerError, api_exceptions.TooManyRequests) as exc:
            raise Unavailable(f"BigQuery is unavailable: {exc.message}") from exc

    def count(self) -> int:
        sql = (
            f"SELECT COUNT(*) AS n FROM (SELECT DISTINCT tenant_id, audit_id FROM {self._table}"
            " WHERE partition_date BETWEEN @date_lo AND @date_hi)"
        )
        return next(int(r["n"]) for r in self._run(sql, self._lookback()))

    def close(self) -> None:
        if self._write_client is not None:
            self._write_client.transport.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]

    # -- helpers ------------------------------------------------------------------------------

    def _where(
        self, query: EventQuery, lo: date, hi: date, after: tuple[datetime, str] | None
    ) -> tuple[str, list[Any]]:
        clauses = [
            "tenant_id IN UNNEST(@tenants)",
            "partition_date BETWEEN @date_lo AND @date_hi",
            "`timestamp` >= @ts_from",
            "`timestamp` < @ts_to",
        ]
        params: list[Any] = [
            bigquery.ArrayQueryParameter("tenants", "STRING", list(query.tenants)),
            bigquery.ScalarQueryParameter("date_lo", "DATE", lo),
            bigquery.ScalarQueryParameter("date_hi", "DATE", hi),
            bigquery.ScalarQueryParameter("ts_from", "TIMESTAMP", query.start),
            bigquery.ScalarQueryParameter("ts_to", "TIMESTAMP", query.end),
        ]
        for i, (column, values) in enumerate(query.filters.items()):
            if column not in FILTER_COLUMNS:
                raise ValueError(f"{column!r} is not a column that can be filtered on")
            clauses.append(f"`{column}` IN UNNEST(@filter_{i})")
            params.append(bigquery.ArrayQueryParameter(f"filter_{i}", "STRING", list(values)))
        for i, (key, values) in enumerate(query.metadata.items()):
            clauses.append(f"JSON_VALUE(metadata, @metadata_path_{i}) IN UNNEST(@metadata_{i})")
            params.append(bigquery.ScalarQueryParameter(f"metadata_path_{i}", "STRING", json_path(key)))
            params.append(bigquery.ArrayQueryParameter(f"metadata_{i}", "STRING", list(values)))
        if not query.include_self_audit:
            clauses.append("NOT STARTS_WITH(event_type, @self_audit_prefix)")
            params.append(bigquery.ScalarQueryParameter("self_audit_prefix", "STRING", SELF_AUDIT_PREFIX))
        if after is not None:
            clauses.append("(`timestamp` < @after_ts OR (`timestamp` = @after_ts AND audit_id < @after_id))")
            params.append(bigquery.ScalarQueryParameter("after_ts", "TIMESTAMP", after[0]))
            params.append(bigquery.ScalarQueryParameter("after_id", "STRING", after[1]))
        return " AND ".join(clauses), params

    def _run(self, sql: str, params: Sequence[Any], page_size: int | None = None) -> Iterable[Any]:
        config = bigquery.QueryJobConfig(query_parameters=list(params))
        try:
            return self._client.query_and_wait(sql, job_config=config, page_size=page_size)
        except (api_exceptions.ServerError, api_exceptions.TooManyRequests) as exc:
            raise Unavailable(f"BigQuery is unavailable: {exc.message}") from exc

    @staticmethod
    def _lookback() -> list[bigquery.ScalarQueryParameter]:
        """``@date_lo``/``@date_hi`` spanning every live event: the longest retention back from
        today, up to tomorrow."""
        today = datetime.now(UTC).date()
        return [
            bigquery.ScalarQueryParameter("date_lo", "DATE", today - timedelta(days=MAX_RETENTION_DAYS)),
            bigquery.ScalarQueryParameter("date_hi", "DATE", today + timedelta(days=_FUTURE_DAYS)),
        ]


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a dataset or table name this store accepts")
    return name


def _row(values: Any) -> Row:
    """A result row as the embedded store gives it: naive-UTC times, JSON as text."""
    row = list(values.values())
    row[_TS] = row[_TS].astimezone(UTC).replace(tzinfo=None)
    row[_CREATED] = row[_CREATED].astimezone(UTC).replace(tzinfo=None)
    return tuple(row)


def _without_copies(rows: Iterable[Row]) -> Iterator[Row]:
    """Drop copies from rows in ``_ORDER``: copies share the timestamp, so only the keys seen at
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
