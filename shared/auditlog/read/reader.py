"""Reading events: query-string parsing into a bounded ``EventQuery``, pages, get, export."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson

from auditlog import metrics
from auditlog.auth import access
from auditlog.auth.access import Capability
from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, Forbidden, InvalidInput, NotFound
from auditlog.ingest.subjects import PREFIX as SEALED_PREFIX
from auditlog.ingest.subjects import Unsealer
from auditlog.model.cursor import CursorCodec, PageCursor, filter_digest
from auditlog.model.event import COLUMNS, is_uuid, parse_rfc3339
from auditlog.ports.cache import QueryCache
from auditlog.ports.store import FILTER_COLUMNS, EventQuery, EventStore, RendersExports, Row
from auditlog.read import rendering
from auditlog.read.query_cache import cache_key, cached
from auditlog.read.rendering import ExportFormat, row_to_json_object
from auditlog.read.self_audit import RequestContext, SelfAudit

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_VALUES_PER_FILTER = 100
MAX_VALUE_LENGTH = 512
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$")
_PAGE_SIZE = re.compile(r"[0-9]{1,4}")
_WINDOW_PARAMS = ("start_time", "end_time", "include_self_audit")
_PAGING_PARAMS = ("page_size", "page_token")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ReadLimits:
    default_window: timedelta
    max_window: timedelta
    future_skew: timedelta


def _single(params: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in params if k == name]
    if len(values) > 1:
        raise InvalidInput(f"{name} may be given once", [FieldProblem(name, "is given more than once")])
    return values[0] if values else None


def _time(params: list[tuple[str, str]], name: str) -> datetime | None:
    raw = _single(params, name)
    if raw is None:
        return None
    try:
        return parse_rfc3339(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} {exc}", [FieldProblem(name, str(exc))]) from None


def parse_query(
    params: list[tuple[str, str]],
    *,
    principal: Principal,
    limits: ReadLimits,
    codec: CursorCodec,
    now: datetime,
    extra_params: tuple[str, ...] = (),
) -> tuple[EventQuery, str]:
    """Turn query-string pairs into a tenant-scoped, time-bounded query and its filter digest;
    refuse anything unknown."""
    filters: dict[str, list[str]] = {}
    metadata: dict[str, list[str]] = {}
    tenants: list[str] = []
    known = {*_WINDOW_PARAMS, *_PAGING_PARAMS, *extra_params}
    for name, value in params:
        if name in known:
            continue
        if not value:
            raise InvalidInput(f"{name} is empty", [FieldProblem(name, "must not be empty")])
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidInput(
                f"{name} is too long", [FieldProblem(name, f"is longer than {MAX_VALUE_LENGTH}")]
            )
        if name == "tenant_id":
            tenants.append(value)
        elif name in FILTER_COLUMNS:
            filters.setdefault(name, []).append(value)
        elif name.startswith("metadata.") or (name.startswith("metadata[") and name.endswith("]")):
            # `metadata.region=eu`, or OpenAPI's deepObject form `metadata[region]=eu`.
            key = name.removeprefix("metadata.") if name[8] == "." else name[9:-1]
            if not _METADATA_KEY.match(key):
                raise InvalidInput(
                    f"{name} is not a valid metadata filter",
                    [FieldProblem(name, "key must be dotted names of letters, digits, _ or -")],
                )
            metadata.setdefault(key, []).append(value)
        else:
            raise InvalidInput(
                f"unknown query parameter {name!r}", [FieldProblem(name, "is not a known parameter")]
            )
    for name, values in [*filters.items(), *(("metadata." + k, v) for k, v in metadata.items())]:
        if len(values) > MAX_VALUES_PER_FILTER:
            raise InvalidInput(
                f"{name} has too many values",
                [FieldProblem(name, f"takes at most {MAX_VALUES_PER_FILTER} values")],
            )

    page_size = DEFAULT_PAGE_SIZE
    raw_size = _single(params, "page_size")
    if raw_size is not None:
        if not _PAGE_SIZE.fullmatch(raw_size) or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
            raise InvalidInput(
                "page_size is out of range",
                [FieldProblem("page_size", f"must be an integer from 1 to {MAX_PAGE_SIZE}")],
            )
        page_size = int(raw_size)

    scoped = access.readable_tenants(principal, tenants)
    include_self_audit = _single(params, "include_self_audit")
    if include_self_audit not in (None, "true", "false"):
        raise InvalidInput(
            "include_self_audit must be true or false",
            [FieldProblem("include_self_audit", "must be true or false")],
        )
    if include_self_audit == "true" and not access.may_see_self_audit(principal):
        raise Forbidden(
            "the service's own records are visible to audit_admin and system_admin",
            [FieldProblem("include_self_audit", "needs audit_admin or system_admin")],
        )
    digest_items = [(k, v) for k, v in params if k not in _PAGING_PARAMS]
    digest_items.append(("@tenants", ",".join(scoped)))
    digest = filter_digest(digest_items)

    token = _single(params, "page_token")
    cursor: PageCursor | None = codec.decode(token, digest) if token else None
    if cursor is not None:
        start, end = cursor.start, cursor.end
    else:
        start, end = _window(params, limits, now)

    return EventQuery(
        tenants=tuple(scoped),
        start=start,
        end=end,
        filters={k: tuple(v) for k, v in filters.items()},
        metadata={k: tuple(v) for k, v in metadata.items()},
        after=(cursor.last_timestamp, cursor.last_audit_id) if cursor else None,
        limit=page_size,
        include_self_audit=include_self_audit == "true",
    ), digest


def _window(params: list[tuple[str, str]], limits: ReadLimits, now: datetime) -> tuple[datetime, datetime]:
    start = _time(params, "start_time")
    end = _time(params, "end_time")
    if end is None:
        end = now + limits.future_skew
    if start is None:
        try:
            start = end - limits.default_window
        except OverflowError:
            raise InvalidInput(
                "end_time is too early", [FieldProblem("end_time", "is too early for a default window")]
            ) from None
    if start >= end:
        raise InvalidInput(
            "start_time must be before end_time", [FieldProblem("start_time", "is not before end_time")]
        )
    if end - start > limits.max_window:
        days = limits.max_window.days
        raise InvalidInput(
            f"the time window is longer than {days} days",
            [FieldProblem("start_time", f"must be at most {days} days before end_time")],
        )
    return start, end


class EventReader:
    """Pages, single events and exports, always scoped to what the caller may read.

    Pages go through the query cache. A cache key includes each tenant's generation, which the
    writer bumps after the tenant's new events become visible in the store, so a cached page is
    never served once a newer write is visible. The TTL only bounds how far an implicit window
    ("the last 30 days", ending now) may drift: short when the window ends near now, long when an
    explicit window ends in the past.
    """

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
        self_audit: SelfAudit,
        unsealer: Unsealer,
    ) -> None:
        self._self_audit = self_audit
        self._unsealer = unsealer
        self._store = store
        self._codec = codec
        self._limits = limits
        self._export_limits = export_limits
        self._cache = cache
        self._live_ttl = live_ttl_seconds
        self._closed_ttl = closed_ttl_seconds

    def page(
        self,
        principal: Principal,
        params: list[tuple[str, str]],
        now: datetime,
        context: RequestContext | None = None,
    ) -> bytes:
        """One page as JSON bytes; the read is recorded before it is answered."""
        access.require(principal, Capability.READ)
        query, digest = parse_query(
            params, principal=principal, limits=self._limits, codec=self._codec, now=now
        )
        generations = ",".join(self._cache.generations(query.tenants))
        key = cache_key(query.tenants, params, principal_scope=f"generations={generations}")
        explicit_end = any(name == "end_time" for name, _ in params)
        closed = explicit_end and query.end < now - self._limits.future_skew
        ttl = self._closed_ttl if closed else self._live_ttl

        def compute() -> bytes:
            page = self._page(query, digest)
            return len(page["events"]).to_bytes(4, "big") + orjson.dumps(page)

        value = cached(self._cache, key, ttl, compute)
        self._self_audit.record(
            principal,
            context,
            action="events.search",
            tenants=query.tenants,
            request={"filters": _described(params)},
            response={"events": int.from_bytes(value[:4], "big")},
            now=now,
        )
        return value[4:]

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

    def get(
        self,
        principal: Principal,
        audit_id: str,
        tenant_id: str | None,
        now: datetime,
        context: RequestContext | None = None,
    ) -> bytes:
        """One event as JSON bytes; the read is recorded before it is answered.

        Cached like a page, under the tenant's generation, for the closed TTL: a stored event
        changes only by an erasure or a deletion, and both bump it. "Not found" is not cached: a
        store may answer it for a moment while an append is in flight (the BigQuery emulator
        does), and a client polling for its event would then see it for an hour.
        """
        access.require(principal, Capability.READ)
        if not is_uuid(audit_id):
            raise InvalidInput(
                "audit_id is not a UUID",
                [FieldProblem("audit_id", "must be a UUID in its 36-character form")],
            )
        audit_id = audit_id.lower()
        (tenant,) = access.readable_tenants(principal, [tenant_id] if tenant_id else [])
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
            return orjson.dumps(row_to_json_object(self._unsealer.rows([row])[0]))

        try:
            event: bytes | None = cached(self._cache, key, self._closed_ttl, compute)
        except NotFound:
            event = None
        self._self_audit.record(
            principal,
            context,
            action="events.get",
            tenants=[tenant],
            status="success" if event is not None else "not_found",
            resource_id=audit_id,
            now=now,
        )
        if event is None:
            raise NotFound(f"no event {audit_id} in this tenant")
        return event

    def export(
        self,
        principal: Principal,
        params: list[tuple[str, str]],
        now: datetime,
        context: RequestContext | None = None,
    ) -> tuple[tuple[str, ...], Iterator[list[Row]]]:
        """The tenants read and their rows as stored (encrypted fields not opened), streamed, for
        exports that carry an integrity manifest. The export is recorded when the stream ends,
        with its row count and whether it completed."""
        query = self._export_query(principal, params, now)
        chunks = ((len(chunk), chunk) for chunk in self._store.export(query))
        return query.tenants, self._recorded_export(principal, context, query, params, now, chunks)

    def export_rendered(
        self,
        principal: Principal,
        params: list[tuple[str, str]],
        now: datetime,
        fmt: ExportFormat,
        context: RequestContext | None = None,
    ) -> tuple[tuple[str, ...], Iterator[bytes]]:
        """The tenants read and their rows as readers see them, rendered (``rendering``), streamed;
        recorded like ``export``."""
        query = self._export_query(principal, params, now)
        chunks = self._rendered(query, fmt)
        return query.tenants, self._recorded_export(principal, context, query, params, now, chunks)

    def _export_query(self, principal: Principal, params: list[tuple[str, str]], now: datetime) -> EventQuery:
        access.require(principal, Capability.EXPORT)
        query, _ = parse_query(
            params,
            principal=principal,
            limits=self._export_limits,
            codec=self._codec,
            now=now,
            extra_params=("format", "manifest", "proofs"),
        )
        if query.after is not None:
            raise InvalidInput(
                "exports are not paged", [FieldProblem("page_token", "is not accepted by export")]
            )
        return query

    def _rendered(self, query: EventQuery, fmt: ExportFormat) -> Iterator[tuple[int, bytes]]:
        """(rows, bytes) per chunk, the header with the first, so that the first piece read holds
        the store's first answer (a store error is then still an error answer, not a cut stream)."""
        pending = rendering.header(fmt)
        for rows, data in self._rendered_chunks(query, fmt):
            yield rows, pending + data
            pending = b""
        if pending:
            yield 0, pending

    def _rendered_chunks(self, query: EventQuery, fmt: ExportFormat) -> Iterator[tuple[int, bytes]]:
        """Rendered by the store where it can (rows holding an encrypted field come back as
        stored, to be opened and rendered here), else here."""
        if isinstance(self._store, RendersExports):
            for rows, parts in self._store.export_rendered(query, fmt, marker=SEALED_PREFIX):
                yield (
                    rows,
                    b"".join(
                        part if isinstance(part, bytes) else rendering.lines(fmt, self._unsealer.rows([part]))
                        for part in parts
                    ),
                )
        else:
            for chunk in self._unsealer.chunks(self._store.export(query)):
                yield len(chunk), rendering.lines(fmt, chunk)

    def _recorded_export(
        self,
        principal: Principal,
        context: RequestContext | None,
        query: EventQuery,
        params: list[tuple[str, str]],
        now: datetime,
        chunks: Iterator[tuple[int, T]],
    ) -> Iterator[T]:
        rows = 0
        complete = False
        started = time.perf_counter()
        try:
            for count, chunk in chunks:
                rows += count
                metrics.STORE_ROWS.labels("export").inc(count)
                yield chunk
            complete = True
        finally:
            metrics.STORE_SECONDS.labels("export").observe(time.perf_counter() - started)
            self._self_audit.record(
                principal,
                context,
                action="events.export",
                tenants=query.tenants,
                status="success" if complete else "incomplete",
                request={"filters": _described(params)},
                response={"events": rows},
                now=now,
            )


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


def _described(params: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The filters of a read as recorded in its audit event (cursors left out)."""
    out: dict[str, list[str]] = {}
    for name, value in params:
        if name != "page_token":
            out.setdefault(name, []).append(value)
    return out


_TS = COLUMNS.index("timestamp")
_ID = COLUMNS.index("audit_id")
