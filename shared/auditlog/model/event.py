"""The audit event: what a client sends, what is stored, what a reader gets back.

Models are split by direction. ``AuditEventIn`` validates input (and documents it in the OpenAPI
document); ``StoredEvent`` is the record every backend stores, one key per column of the seed
schema, in the seed's order; ``AuditEventOut`` documents what readers receive.
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, TypedDict, TypeVar

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from auditlog.errors import FieldProblem, InvalidInput

ModelT = TypeVar("ModelT", bound=BaseModel)

# Bounds, in one place so the docs, the validator and the tests agree.
MAX_JSON_OBJECT_BYTES = 16 * 1024
MAX_JSON_DEPTH = 8
MAX_EVENT_BYTES = 32 * 1024
MAX_SINGLE_BODY_BYTES = 64 * 1024
MAX_BATCH_EVENTS = 1000
MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024
MIN_RETENTION_DAYS = 90
MAX_RETENTION_DAYS = 2555

# Column order of the seed schema; exports and the store use it.
COLUMNS: tuple[str, ...] = (
    "audit_id",
    "timestamp",
    "event_type",
    "user_id",
    "session_id",
    "ip_address",
    "user_agent",
    "resource_type",
    "resource_id",
    "action",
    "status",
    "request_data",
    "response_data",
    "metadata",
    "tenant_id",
    "service_name",
    "correlation_id",
    "retention_period_days",
    "created_at",
    "partition_date",
)
JSON_COLUMNS: frozenset[str] = frozenset({"request_data", "response_data", "metadata"})
SERVER_SET_FIELDS: frozenset[str] = frozenset({"created_at", "partition_date"})

_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$"

Name = Annotated[StrictStr, Field(min_length=1, max_length=128, pattern=_NAME)]
Ident = Annotated[StrictStr, Field(min_length=1, max_length=256)]
Text = Annotated[StrictStr, Field(max_length=1024)]
JsonObject = dict[str, Any]


class StoredEvent(TypedDict):
    """One row as it travels from ingest through the queue to the store, JSON-native so that it
    crosses each hop without conversion: times are RFC 3339 UTC strings with microseconds and
    ``Z`` (they sort as they compare), the date is ``YYYY-MM-DD``, JSON columns are compact text.
    """

    audit_id: str
    timestamp: str
    event_type: str
    user_id: str
    session_id: str | None
    ip_address: str | None
    user_agent: str | None
    resource_type: str
    resource_id: str | None
    action: str
    status: str
    request_data: str | None
    response_data: str | None
    metadata: str | None
    tenant_id: str
    service_name: str | None
    correlation_id: str | None
    retention_period_days: int
    created_at: str
    partition_date: str


def is_uuid(text: str) -> bool:
    """Exactly the canonical 36-character form (any case), nothing else ``uuid.UUID`` accepts."""
    return _UUID_TEXT.fullmatch(text) is not None


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset; return it as naive UTC."""
    match = _RFC3339.fullmatch(value)
    if not match:
        raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-11-26T12:00:00Z")
    day, clock, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]  # keep microseconds; more digits cannot be stored
    try:
        if offset in ("Z", "z", "+00:00"):  # already UTC (most events): no conversion needed
            return datetime.fromisoformat(f"{day}T{clock}{fraction}")
        parsed = datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}")
        return parsed.astimezone(UTC).replace(tzinfo=None)
    except ValueError as exc:
        raise ValueError(f"is not a valid date and time ({exc})") from None
    except OverflowError:
        raise ValueError("is outside the range of representable times") from None


