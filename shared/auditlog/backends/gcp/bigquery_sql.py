"""The events table's layout and every statement the BigQuery store runs against it.

What a statement costs on on-demand pricing follows from its text: BigQuery bills the bytes of
the **columns it references** in the **blocks it reads**, at least 10 MB per table referenced
(https://cloud.google.com/bigquery/pricing#on_demand_pricing). Blocks are left unread by three
things, each needing a predicate of a particular shape, which is why the statements are built
here, in one place, and why ``tests/unit/test_bigquery_statements.py`` asserts their shapes and
``devtools/bq_capacity.py`` prices them (docs/CAPACITY.md, section 3):

- partition pruning: a constant (a literal or a query parameter) range on ``partition_date``
  (https://cloud.google.com/bigquery/docs/querying-partitioned-tables#pruning_limiting_partitions);
- block pruning on the clustering columns, in their order: ``tenant_id``, then ``timestamp``
  (https://cloud.google.com/bigquery/docs/querying-clustered-tables): a tenant's rows of a
  day are contiguous and sorted by time, so a time range reads the blocks of that range only;
- the search index on the id-like columns (``SEARCH_INDEX_COLUMNS``, ``NO_OP_ANALYZER``): an
  equality or ``IN`` list of constants on an indexed column reads only the blocks holding the
  value (https://cloud.google.com/bigquery/docs/search#operator_and_function_optimization).
  Filters are therefore written ``column IN (@p0, @p1, ...)``, never through ``UNNEST``.

Reads are then shaped so that what they bill follows what they return:

- a page is found newest first by **probes** that reference only the narrow columns the order,
  the filters and the copies need, over **steps** of the window (the newest 15 minutes, then
  eight times wider each time, ``steps``) until the page is full, and then **fetched** whole by
  its keys from the few blocks its time span covers. ``ORDER BY ... LIMIT`` over the whole window
  would bill every block of it, all columns;
- a single event is **located** (partition day and time) through the index on ``audit_id``,
  then read from that day, at that time.

All values are query parameters; the only text spliced into SQL is column names from
``event.COLUMNS`` and ``store.FILTER_COLUMNS`` and the table's validated name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from google.cloud import bigquery

from auditlog.model.event import COLUMNS, JSON_COLUMNS
from auditlog.ports.store import FILTER_COLUMNS, SELF_AUDIT_PREFIX, EventQuery, json_path

PARTITION_FIELD = "partition_date"
# Tenant first (every read names its tenants), then time (every read is a time range, newest
# first). The seed's (tenant_id, user_id, event_type, timestamp) made a time range prune nothing
# below the tenant; user and id filters are served by the search index instead.
CLUSTERING_FIELDS: tuple[str, ...] = ("tenant_id", "timestamp")
PREVIOUS_CLUSTERING_FIELDS: tuple[str, ...] = ("tenant_id", "user_id", "event_type", "timestamp")
SEARCH_INDEX_NAME = "events_ids"
# High-cardinality columns that readers look up by value: a rare value sits in a few blocks.
SEARCH_INDEX_COLUMNS: tuple[str, ...] = ("audit_id", "user_id", "resource_id", "correlation_id", "session_id")

FIRST_STEP = timedelta(minutes=15)
# Longer than the search index takes to take in new rows (not documented; minutes): a lookup
# leaves these out first, so that it does not read them whole for an older event.
FRESH = timedelta(minutes=15)
STEP_GROWTH = 8
ONE_US = timedelta(microseconds=1)

_NAME = re.compile(r"^[A-Za-z0-9_]{1,1024}$")

SELECT_ALL = ", ".join(
    # TO_JSON_STRING gives compact text, as stored; the client would parse a JSON column.
    f"IF(`{c}` IS NULL, NULL, TO_JSON_STRING(`{c}`)) AS `{c}`" if c in JSON_COLUMNS else f"`{c}`"
    for c in COLUMNS
)
# Copies of one event sort together, the first accepted first: that is the version the claims and
# the integrity log kept (a copy stored before claims existed, with a later created_at, is a
# retry's second version, and reads never show it).
ORDER = "ORDER BY `timestamp` DESC, audit_id DESC, created_at ASC"
# A filter on the partition column that admits every partition (require_partition_filter).
ALL_DAYS = "partition_date IS NOT NULL"
EXPIRED = "partition_date < @today AND DATE_ADD(partition_date, INTERVAL retention_period_days DAY) < @today"


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement and its parameters, as the store sends it."""

    sql: str
    params: list[Any] = field(default_factory=list)

    def config(self) -> bigquery.QueryJobConfig:
        return bigquery.QueryJobConfig(query_parameters=list(self.params))


def checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a dataset or table name this store accepts")
    return name


