"""The capacity model of BigQuery reads, executable: docs/CAPACITY.md section 3 is its output.

``python -m devtools.bq_capacity`` prints the tables; ``--write`` puts them into
docs/CAPACITY.md between the ``capacity-model`` markers; ``--check`` exits 1 when the document
holds other tables than the model gives (tests/unit/test_bq_capacity.py runs it).

How the figures are made. ``BigQueryEventStore`` runs as it does in production, against a
``ModelClient`` instead of BigQuery: every statement the store sends (its own SQL and
parameters, built by ``bigquery_sql.py``) is priced by ``price`` from the table layout and the
data distribution below, and answered with synthetic rows shaped by the same distribution, so the
store's own control flow (probe steps until the page is full, the fetch, the locator's ranges,
the export's slices) decides which statements run. "Before" prices the statements of the store
as it was (``_legacy_*``, copied from it) on the layout it had.

Billing rules applied (on-demand):
- the bytes of the columns a statement references, in the blocks it reads, at least 10 MB per
  table referenced (https://cloud.google.com/bigquery/pricing#on_demand_pricing); a column's
  bytes are its logical size: STRING 2 B + UTF-8 length, INT64/TIMESTAMP/DATE 8 B, JSON as text
  (https://cloud.google.com/bigquery/pricing#data; JSON as text is an *assumption*);
- partitions: only those a constant range on ``partition_date`` admits
  (https://cloud.google.com/bigquery/docs/querying-partitioned-tables);
- blocks: within a partition rows are sorted by the clustering columns; a filter on a prefix of
  them (``tenant_id``, then the next) reads the blocks holding that range only; a filter on a
  later column alone prunes nothing (https://cloud.google.com/bigquery/docs/querying-clustered-tables);
  ``ORDER BY ... LIMIT`` prunes nothing;
- search index: an equality or ``IN`` list of constants on an indexed column reads only blocks
  holding a matching value (https://cloud.google.com/bigquery/docs/search#operator_and_function_optimization);
  rows not yet indexed are read in full (https://cloud.google.com/bigquery/docs/search says
  results cover unindexed data; how long indexing lags is not documented: ``INDEX_LAG``).

Assumptions, stated because no source gives them: blocks of ``BLOCK_BYTES`` logical bytes (the
docs say only that blocks are "adaptively sized based on the size of the table" and that
partitions under 64 MB gain little from clustering); partitions fully clustered (automatic
re-clustering keeps up); rows spread evenly over the day; ``INDEX_LAG`` of unindexed data.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from google.cloud import bigquery
from google.cloud.bigquery.table import Row as BigQueryRow

from auditlog.backends.gcp import bigquery_sql
from auditlog.backends.gcp.bigquery_store import BigQueryEventStore
from auditlog.model.event import COLUMNS, MAX_RETENTION_DAYS
from auditlog.ports.store import EventQuery

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "CAPACITY.md"
BEGIN, END = "<!-- capacity-model:begin -->", "<!-- capacity-model:end -->"

# Mean logical bytes per column, measured on 20,000 events of bench/generate.py (seed 1).
COLUMN_BYTES: dict[str, float] = {
    "audit_id": 38.0, "timestamp": 8.0, "event_type": 14.5, "user_id": 15.0, "session_id": 23.0,
    "ip_address": 14.7, "user_agent": 62.2, "resource_type": 7.4, "resource_id": 13.4,
    "action": 8.1, "status": 9.0, "request_data": 316.3, "response_data": 124.6, "metadata": 175.6,
    "tenant_id": 11.0, "service_name": 10.0, "correlation_id": 27.0, "retention_period_days": 8.0,
    "created_at": 8.0, "partition_date": 8.0,
}  # fmt: skip
ROW_BYTES = sum(COLUMN_BYTES.values())
MB, GIB, TIB = 1024**2, 1024**3, 1024**4
MIN_BILLED = 10 * MB
PRICE_PER_TIB = 6.25  # on-demand, USD (section 7: *unverified*)
BLOCK_BYTES = 64 * MB  # *assumption*: see the module docstring
INDEX_LAG = timedelta(minutes=10)  # *assumption*: data this young is not yet in the index
LIVE_DAYS = 90  # steady state of the default retention
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # noon: a 24 h window spans two partitions
SKEW = timedelta(minutes=5)  # the reader's window ends this far past now (future skew)
# Editions (capacity) pricing, pay as you go, USD per slot-hour (*unverified*: not found in an
# official copy; https://gist.github.com/nadavwn/c5c65d0b7a7e3d70ce61fb321a880afa uses 0.04).
STANDARD_SLOT_HOUR = 0.04


@dataclass(frozen=True)
class Layout:
    name: str
    clustering: tuple[str, ...]
    indexed: tuple[str, ...]


BEFORE = Layout("before", bigquery_sql.PREVIOUS_CLUSTERING_FIELDS, ())
AFTER = Layout("after", bigquery_sql.CLUSTERING_FIELDS, bigquery_sql.SEARCH_INDEX_COLUMNS)


@dataclass(frozen=True)
class Data:
    """The table: ``per_day`` events a day, the read tenant holding ``share`` of them; within the
    tenant, ``filter_share`` is the share of its events each filtered column's value holds (a
    share of 0 means a handful: ``rare_rows`` events in the window)."""

    per_day: float
    share: float
    filter_share: dict[str, float] = field(default_factory=dict)
    rare_rows: int = 20
    block_bytes: float = BLOCK_BYTES
    event_at: datetime = NOW - timedelta(days=45)  # the event a get asks for

    @property
    def rows_per_block(self) -> float:
        return self.block_bytes / ROW_BYTES

    def value_share(self, column: str) -> float:
        """The share of the tenant's events the filter on ``column`` matches (1 when unknown)."""
        share = self.filter_share.get(column, 1.0)
        return share if share > 0 else self.rare_rows / (self.per_day * self.share * 30)

    def tenant_rate(self) -> float:
        """The tenant's events per second."""
        return self.per_day * self.share / 86_400