def canonical_json(value: Any) -> bytes:
    """The stored text of a JSON column: compact, object members sorted by code point. Parsing
    and writing it again gives the same bytes, so a store that re-serialises JSON (BigQuery's
    JSON type) still yields the text the integrity leaf committed to."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def format_timestamp(value: datetime) -> str:
    """Naive UTC datetime to RFC 3339 with microseconds and ``Z``."""
    return value.isoformat(timespec="microseconds") + "Z"


# Unrolled-loop form: one C-level scan per run of ordinary characters, not one per character.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


def json_depth(text: bytes) -> int:
    """Nesting depth of serialized JSON: strings removed, then brackets counted (fast in C)."""
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", text))
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


def _parse_timestamp_field(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string with an offset")
    return parse_rfc3339(value)


class AuditEventIn(BaseModel):
    """An audit event as a client writes it: who did what to which resource, when."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    audit_id: StrictStr | None = Field(
        None,
        description="Client-chosen UUID; it is the idempotency key within the tenant. "
        "Assigned by the server (UUIDv7) when absent.",
        examples=["0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"],
    )
    timestamp: Annotated[datetime, BeforeValidator(_parse_timestamp_field)] = Field(
        description="When it happened: RFC 3339 with an offset; stored as UTC. "
        "At most a few minutes in the future.",
        examples=["2026-11-26T12:00:00Z"],
    )
    event_type: Name = Field(description="Category, e.g. `user.login`.")
    user_id: Ident = Field(description="The actor: who did it.")
    session_id: Ident | None = None
    ip_address: StrictStr | None = Field(None, description="IPv4 or IPv6 address of the actor.")
    user_agent: Text | None = None
    resource_type: Name = Field(description="Kind of resource acted on, e.g. `invoice`.")
    resource_id: Annotated[StrictStr, Field(min_length=1, max_length=512)] | None = None
    action: Name = Field(description="What was done, e.g. `update`.")
    status: Annotated[StrictStr, Field(min_length=1, max_length=32, pattern=_NAME)] = Field(
        "success", description="Outcome, e.g. `success`, `failure`, `denied`."
    )
    request_data: JsonObject | None = Field(
        None, description=f"JSON object, at most {MAX_JSON_OBJECT_BYTES} bytes and depth {MAX_JSON_DEPTH}."
    )
    response_data: JsonObject | None = Field(None, description="As request_data.")
    metadata: JsonObject | None = Field(
        None, description="As request_data; searchable with `metadata.<key>=<value>`."
    )
    tenant_id: Ident | None = Field(
        None, description="Taken from the caller's token; if given it must match it."
    )
    service_name: Annotated[StrictStr, Field(min_length=1, max_length=128)] | None = None
    correlation_id: Ident | None = None
    retention_period_days: StrictInt | None = Field(
        None,
        ge=MIN_RETENTION_DAYS,
        le=MAX_RETENTION_DAYS,
        description="Days to keep the event (90 to 2555); the tenant's default when absent.",
    )

    @field_validator("audit_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not is_uuid(value):
            raise ValueError("must be a UUID in its 36-character form")
        return value.lower()  # the canonical form (what str(uuid.UUID(value)) gives, 5x faster)

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _IPV4.fullmatch(value):
            return value  # already canonical: the pattern admits no leading zeros
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("must be an IPv4 or IPv6 address") from None


class AuditEventOut(BaseModel):
    """An audit event as readers receive it."""

    audit_id: str
    timestamp: str = Field(description="RFC 3339, UTC, microseconds.")
    event_type: str
    user_id: str
    session_id: str | None
    ip_address: str | None
    user_agent: str | None
    resource_type: str
    resource_id: str | None
    action: str
    status: str
    request_data: JsonObject | None
    response_data: JsonObject | None
    metadata: JsonObject | None
    tenant_id: str
    service_name: str | None
    correlation_id: str | None
    retention_period_days: int
    created_at: str = Field(description="When the service accepted it; RFC 3339, UTC.")
    partition_date: date = Field(description="UTC date of `timestamp`.")


class EventPage(BaseModel):
    events: list[AuditEventOut]
    next_page_token: str | None = Field(
        description="Opaque cursor for the next page; absent on the last page."
    )


class IngestResult(BaseModel):
    """The answer to one event written."""

    audit_id: str
    status: Literal["accepted", "duplicate"] = Field(
        description="`duplicate`: this tenant already has an event with this audit_id; it was stored once."
    )
    leaf_hash: str | None = Field(
        description="The receipt: hex SHA-256 leaf hash this event is committed to in the tenant's "
        "integrity log (docs/INTEGRITY.md). For a duplicate, the first copy's receipt (its version "
        "is the one stored); null when it is no longer known."
    )


class BatchItemResult(BaseModel):
    index: int = Field(description="Position in the request's `events`.")
    status: Literal["accepted", "duplicate", "rejected"]
    audit_id: str | None = None
    leaf_hash: str | None = Field(None, description="The receipt of an accepted event (see IngestResult).")
    errors: list[dict[str, str]] | None = Field(
        None, description="Why it was rejected: `field` and `problem`."
    )


class BatchIngestResult(BaseModel):
    results: list[BatchItemResult]
    accepted: int
    duplicates: int
    rejected: int


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[AuditEventIn] = Field(max_length=MAX_BATCH_EVENTS)


class ErrorDetail(BaseModel):
    field: str
    problem: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail]
    request_id: str


class ErrorBody(BaseModel):
    error: ErrorInfo