def search_index_ddl(table: str) -> str:
    """The search index over the id-like columns; ``table`` is ``project.dataset.table``.
    Terraform runs it once (terraform/modules/platform/bigquery.tf); the emulator has none."""
    columns = ", ".join(SEARCH_INDEX_COLUMNS)
    return (
        f"CREATE SEARCH INDEX IF NOT EXISTS `{SEARCH_INDEX_NAME}` ON `{table}` ({columns}) "
        "OPTIONS (analyzer = 'NO_OP_ANALYZER')"
    )


def steps(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """``[lo, hi)`` ranges from ``end`` back to ``start``, newest first: ``FIRST_STEP``, then each
    ``STEP_GROWTH`` times wider (15 min, 2 h, 16 h, 5.3 d, 43 d, 341 d, ...)."""
    hi, width = end, FIRST_STEP
    while hi > start:
        lo = max(start, hi - width)
        yield lo, hi
        hi, width = lo, width * STEP_GROWTH


def _in_list(column: str, name: str, values: Sequence[str]) -> tuple[str, list[Any]]:
    """``column IN (@name_0, ...)``: a list of constants, which the search index can prune with."""
    names = [f"{name}_{j}" for j in range(len(values))]
    clause = f"`{column}` IN ({', '.join('@' + n for n in names)})"
    return clause, [bigquery.ScalarQueryParameter(n, "STRING", v) for n, v in zip(names, values, strict=True)]


def check(query: EventQuery) -> None:
    """Refuse a filter on a column outside ``FILTER_COLUMNS`` before any SQL is built."""
    for column in query.filters:
        if column not in FILTER_COLUMNS:
            raise ValueError(f"{column!r} is not a column that can be filtered on")


def where(
    query: EventQuery, lo: datetime, hi: datetime, after: tuple[datetime, str] | None
) -> tuple[str, list[Any]]:
    """The conditions of ``query`` within ``[lo, hi)`` (inside its own window), past ``after``:
    the partitions of that range, the tenants, the time range, the filters."""
    lo, hi = max(lo, query.start), min(hi, query.end)
    clauses = [
        "tenant_id IN UNNEST(@tenants)",
        "partition_date BETWEEN @date_lo AND @date_hi",
        "`timestamp` >= @ts_from",
        "`timestamp` < @ts_to",
    ]
    params: list[Any] = [
        bigquery.ArrayQueryParameter("tenants", "STRING", list(query.tenants)),
        bigquery.ScalarQueryParameter("date_lo", "DATE", lo.date()),
        bigquery.ScalarQueryParameter("date_hi", "DATE", max(lo, hi - ONE_US).date()),
        bigquery.ScalarQueryParameter("ts_from", "TIMESTAMP", lo),
        bigquery.ScalarQueryParameter("ts_to", "TIMESTAMP", hi),
    ]
    check(query)
    for i, (column, values) in enumerate(query.filters.items()):
        clause, more = _in_list(column, f"filter_{i}", values)
        clauses.append(clause)
        params += more
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


def probe(
    table: str, query: EventQuery, lo: datetime, hi: datetime, after: tuple[datetime, str] | None, limit: int
) -> Statement:
    """The keys of the newest ``limit`` events in ``[lo, hi)``, copies folded into one: only the
    narrow columns the order and the filters name are referenced."""
    conditions, params = where(query, lo, hi, after)
    params.append(bigquery.ScalarQueryParameter("limit", "INT64", limit))
    sql = (
        f"SELECT tenant_id, `timestamp`, audit_id FROM {table} WHERE {conditions}"
        " GROUP BY tenant_id, `timestamp`, audit_id ORDER BY `timestamp` DESC, audit_id DESC LIMIT @limit"
    )
    return Statement(sql, params)


def fetch(table: str, keys: Sequence[tuple[str, datetime, str]]) -> Statement:
    """Every copy of the events ``keys`` (tenant, timestamp, audit_id) names, whole, in ``ORDER``:
    from the partitions and the time span the keys cover (block pruning), by id (the index)."""
    tenants = sorted({k[0] for k in keys})
    first, last = min(k[1] for k in keys), max(k[1] for k in keys)
    ids = sorted({k[2] for k in keys})
    id_clause, id_params = _in_list("audit_id", "id", ids)
    sql = (
        f"SELECT {SELECT_ALL} FROM {table} WHERE tenant_id IN UNNEST(@tenants)"
        " AND partition_date BETWEEN @date_lo AND @date_hi"
        f" AND `timestamp` BETWEEN @ts_first AND @ts_last AND {id_clause} {ORDER}"
    )
    return Statement(
        sql,
        [
            bigquery.ArrayQueryParameter("tenants", "STRING", tenants),
            bigquery.ScalarQueryParameter("date_lo", "DATE", first.date()),
            bigquery.ScalarQueryParameter("date_hi", "DATE", last.date()),
            bigquery.ScalarQueryParameter("ts_first", "TIMESTAMP", first),
            bigquery.ScalarQueryParameter("ts_last", "TIMESTAMP", last),
            *id_params,
        ],
    )


def _one(tenant_id: str, audit_id: str, first: date, last: date) -> list[Any]:
    return [
        bigquery.ScalarQueryParameter("date_lo", "DATE", first),
        bigquery.ScalarQueryParameter("date_hi", "DATE", last),
        bigquery.ScalarQueryParameter("tenant_id", "STRING", tenant_id),
        bigquery.ScalarQueryParameter("audit_id", "STRING", audit_id),
    ]


_ONE = "partition_date BETWEEN @date_lo AND @date_hi AND tenant_id = @tenant_id AND audit_id = @audit_id"


@dataclass(frozen=True, slots=True)
class Span:
    """Where ``locate`` looks: partition days ``first..last``, timestamps ``[since, until)``."""

    first: date
    last: date
    since: datetime
    until: datetime


def locate(table: str, tenant_id: str, audit_id: str, span: Span) -> Statement:
    """The day and time of the first accepted copy of an event, looked for in ``span`` through
    the search index on ``audit_id``: narrow columns of the blocks holding the id. Rows the index
    has not taken in yet are read whole (as clustering prunes them), so the freshest minutes are
    a span of their own (``FRESH``), looked at last."""
    sql = (
        f"SELECT partition_date, `timestamp` FROM {table} WHERE {_ONE}"
        " AND `timestamp` >= @ts_from AND `timestamp` < @ts_to ORDER BY created_at LIMIT 1"
    )
    params = [
        *_one(tenant_id, audit_id, span.first, span.last),
        bigquery.ScalarQueryParameter("ts_from", "TIMESTAMP", span.since),
        bigquery.ScalarQueryParameter("ts_to", "TIMESTAMP", span.until),
    ]
    return Statement(sql, params)


def fetch_one(table: str, tenant_id: str, audit_id: str, day: date, moment: datetime) -> Statement:
    """The located event, whole: one partition, the blocks at one moment of the tenant."""
    sql = (
        f"SELECT {SELECT_ALL} FROM {table} WHERE {_ONE} AND `timestamp` = @ts"
        " ORDER BY created_at LIMIT 1"
    )
    params = [*_one(tenant_id, audit_id, day, day), bigquery.ScalarQueryParameter("ts", "TIMESTAMP", moment)]
    return Statement(sql, params)


def day_counts(table: str, query: EventQuery) -> Statement:
    """Rows per partition day of an export's window (the narrow columns its filters name)."""
    conditions, params = where(query, query.start, query.end, query.after)
    return Statement(
        f"SELECT partition_date, COUNT(*) AS n FROM {table} WHERE {conditions} GROUP BY partition_date",
        params,
    )


def export_slice(table: str, query: EventQuery, first: date, last: date) -> Statement:
    """One run of days of an export, whole rows in ``ORDER``: the blocks of the tenants' rows in
    those partitions, which is what the export returns."""
    lo = max(query.start, datetime.combine(first, datetime.min.time()))
    hi = min(query.end, datetime.combine(last + timedelta(days=1), datetime.min.time()))
    conditions, params = where(query, lo, hi, query.after)
    return Statement(f"SELECT {SELECT_ALL} FROM {table} WHERE {conditions} {ORDER}", params)


def locate_many(table: str, tenant_id: str, audit_ids: Sequence[str], first: date, last: date) -> Statement:
    """The partition days holding any of ``audit_ids`` (through the index on ``audit_id``)."""
    id_clause, id_params = _in_list("audit_id", "id", audit_ids)
    sql = (
        f"SELECT DISTINCT partition_date FROM {table} WHERE partition_date BETWEEN @date_lo AND @date_hi"
        f" AND tenant_id = @tenant_id AND {id_clause}"
    )
    return Statement(
        sql,
        [
            bigquery.ScalarQueryParameter("date_lo", "DATE", first),
            bigquery.ScalarQueryParameter("date_hi", "DATE", last),
            bigquery.ScalarQueryParameter("tenant_id", "STRING", tenant_id),
            *id_params,
        ],
    )


def fetch_many(table: str, tenant_id: str, audit_ids: Sequence[str], days: Sequence[date]) -> Statement:
    """The events ``audit_ids`` whole, from the partitions ``locate_many`` found, earliest copy first."""
    id_clause, id_params = _in_list("audit_id", "id", audit_ids)
    sql = (
        f"SELECT {SELECT_ALL} FROM {table} WHERE partition_date IN UNNEST(@days)"
        f" AND tenant_id = @tenant_id AND {id_clause} ORDER BY created_at"
    )
    return Statement(
        sql,
        [
            bigquery.ArrayQueryParameter("days", "DATE", list(days)),
            bigquery.ScalarQueryParameter("tenant_id", "STRING", tenant_id),
            *id_params,
        ],
    )
