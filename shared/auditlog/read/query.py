"""Query strings into bounded, tenant-scoped ``EventQuery``s: the one parser of search and export
filters. Unknown parameters are refused by name; the window defaults to the last 30 days and is
bounded; which tenants a read may touch is ``access.readable_tenants``'s decision."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from auditlog.auth import access
from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, Forbidden, InvalidInput
from auditlog.model import values
from auditlog.model.cursor import CursorCodec, PageCursor, filter_digest
from auditlog.ports.store import FILTER_COLUMNS, EventQuery

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_VALUES_PER_FILTER = 100
MAX_VALUE_LENGTH = 512
MAX_METADATA_KEYS = 20  # distinct metadata.<key> filters in one read (each is a JSON path scan)
_METADATA_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}")
WINDOW_PARAMS = ("start_time", "end_time", "include_self_audit")
PAGING_PARAMS = ("page_size", "page_token")
EXPORT_PARAMS = ("format", "manifest", "proofs")


@dataclass(frozen=True, slots=True)
class ReadLimits:
    default_window: timedelta
    max_window: timedelta
    future_skew: timedelta


@dataclass(slots=True)
class _Filters:
    columns: dict[str, list[str]]
    metadata: dict[str, list[str]]
    tenants: list[str]


def _single(params: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in params if k == name]
    if len(values) > 1:
        raise InvalidInput(f"{name} may be given once", [FieldProblem(name, "is given more than once")])
    return values[0] if values else None


def _time(params: list[tuple[str, str]], name: str) -> datetime | None:
    raw = _single(params, name)
    return None if raw is None else values.moment(name, raw)


def metadata_key(name: str) -> str | None:
    """The key of a ``metadata.<key>`` (or OpenAPI's deepObject ``metadata[<key>]``) parameter,
    None for any other name; ``InvalidInput`` for a metadata parameter with a bad key."""
    if name.startswith("metadata."):
        key = name.removeprefix("metadata.")
    elif name.startswith("metadata[") and name.endswith("]"):
        key = name[9:-1]
    else:
        return None
    if not _METADATA_KEY.fullmatch(key):
        raise InvalidInput(
            f"{name} is not a valid metadata filter",
            [FieldProblem(name, "key must be dotted names of letters, digits, _ or -")],
        )
    return key


def _filters(params: list[tuple[str, str]], known: set[str]) -> _Filters:
    found = _Filters({}, {}, [])
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
            found.tenants.append(value)
        elif name in FILTER_COLUMNS:
            found.columns.setdefault(name, []).append(value)
        elif (key := metadata_key(name)) is not None:
            found.metadata.setdefault(key, []).append(value)
        else:
            raise InvalidInput(
                f"unknown query parameter {name!r}", [FieldProblem(name, "is not a known parameter")]
            )
    if len(found.metadata) > MAX_METADATA_KEYS:
        raise InvalidInput(
            f"one read filters on at most {MAX_METADATA_KEYS} metadata keys",
            [FieldProblem("metadata", f"names more than {MAX_METADATA_KEYS} distinct keys")],
        )
    named = [*found.columns.items(), *(("metadata." + k, v) for k, v in found.metadata.items())]
    for name, given in named:
        if len(given) > MAX_VALUES_PER_FILTER:
            raise InvalidInput(
                f"{name} has too many values",
                [FieldProblem(name, f"takes at most {MAX_VALUES_PER_FILTER} values")],
            )
    return found


def _page_size(params: list[tuple[str, str]]) -> int:
    raw = _single(params, "page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    return values.count("page_size", raw, minimum=1, maximum=MAX_PAGE_SIZE)


def _include_self_audit(params: list[tuple[str, str]], principal: Principal) -> bool:
    raw = _single(params, "include_self_audit")
    wanted = raw is not None and values.flag("include_self_audit", raw)
    # A rule on the data asked for, so it is checked here rather than by the route.
    if wanted and not access.may_see_self_audit(principal):
        raise Forbidden(
            "the service's own records are visible to audit_admin and system_admin",
            [FieldProblem("include_self_audit", "needs audit_admin or system_admin")],
        )
    return wanted


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
    found = _filters(params, {*WINDOW_PARAMS, *PAGING_PARAMS, *extra_params})
    page_size = _page_size(params)
    # Which tenants may be read depends on the tenants named: decided per request, not per route.
    scoped = access.readable_tenants(principal, found.tenants)
    include_self_audit = _include_self_audit(params, principal)
    digest_items = [(k, v) for k, v in params if k not in PAGING_PARAMS]
    digest_items.append(("@tenants", ",".join(scoped)))
    digest = filter_digest(digest_items)

    token = _single(params, "page_token")
    cursor: PageCursor | None = codec.decode(token, digest) if token else None
    start, end = (cursor.start, cursor.end) if cursor is not None else window(params, limits, now)
    return EventQuery(
        tenants=tuple(scoped),
        start=start,
        end=end,
        filters={k: tuple(v) for k, v in found.columns.items()},
        metadata={k: tuple(v) for k, v in found.metadata.items()},
        after=(cursor.last_timestamp, cursor.last_audit_id) if cursor else None,
        limit=page_size,
        include_self_audit=include_self_audit,
    ), digest


def window(params: list[tuple[str, str]], limits: ReadLimits, now: datetime) -> tuple[datetime, datetime]:
    """The ``start_time`` .. ``end_time`` a read covers, defaults applied, bounds enforced."""
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
