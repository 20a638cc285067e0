"""Reading events: pages, single events and exports, scoped to what the caller may read.

The HTTP app admitted the caller (capability, allowlist, limits) and records each read
(``http/rules.py``); the reader decides what depends on the data: which tenants the named ones
may be (``access.readable_tenants``), and whether the caller may see the service's own records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson

from auditlog import metrics
from auditlog.admin.policies import PolicyBook
from auditlog.auth import access
from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, InvalidInput, NotFound
from auditlog.ingest.pii import PiiProtector
from auditlog.ingest.subjects import PREFIX as SEALED_PREFIX
from auditlog.ingest.subjects import Unsealer
from auditlog.ledger.leaves import record_from_row
from auditlog.model.cursor import CursorCodec, PageCursor
from auditlog.model.event import COLUMNS
from auditlog.ports.cache import QueryCache
from auditlog.ports.store import EventQuery, EventStore, Row
from auditlog.read import rendering
from auditlog.read.query import EXPORT_PARAMS, ReadLimits, parse_query
from auditlog.read.query_cache import cache_key, cached
from auditlog.read.rendering import ExportFormat, row_to_json_object
from auditlog.read.self_audit import is_self_audit_type

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes  # the page as JSON
    events: int
    tenants: tuple[str, ...]


class Counted(Generic[T]):
    """Chunks of an export as they are sent, counting their rows and whether the stream ended."""

    def __init__(self, chunks: Iterator[tuple[int, T]]) -> None:
        self._chunks = chunks
        self.rows = 0
        self.complete = False
        self._started = time.perf_counter()

    def __iter__(self) -> Iterator[T]:
        try:
            for count, chunk in self._chunks:
                self.rows += count
                metrics.STORE_ROWS.labels("export").inc(count)
                yield chunk
            self.complete = True
        finally:
            metrics.STORE_SECONDS.labels("export").observe(time.perf_counter() - self._started)


class EventReader:
    """Pages go through the query cache. A cache key includes each tenant's generation, which
    the writer bumps after the tenant's new events become visible in the store, so a cached page
    is never served once a newer write is visible. The TTL only bounds how far an implicit window
    ("the last 30 days", ending now) may drift: short when the window ends near now, long when an
    explicit window ends in the past."""

    def __init__(
        self,
        store: EventStore,
        codec: CursorCodec,
        limits: ReadLimits,
        export_limits: ReadLimits,
        *,
        cache: QueryCache,
        live_ttl_seconds: float,
        closed_ttl_seconds: float,
        unsealer: Unsealer,
        policies: PolicyBook,
        protector: PiiProtector,
    ) -> None:
        self._unsealer = unsealer
        self._policies = policies
        self._protector = protector
        self._store = store
        self._codec = codec
        self._limits = limits
        self._export_limits = export_limits
        self._cache = cache
        self._live_ttl = live_ttl_seconds
        self._closed_ttl = closed_ttl_seconds

    def page(self, principal: Principal, params: list[tuple[str, str]], now: datetime) -> Page:
        query, digest = parse_query(
            params, principal=principal, limits=self._limits, codec=self._codec, now=now
        )
        query = self._matchable(query)
        generations = ",".join(self._cache.generations(query.tenants))
        key = cache_key(query.tenants, params, principal_scope=f"generations={generations}")
        explicit_end = any(name == "end_time" for name, _ in params)
        closed = explicit_end and query.end < now - self._limits.future_skew
        ttl = self._closed_ttl if closed else self._live_ttl

        def compute() -> bytes:
            page = self._page(query, digest)
            return len(page["events"]).to_bytes(4, "big") + orjson.dumps(page)

        value = cached(self._cache, key, ttl, compute)
        return Page(value[4:], int.from_bytes(value[:4], "big"), query.tenants)

    def _page(self, query: EventQuery, digest: str) -> dict[str, Any]:
        with _timed("query") as done:
            rows = self._store.query(replace(query, limit=query.limit + 1))
            done(len(rows))
        next_token = None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            last = rows[-1]
            next_token = self._codec.encode(PageCursor(last[_TS], last[_ID], query.start, query.end, digest))
        rows = self._unsealer.rows(rows)
        return {"events": [row_to_json_object(r) for r in rows], "next_page_token": next_token}

    def get(self, principal: Principal, tenant: str, audit_id: str) -> bytes:
        """One event of ``tenant`` (see ``tenant``) as JSON bytes.

        Cached like a page, under the tenant's generation, for the closed TTL: a stored event
        changes only by an erasure or a deletion, and both bump it. "Not found" is not cached: a
        store may answer it for a moment while an append is in flight (the BigQuery emulator
        does), and a client polling for its event would then see it for an hour. The service's
        own records are "not found" for callers who may not include them in a search (a rule on
        the data, so it is decided here, per event).
        """
        audit_id = audit_id.lower()
        (generation,) = self._cache.generations((tenant,))
        key = cache_key(
            (tenant,), [("audit_id", audit_id)], principal_scope=f"event;generations={generation}"
        )

        def compute() -> bytes:
            with _timed("get") as done:
                row = self._store.get(tenant, audit_id)
                done(0 if row is None else 1)
            if row is None:
                raise NotFound(f"no event {audit_id} in this tenant")  # nothing is cached
            kind = _SELF_AUDIT if is_self_audit_type(row[_TYPE]) else _CLIENT
            return kind + orjson.dumps(row_to_json_object(self._unsealer.rows([row])[0]))

        event: bytes = cached(self._cache, key, self._closed_ttl, compute)
        if event[:1] == _SELF_AUDIT and not access.may_see_self_audit(principal):
            raise NotFound(f"no event {audit_id} in this tenant")
        return event[1:]

    @staticmethod
    def tenant(principal: Principal, tenant_id: str | None) -> str:
        """The one tenant a single-event read touches: the caller's, or the one it named."""
        (tenant,) = access.readable_tenants(principal, [tenant_id] if tenant_id else [])
        return tenant

    def export_committed(
        self, principal: Principal, params: list[tuple[str, str]], now: datetime
    ) -> tuple[tuple[str, ...], Counted[list[dict[str, Any]]]]:
        """The tenants read and their events as the integrity log committed to them (encrypted
        fields sealed, JSON columns as text), streamed, for exports that carry a manifest."""
        query = self._export_query(principal, params, now)
        recanonicalise = self._store.reserialises_json
        chunks = (
            (len(chunk), [record_from_row(r, recanonicalise=recanonicalise) for r in chunk])
            for chunk in self._store.export(query)
        )
        return query.tenants, Counted(chunks)

    def export_rendered(
        self, principal: Principal, params: list[tuple[str, str]], now: datetime, fmt: ExportFormat
    ) -> tuple[tuple[str, ...], Counted[bytes]]:
        """The tenants read and their rows as readers see them, rendered (``rendering``), streamed."""
        query = self._export_query(principal, params, now)
        return query.tenants, Counted(self._rendered(query, fmt))

    def _export_query(self, principal: Principal, params: list[tuple[str, str]], now: datetime) -> EventQuery:
        query, _ = parse_query(
            params,
            principal=principal,
            limits=self._export_limits,
            codec=self._codec,
            now=now,
            extra_params=EXPORT_PARAMS,
        )
        if query.after is not None:
            raise InvalidInput(
                "exports are not paged", [FieldProblem("page_token", "is not accepted by export")]
            )
        return self._matchable(query)

    def _matchable(self, query: EventQuery) -> EventQuery:
        """The filters widened to every form the tenants' PII rules store a value in, so that a
        hashed field is still found by its clear value (``PiiProtector.stored_forms``)."""
        rules = [(t, self._policies.get(t).pii_rules) for t in query.tenants]
        if not any(r for _, r in rules):
            return query

        def forms(path: str, values: tuple[str, ...]) -> tuple[str, ...]:
            stored = self._protector.stored_forms
            return tuple({f: None for v in values for t, r in rules for f in stored(t, r, path, v)})

        return replace(
            query,
            filters={c: forms(c, v) for c, v in query.filters.items()},
            metadata={k: forms("metadata." + k, v) for k, v in query.metadata.items()},
        )

    def _rendered(self, query: EventQuery, fmt: ExportFormat) -> Iterator[tuple[int, bytes]]:
        """(rows, bytes) per chunk, the header with the first, so that the first piece read holds
        the store's first answer (a store error is then still an error answer, not a cut stream)."""
        pending = rendering.header(fmt)
        for rows, parts in self._store.export_rendered(query, fmt, marker=SEALED_PREFIX):
            yield rows, pending + self._joined(fmt, parts)
            pending = b""
        if pending:
            yield 0, pending

    def _joined(self, fmt: ExportFormat, parts: list[bytes | Row]) -> bytes:
        """A chunk's parts as bytes: finished lines as they are, runs of stored rows opened
        (encrypted fields) and rendered here."""
        out: list[bytes] = []
        rows: list[Row] = []
        for part in parts:
            if isinstance(part, bytes):
                if rows:
                    out.append(rendering.lines(fmt, self._unsealer.rows(rows)))
                    rows = []
                out.append(part)
            else:
                rows.append(part)
        if rows:
            out.append(rendering.lines(fmt, self._unsealer.rows(rows)))
        return b"".join(out)


@contextmanager
def _timed(operation: str) -> Iterator[Callable[[int], None]]:
    """Times a store read; the body reports how many rows it returned."""
    started = time.perf_counter()
    rows = [0]

    def done(count: int) -> None:
        rows[0] = count

    yield done
    metrics.STORE_SECONDS.labels(operation).observe(time.perf_counter() - started)
    metrics.STORE_ROWS.labels(operation).inc(rows[0])


_TS = COLUMNS.index("timestamp")
_TYPE = COLUMNS.index("event_type")
_SELF_AUDIT, _CLIENT = b"S", b"E"  # the first byte of a cached event says which it is
_ID = COLUMNS.index("audit_id")