def _params(config: bigquery.QueryJobConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in config.query_parameters:
        out[p.name] = p.values if isinstance(p, bigquery.ArrayQueryParameter) else p.value
    return out


def referenced(sql: str) -> set[str]:
    """The table columns a statement names (parameters and the table name left out)."""
    text = re.sub(r"@\w+|`[\w-]+\.[\w-]+\.[\w-]+`", " ", sql)
    return set(re.findall(r"\b[a-z_]+\b", text)) & set(COLUMNS)


def _filtered(sql: str) -> dict[str, int]:
    """Columns filtered with ``= @p`` or ``IN (@p, ...)`` or ``IN UNNEST(@p)``: how many values."""
    found: dict[str, int] = {}
    for column, values in re.findall(r"`?(\w+)`? IN \(((?:@\w+(?:, )?)+)\)", sql):
        found[column] = values.count("@")
    for column in re.findall(r"`?(\w+)`? IN UNNEST\(@\w+\)", sql):
        found.setdefault(column, 1)
    for column in re.findall(r"`?(\w+)`? = @\w+", sql):
        found.setdefault(column, 1)
    return found


def _time_range(sql: str, p: dict[str, Any]) -> tuple[datetime, datetime] | None:
    def utc(value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    lo, hi = None, None
    if "@ts_from" in sql:
        lo, hi = utc(p["ts_from"]), utc(p["ts_to"])
    if "@ts_first" in sql:
        lo, hi = utc(p["ts_first"]), utc(p["ts_last"]) + bigquery_sql.ONE_US
    if "`timestamp` = @ts" in sql:
        lo = utc(p["ts"])
        hi = lo + bigquery_sql.ONE_US
    if "@after_ts" in sql and hi is not None:
        hi = min(hi, utc(p["after_ts"]) + bigquery_sql.ONE_US)
    return (lo, hi) if lo is not None and hi is not None else None


def _days(sql: str, p: dict[str, Any]) -> list[date]:
    live = [(NOW - timedelta(days=i)).date() for i in range(LIVE_DAYS)]
    if "BETWEEN @date_lo AND @date_hi" in sql:
        return [d for d in live if p["date_lo"] <= d <= p["date_hi"]]
    if "< @today" in sql:
        return [d for d in live if d < p["today"]]
    return live


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> float:
    return max(0.0, (min(a[1], b[1]) - max(a[0], b[0])).total_seconds())


def _clip(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    return max(a[0], b[0]), max(max(a[0], b[0]), min(a[1], b[1]))


def price(sql: str, p: dict[str, Any], data: Data, layout: Layout) -> float:
    """Bytes billed for one statement."""
    refs = referenced(sql)
    width = sum(COLUMN_BYTES[c] for c in COLUMNS if c in refs)  # in a fixed order: sums repeat exactly
    filtered = _filtered(sql)
    span = _time_range(sql, p)
    rpb = data.rows_per_block
    indexed = [c for c in filtered if c in layout.indexed]
    scanned = 0.0
    for day in _days(sql, p):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        day_range = (start, start + timedelta(days=1))
        partition = data.per_day
        rows = partition * data.share if "tenant_id" in filtered else partition
        pruned = rows
        for column in layout.clustering[1:]:  # the clustering prefix after the tenant
            if column == "timestamp" and span is not None:
                pruned *= _overlap(span, day_range) / 86_400
            elif column in filtered and column in data.filter_share:
                pruned *= data.value_share(column)
                continue
            break
        blocks = math.ceil(pruned / rpb) + (1 if pruned < rows else 0) if pruned > 0 else 0
        if indexed and blocks:
            blocks = min(blocks, _index_blocks(sql, p, indexed, data, pruned, day_range))
        read = min(blocks * rpb, partition)
        if indexed:  # rows not indexed yet are read as clustering prunes them
            window = _clip(span, day_range) if span is not None else day_range
            read += data.tenant_rate() * _overlap(window, (NOW - INDEX_LAG, NOW))
        scanned += read
    return max(MIN_BILLED, scanned * width)


def _index_blocks(
    sql: str, p: dict[str, Any], indexed: list[str], data: Data, rows: float, day: tuple[datetime, datetime]
) -> float:
    """Blocks of this day holding a value an indexed filter asks for, among ``rows`` rows of the
    tenant that clustering left."""
    if "@id_" in sql:  # a page's fetch: the ids spread over the keys' time span
        span = _time_range(sql, p)
        assert span is not None
        ids = sum(1 for k in p if k.startswith("id_"))
        return math.ceil(ids * _overlap(span, day) / max(1e-6, (span[1] - span[0]).total_seconds()))
    if "audit_id" in indexed:  # one event: one block, on its day, if the span holds it
        span = _time_range(sql, p) or day
        return 1 if day[0] <= data.event_at < day[1] and span[0] <= data.event_at < span[1] else 0
    share = min(data.value_share(c) for c in indexed)
    per_block = min(data.rows_per_block, rows)
    return math.ceil(rows / data.rows_per_block) * (1 - (1 - min(share, 1.0)) ** per_block)


# -- the synthetic table the store reads ---------------------------------------------------------


class ModelClient:
    """Stands in for ``bigquery.Client``: prices each statement and answers it from the model."""

    project = "model"

    def __init__(self, data: Data, layout: Layout) -> None:
        self.data, self.layout = data, layout
        self.billed: list[float] = []
        self.statements: list[str] = []
        self._keys: dict[str, datetime] = {}

    def query_and_wait(self, sql: str, *, job_config: bigquery.QueryJobConfig, **_: Any) -> list[Any]:
        p = _params(job_config)
        self.statements.append(sql)
        self.billed.append(price(sql, p, self.data, self.layout))
        return self._answer(sql, p)

    def _answer(self, sql: str, p: dict[str, Any]) -> list[Any]:
        if sql.startswith("SELECT tenant_id, `timestamp`, audit_id"):
            return self._probe(sql, p)
        if sql.startswith("SELECT partition_date, `timestamp`"):
            at = self.data.event_at
            span = _time_range(sql, p)
            if span is not None and not span[0] <= at < span[1]:
                return []
            return [BigQueryRow((at.date(), at), {"partition_date": 0, "timestamp": 1})]
        if "GROUP BY partition_date" in sql:
            days = _days(sql, p)
            matches = self.data.per_day * self.data.share * _match_share(sql, self.data)
            return [BigQueryRow((d, int(matches)), {"partition_date": 0, "n": 1}) for d in days]
        if "@id_" in sql:
            return [_row(p["tenants"][0], self._keys[i], i) for k, i in p.items() if k.startswith("id_")]
        if "`timestamp` = @ts" in sql:
            return [_row(p["tenant_id"], p["ts"], p["audit_id"])]
        return []

    def _probe(self, sql: str, p: dict[str, Any]) -> list[Any]:
        span = _time_range(sql, p)
        assert span is not None
        rate = self.data.tenant_rate() * _match_share(sql, self.data)
        if rate <= 0:
            return []
        seconds = (span[1] - span[0]).total_seconds()
        count = min(int(p["limit"]), int(rate * seconds))
        out = []
        for k in range(count):
            moment = span[1] - timedelta(seconds=(k + 1) / rate)
            audit_id = str(uuid.UUID(int=len(self._keys) + 1))
            self._keys[audit_id] = moment
            out.append(
                BigQueryRow(
                    (p["tenants"][0], moment, audit_id), {"tenant_id": 0, "timestamp": 1, "audit_id": 2}
                )
            )
        return out

    def close(self) -> None:
        pass


def _match_share(sql: str, data: Data) -> float:
    share = 1.0
    for column in _filtered(sql):
        if column not in ("tenant_id", "audit_id"):
            share *= data.value_share(column)
    return share


def _row(tenant: str, moment: datetime, audit_id: str) -> BigQueryRow:
    values = {c: None for c in COLUMNS} | {
        "tenant_id": tenant,
        "timestamp": moment,
        "audit_id": audit_id,
        "created_at": moment,
    }
    return BigQueryRow(tuple(values.values()), {c: i for i, c in enumerate(COLUMNS)})


# -- the store as it was (before this issue), for the "before" figures ----------------------------


def _legacy_page(client: ModelClient, query: EventQuery) -> None:
    """One ``ORDER BY ... LIMIT`` over the whole window, every column (the store until issue 25)."""
    conditions, params = bigquery_sql.where(query, query.start, query.end, query.after)
    params.append(bigquery.ScalarQueryParameter("limit", "INT64", query.limit))
    select = f"SELECT {bigquery_sql.SELECT_ALL} FROM `m.d.events`"
    sql = f"{select} WHERE {conditions} {bigquery_sql.ORDER} LIMIT @limit"
    client.query_and_wait(sql, job_config=bigquery.QueryJobConfig(query_parameters=params))


def _legacy_get(client: ModelClient, tenant: str, audit_id: str) -> None:
    """The probe for the day over the whole lookback (three narrow columns), then that day whole."""
    today = NOW.date()
    one = "partition_date BETWEEN @date_lo AND @date_hi AND tenant_id = @tenant_id AND audit_id = @audit_id"

    def run(sql: str, first: date, last: date) -> None:
        params = [
            bigquery.ScalarQueryParameter("date_lo", "DATE", first),
            bigquery.ScalarQueryParameter("date_hi", "DATE", last),
            bigquery.ScalarQueryParameter("tenant_id", "STRING", tenant),
            bigquery.ScalarQueryParameter("audit_id", "STRING", audit_id),
        ]
        client.query_and_wait(sql, job_config=bigquery.QueryJobConfig(query_parameters=params))

    run(
        f"SELECT partition_date FROM `m.d.events` WHERE {one} LIMIT 1",
        today - timedelta(days=MAX_RETENTION_DAYS),
        today + timedelta(days=1),
    )
    day = client.data.event_at.date()
    run(
        f"SELECT {bigquery_sql.SELECT_ALL} FROM `m.d.events` WHERE {one} ORDER BY created_at LIMIT 1",
        day,
        day,
    )


# -- scenarios -----------------------------------------------------------------------------------

TENANT = "t"
PAGE = 101  # the reader asks one more than the default page of 100, to know whether more follow


@dataclass(frozen=True)
class Read:
    name: str
    kind: str  # page, get, export
    window: timedelta = timedelta(days=30)
    filters: dict[str, float] = field(default_factory=dict)
    per_day_load: int = 0  # how many a day in the light read load of section 3
    target: str = ""


READS = (
    Read("newest page, 24 h", "page", timedelta(hours=24), per_day_load=1000, target="≤ 5 GiB"),
    Read(
        "tenant + user, 30 d (the user holds 1 % of the tenant's events)",
        "page",
        filters={"user_id": 0.01},
        per_day_load=100,
        target="≤ 10 GiB",
    ),
    Read("tenant + rare user, 30 d (20 events)", "page", filters={"user_id": 0.0}),
    Read(
        "tenant + event_type + status, 90 d (1/30 of the tenant, status 5 %)",
        "page",
        timedelta(days=90),
        {"event_type": 1 / 30, "status": 0.05},
        per_day_load=10,
        target="≤ 200 GiB",
    ),
    Read(
        "get by id (a client-chosen id, the event 45 days old)", "get", per_day_load=1000, target="≤ 100 MB"
    ),
    Read("get by id (a server-assigned UUIDv7, the event 45 days old)", "get"),
    Read("get by id (a client-chosen id, the event accepted 2 minutes ago)", "get"),
    Read("full-tenant export, 90 d", "export", timedelta(days=90), per_day_load=1, target="∝ rows"),
)
VOLUMES = ((0.01, 1e6), (0.01, 1e8), (0.01, 1e9), (0.30, 1e9))


def billed(
    read: Read, layout: Layout, share: float, per_day: float, block_bytes: float = BLOCK_BYTES
) -> float:
    """Bytes billed by one read of ``read`` of a tenant with ``share`` of ``per_day`` events."""
    fresh = "2 minutes" in read.name
    at = NOW - (timedelta(minutes=2) if fresh else timedelta(days=45))
    data = Data(per_day, share, dict(read.filters), block_bytes=block_bytes, event_at=at)
    client = ModelClient(data, layout)
    store = BigQueryEventStore(client, "d", "events", clock=lambda: NOW)  # type: ignore[arg-type]
    end = (NOW + SKEW).replace(tzinfo=None)
    query = EventQuery(
        tenants=(TENANT,), start=end - read.window, end=end,
        filters={c: ("v",) for c in read.filters}, limit=PAGE,
    )  # fmt: skip
    if read.kind == "page":
        _legacy_page(client, query) if layout is BEFORE else store.query(query)
    elif read.kind == "get":
        audit_id = _uuid7(at) if "UUIDv7" in read.name else str(uuid.UUID(int=7, version=4))
        _legacy_get(client, TENANT, audit_id) if layout is BEFORE else store.get(TENANT, audit_id)
    else:
        for _ in store.export(replace(query, limit=0)):
            pass
    return sum(client.billed)


def _uuid7(moment: datetime) -> str:
    """A UUIDv7 minted at ``moment`` (what ingest assigns when the client sends no id)."""
    ms = int(moment.timestamp() * 1000)
    return str(uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62) | 1))


# -- the report ----------------------------------------------------------------------------------


def human(n: float) -> str:
    if n < GIB:
        return f"{n / MB:,.0f} MB"
    if n < TIB:
        return f"{n / GIB:,.1f} GiB" if n < 100 * GIB else f"{n / GIB:,.0f} GiB"
    return f"{n / TIB:,.1f} TiB"


def dollars(n: float) -> str:
    if n < 1:
        return f"${n:.3f}"
    return f"${n:,.2f}" if n < 100 else f"${n:,.0f}"


def cost(n: float) -> float:
    return n / TIB * PRICE_PER_TIB


@dataclass(frozen=True)
class Figures:
    """Bytes billed per read, per layout, per volume (``VOLUMES``)."""

    bytes: dict[tuple[str, str], list[float]]

    def load(self, layout: Layout, volume: int) -> float:
        """Dollars a day of the light read load on a tenant of ``VOLUMES[volume]``."""
        return sum(cost(self.bytes[(r.name, layout.name)][volume]) * r.per_day_load for r in READS)


def figures() -> Figures:
    return Figures(
        {
            (r.name, lay.name): [billed(r, lay, s, e) for s, e in VOLUMES]
            for r in READS
            for lay in (BEFORE, AFTER)
        }
    )


def report(f: Figures) -> str:
    out = [
        "| query | 1 % tenant at 1M / 100M / 1B per day, before → after "
        "| 30 % tenant at 1B/day, before → after | target (30 % at 1B) |",
        "|---|---|---|---|",
    ]
    for r in READS:
        before, after = f.bytes[(r.name, BEFORE.name)], f.bytes[(r.name, AFTER.name)]
        small = " / ".join(f"{human(b)} → {human(a)}" for b, a in zip(before[:3], after[:3], strict=True))
        big = (
            f"{human(before[3])} ({dollars(cost(before[3]))}) → {human(after[3])} ({dollars(cost(after[3]))})"
        )
        out.append(f"| {r.name} | {small} | {big} | {r.target} |")
    rows = LIVE_DAYS * VOLUMES[3][0] * VOLUMES[3][1]
    export = f.bytes[("full-tenant export, 90 d", AFTER.name)][3]
    out += [
        "",
        f"The export bills {export / rows:,.0f} B per row it returns (a row is {ROW_BYTES:,.0f} B; the rest "
        "is the per-day count and the blocks at the edges of its slices): in proportion to the rows.",
        "",
        "Light read load per day on 1 % tenants (1,000 newest pages, 100 user queries, 10 event-type "
        "queries, 1,000 gets by id, 1 full export):",
        "",
        "| | 1M/day | 100M/day | 1B/day |",
        "|---|---|---|---|",
    ]
    for layout in (BEFORE, AFTER):
        out.append(f"| {layout.name} | " + " | ".join(dollars(f.load(layout, v)) for v in range(3)) + " |")
    out += ["", *break_even(f), "", *sensitivity()]
    return "\n".join(out)


def break_even(f: Figures) -> list[str]:
    """When a reservation (BigQuery editions, pay as you go) costs less than on-demand bytes."""
    lines = [
        "Capacity pricing (BigQuery editions, Standard, pay as you go at "
        f"${STANDARD_SLOT_HOUR}/slot-hour, *unverified*): a reservation of N slots costs "
        f"N x 24 x ${STANDARD_SLOT_HOUR} a day whatever it scans, so it is cheaper once the project's "
        "on-demand query bill passes that:",
        "",
        "| baseline slots | per day | on-demand equivalent "
        "| light loads of 1 % tenants at 1B/day it equals (after) |",
        "|---|---|---|---|",
    ]
    per_load = f.load(AFTER, 2)
    for slots in (50, 100, 500):
        daily = slots * 24 * STANDARD_SLOT_HOUR
        lines.append(
            f"| {slots} | {dollars(daily)} | {daily / PRICE_PER_TIB:,.1f} TiB scanned a day "
            f"| {daily / per_load:,.0f} |"
        )
    lines += [
        "",
        "Whether N slots finish the work in time is not modelled (slot-milliseconds per byte depend on "
        "the query); `bigquery_editions` in terraform/variables.tf switches the project to a reservation.",
    ]
    return lines


def sensitivity() -> list[str]:
    """How the 30 % tenant's figures move with the two assumptions no source gives."""
    get, page = READS[4], READS[0]
    lines = [
        f"Assumptions: blocks of {BLOCK_BYTES // MB} MB, the index {INDEX_LAG.seconds // 60} minutes behind "
        f"the writes, rows evenly spread over the day. With blocks of {4 * BLOCK_BYTES // MB} MB a get "
        f"by id on the 30 % tenant at 1B/day bills {human(billed(get, AFTER, 0.3, 1e9, 4 * BLOCK_BYTES))} "
        f"and the newest page {human(billed(page, AFTER, 0.3, 1e9, 4 * BLOCK_BYTES))}.",
    ]
    return lines


def render_document(text: str, tables: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{tables}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the tables into docs/CAPACITY.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/CAPACITY.md is stale")
    args = parser.parse_args(argv)
    tables = report(figures())
    if not (args.write or args.check):
        print(tables)
        return 0
    text = DOC.read_text()
    wanted = render_document(text, tables)
    if args.write:
        DOC.write_text(wanted)
    elif args.check and wanted != text:
        print("docs/CAPACITY.md is stale: run python -m devtools.bq_capacity --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