def validated(model: type[ModelT], body: Any, what: str) -> ModelT:
    """``body`` as ``model``, or ``InvalidInput`` naming each field ("the <what> is not valid")."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(f"the {what} is not valid", problems_from(exc)) from None


def problems_from(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """Pydantic's errors as ``FieldProblem``s with dotted field names."""
    out: list[FieldProblem] = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        out.append(FieldProblem(_join(prefix, loc), _problem_text(err)))
    return out


def _join(prefix: str, loc: str) -> str:
    if not prefix:
        return loc or "body"
    return f"{prefix}.{loc}" if loc else prefix


def _problem_text(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "missing":
        return "is required"
    if kind in ("model_type", "dict_type"):
        return "must be a JSON object"
    message = str(err["msg"])
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def parse_event(raw: Any, prefix: str = "") -> AuditEventIn:
    """Validate one raw event; raise ``EventRejected`` naming every bad field."""
    problems: list[FieldProblem] = []
    if isinstance(raw, dict):
        for name in SERVER_SET_FIELDS & raw.keys():
            problems.append(FieldProblem(_join(prefix, name), "is set by the server and cannot be sent"))
        if problems:
            raw = {k: v for k, v in raw.items() if k not in SERVER_SET_FIELDS}
    elif prefix:
        raise EventRejected([FieldProblem(prefix, "must be a JSON object")])
    try:
        event = AuditEventIn.model_validate(raw)
    except ValidationError as exc:
        raise EventRejected(problems + problems_from(exc, prefix)) from None
    if problems:
        raise EventRejected(problems)
    return event


def to_stored(
    event: AuditEventIn,
    *,
    tenant_id: str,
    audit_id: str,
    default_retention_days: int,
    now: datetime,
    max_future: timedelta,
) -> StoredEvent:
    """Build the stored record; raises ``ValueError`` with a FieldProblem list on bad values."""
    ts = event.timestamp
    problems: list[FieldProblem] = []
    json_texts: dict[str, str | None] = {}
    json_bytes = 0
    for name in ("request_data", "response_data", "metadata"):
        value = getattr(event, name)
        if value is None:
            json_texts[name] = None
            continue
        try:
            text = canonical_json(value)
        except orjson.JSONEncodeError:  # nested past orjson's limit (254 levels), far past ours
            problems.append(FieldProblem(name, f"is nested deeper than {MAX_JSON_DEPTH} levels"))
            json_texts[name] = None
            continue
        if len(text) > MAX_JSON_OBJECT_BYTES:
            problems.append(FieldProblem(name, f"is larger than {MAX_JSON_OBJECT_BYTES} bytes as JSON"))
        # With no more opening brackets than the limit anywhere, the depth cannot exceed it.
        elif text.count(b"{") + text.count(b"[") > MAX_JSON_DEPTH and json_depth(text) > MAX_JSON_DEPTH:
            problems.append(FieldProblem(name, f"is nested deeper than {MAX_JSON_DEPTH} levels"))
        json_texts[name] = text.decode()
        json_bytes += len(text)
    retention = event.retention_period_days or default_retention_days
    if ts > now + max_future:
        problems.append(
            FieldProblem("timestamp", f"is more than {int(max_future.total_seconds())} s in the future")
        )
    elif (now.date() - ts.date()).days > retention:
        problems.append(FieldProblem("timestamp", f"is older than the event's retention ({retention} days)"))
    record: StoredEvent = {
        "audit_id": audit_id,
        "timestamp": format_timestamp(ts),
        "event_type": event.event_type,
        "user_id": event.user_id,
        "session_id": event.session_id,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "action": event.action,
        "status": event.status,
        "request_data": json_texts["request_data"],
        "response_data": json_texts["response_data"],
        "metadata": json_texts["metadata"],
        "tenant_id": tenant_id,
        "service_name": event.service_name,
        "correlation_id": event.correlation_id,
        "retention_period_days": retention,
        "created_at": _format_now(now),
        "partition_date": ts.date().isoformat(),
    }
    # JSON columns in bytes; the other fields are short and bounded, counted in characters.
    size = json_bytes + sum(map(len, filter(None, _text_columns(record))))
    if size > MAX_EVENT_BYTES:
        problems.append(FieldProblem("body", f"the event is larger than {MAX_EVENT_BYTES} bytes"))
    if problems:
        raise EventRejected(problems)
    return record


# The text columns other than JSON, read in one C call (to_stored runs once per event).
_text_columns = operator.itemgetter(
    *(c for c in COLUMNS if c not in JSON_COLUMNS and c != "retention_period_days")
)
# A batch's events share one ``now``: format it once, not once per event.
_format_now = functools.lru_cache(maxsize=4)(format_timestamp)


class EventRejected(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field} {p.problem}" for p in problems))
        self.problems = problems
