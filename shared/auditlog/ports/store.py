"""The event store: appends written batches, answers queries, streams exports, expires events."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, NamedTuple, Protocol

from auditlog.model.event import StoredEvent

# A stored row, in ``event.COLUMNS`` order: times as naive-UTC datetimes, JSON columns as text.
Row = tuple[Any, ...]

# Columns a reader may filter on with ``column=value`` (several values mean any of them).
FILTER_COLUMNS: tuple[str, ...] = (
    "user_id",
    "event_type",
    "resource_type",
    "resource_id",
    "action",
    "status",
    "service_name",
    "correlation_id",
    "session_id",
)


class Committed(NamedTuple):
    """A stored event as a log stream reads it: its committed record as JSON (the leaf's bytes
    without the 0x00 prefix; an engine may escape control characters as ``\u001F`` where JCS has
    ``\u001f``, the same JSON) and the columns a stream's filter looks at."""

    record: bytes
    event_type: str
    service_name: str | None
    status: str | None
    metadata: str | None  # JSON text, as stored


@dataclass(frozen=True, slots=True)
class LeafDigests:
    """A chunk of ``EventStore.leaf_digests``, by column: row i is the event ``audit_ids[i]`` of
    ``tenant_ids[i]``, created ``created_us[i]`` microseconds after the Unix epoch, whose leaf hash
    the store computed as ``digests[i]``."""

    tenant_ids: list[str]
    audit_ids: list[str]
    created_us: list[int]
    digests: list[bytes]


def epoch_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A bounded, tenant-scoped search. ``start`` is inclusive, ``end`` exclusive (naive UTC)."""

    tenants: tuple[str, ...]
    start: datetime
    end: datetime
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    metadata: dict[str, tuple[str, ...]] = field(default_factory=dict)
    after: tuple[datetime, str] | None = None  # keyset: rows strictly older than this
    limit: int = 100
    # The service's own records of reads (event_type ``auditlog.*``) are left out unless asked.
    include_self_audit: bool = False


@dataclass(frozen=True, slots=True)
class HoldScope:
    """Events a legal hold keeps from deletion: the tenant's, narrowed by every filter given
    (each a column of ``FILTER_COLUMNS`` and its values); no filters hold the whole tenant."""

    tenant_id: str
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """Events to append. ``position`` is the queue position of the last message included."""

    events: list[StoredEvent]
    position: int


class EventStore(Protocol):
    reserialises_json: bool
    """True when the store gives JSON columns back re-serialised rather than as written
    (BigQuery's JSON type); the committed record is then rebuilt from the parsed value."""

    def append(self, batch: WriteBatch) -> int:
        """Append; a batch whose events are already stored is written once. Returns rows added."""
        ...

    def applied_position(self) -> int:
        """The highest queue position whose events are durably stored (0 if none)."""
        ...

    def query(self, query: EventQuery) -> list[Row]:
        """Newest first by (timestamp, audit_id), at most ``query.limit`` rows."""
        ...

    def get(self, tenant_id: str, audit_id: str) -> Row | None: ...

    def get_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, Row]:
        """The stored rows of those of ``audit_ids`` (at most a few hundred) that exist, by id:
        one read however many (a tile's entry bundle)."""
        ...

    def committed_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, Committed]:
        """Of ``audit_ids`` (a stream's batch: thousands), those that exist, by id, each as its
        committed record's JSON: written by the engine where it can (it parses to the record
        ``record_from_row`` gives), so that a stream need not rebuild the record in Python."""
        ...

    def export(self, query: EventQuery, chunk_rows: int = 10_000) -> Iterator[list[Row]]:
        """All matching rows (``limit`` ignored), newest first, in chunks."""
        ...

    def export_rendered(
        self, query: EventQuery, fmt: Literal["json", "csv"], *, marker: str, chunk_rows: int = 10_000
    ) -> Iterator[tuple[int, list[bytes | Row]]]:
        """What ``export`` returns, rendered where the engine can: per chunk, its row count and
        its parts in order, each a run of finished lines (exactly the bytes ``rendering.lines``
        gives) or a stored row for the caller to render (a row whose text contains ``marker``,
        or every row of a store that does not render). No header."""
        ...

    def expired(
        self,
        today: date,
        *,
        delete: bool,
        holds: tuple[HoldScope, ...] = (),
        partitions: tuple[date, date] | None = None,
    ) -> dict[str, int]:
        """Per tenant, events whose partition_date + retention_period_days is before ``today``
        and that no hold covers, within ``partitions`` (first and last partition_date) when
        given; deleted when ``delete``."""
        ...

    def oldest_partition(self) -> date | None:
        """The oldest partition_date that holds events (None when empty)."""
        ...

    def leaf_digests(self, tenant_ids: list[str]) -> Iterator[LeafDigests]:
        """Every event of these tenants with its integrity leaf hash, in chunks, in no particular
        order; computed where the data is when the engine can (the verifier re-checks mismatches
        itself)."""
        ...

    def count(self) -> int: ...

    def ping(self) -> None:
        """Raise if the store cannot be reached; cheap (readiness probes call it)."""
        ...

    def close(self) -> None: ...


SELF_AUDIT_PREFIX = "auditlog."


def json_path(key: str) -> str:
    """A dotted metadata key as a JSON path, ``a.b`` → ``$."a"."b"``: each key quoted, so no key
    can change the path's meaning. Passed to the engines as a bound parameter."""
    return "$" + "".join('."' + part.replace('"', '\\"') + '"' for part in key.split("."))


def day_slices(per_day: Mapping[date, int], first: date, last: date, budget: int) -> list[tuple[date, date]]:
    """Runs of days from ``last`` down to ``first`` (or to the oldest day holding rows), newest
    first, each holding about ``budget`` rows (a single day may hold more); none when no day
    holds a row."""
    if not any(per_day.values()):
        return []
    slices: list[tuple[date, date]] = []
    hi = last
    total = 0
    for day in sorted((d for d, n in per_day.items() if n), reverse=True):
        total += per_day[day]
        if total >= budget and day > first:
            slices.append((day, hi))
            hi = day - timedelta(days=1)
            total = 0
    if total or not slices:
        slices.append((first, hi))
    return slices
