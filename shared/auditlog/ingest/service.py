"""Accepting events: validate, stamp with server fields, publish durably, answer per event.

The caller was admitted by the HTTP app (capability, allowlist, and its event buckets charged,
``http/rules.py``); what is checked here depends on the events themselves."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import uuid_utils

from auditlog import metrics
from auditlog.admin.policies import PolicyBook
from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, Forbidden, InvalidInput, PayloadTooLarge
from auditlog.ingest.pii import PiiProtector
from auditlog.ingest.subjects import PREFIX as SEALED_PREFIX
from auditlog.ingest.subjects import sealed_look_alikes
from auditlog.ledger.leaves import event_leaf_hash
from auditlog.model.event import (
    MAX_BATCH_EVENTS,
    EventRejected,
    StoredEvent,
    is_uuid,
    parse_event,
    to_stored,
)
from auditlog.model.policy import TenantPolicy
from auditlog.ports.queue import EventQueue, Outcome
from auditlog.read.self_audit import RESERVED_PREFIX, SELF_AUDIT_SERVICE, is_self_audit_type

MAX_CORRELATION_ID = 256  # as the event field allows


def utc_now() -> datetime:
    """Now, as naive UTC (the store's representation)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class IngestRules:
    max_future: timedelta


class IngestService:
    def __init__(
        self,
        queue: EventQueue,
        rules: IngestRules,
        policies: PolicyBook,
        protector: PiiProtector,
    ) -> None:
        self._queue = queue
        self._rules = rules
        self._policies = policies
        self._protector = protector

    def _prepare(
        self,
        principal: Principal,
        raw: Any,
        prefix: str,
        now: datetime,
        policy: TenantPolicy,
        correlation_id: str | None,
    ) -> StoredEvent:
        event = parse_event(raw, prefix)
        if is_self_audit_type(event.event_type):
            reserved = f"the {RESERVED_PREFIX} prefix is reserved (in any case)"
            raise EventRejected([FieldProblem(_field(prefix, "event_type"), reserved)])
        if event.service_name is not None and event.service_name.lower() == SELF_AUDIT_SERVICE:
            raise EventRejected(
                [FieldProblem(_field(prefix, "service_name"), f"{SELF_AUDIT_SERVICE!r} is reserved")]
            )
        if event.tenant_id is not None and event.tenant_id != principal.tenant_id:
            raise _TenantMismatch(
                [FieldProblem(_field(prefix, "tenant_id"), "does not match the tenant of your token")]
            )
        try:
            record = to_stored(
                event,
                tenant_id=principal.tenant_id,
                audit_id=event.audit_id or str(uuid_utils.uuid7()),
                default_retention_days=policy.default_retention_days,
                now=now,
                max_future=self._rules.max_future,
            )
        except EventRejected as exc:
            raise EventRejected(
                [FieldProblem(_field(prefix, p.field), p.problem) for p in exc.problems]
            ) from None
        if record["correlation_id"] is None and correlation_id:
            # The request's X-Correlation-ID, sent by the caller, ties the event to its request.
            record["correlation_id"] = correlation_id[:MAX_CORRELATION_ID]
        sealed = sealed_look_alikes(record)
        if sealed:
            # Only the server seals values (ingest/subjects.py); a client's look-alike would read
            # as "[erased]", as if a data subject had been erased.
            raise EventRejected(
                [FieldProblem(_field(prefix, f), f"must not start with {SEALED_PREFIX!r}") for f in sealed]
            )
        # Before anything is published, stored or logged.
        return self._protector.protect(principal.tenant_id, policy.pii_rules, record)

    async def write_one(
        self, principal: Principal, raw: Any, correlation_id: str | None = None
    ) -> dict[str, Any]:
        policy = self._policies.get(principal.tenant_id)
        try:
            record = self._prepare(principal, raw, "", utc_now(), policy, correlation_id)
        except _TenantMismatch as exc:
            metrics.EVENTS.labels("rejected", "client").inc()
            raise Forbidden("the event names another tenant", exc.problems) from None
        except EventRejected as exc:
            metrics.EVENTS.labels("rejected", "client").inc()
            raise InvalidInput("the event is not valid", exc.problems) from None
        leaf = event_leaf_hash(record)
        chosen = [_sent_audit_id(raw) is not None]
        (outcome,) = await asyncio.wrap_future(
            self._queue.publish(principal.tenant_id, [record], [leaf], client_ids=chosen)
        )
        metrics.EVENTS.labels("accepted" if outcome.new else "duplicate", "client").inc()
        return {
            "audit_id": record["audit_id"],
            "status": "accepted" if outcome.new else "duplicate",
            # The receipt: the leaf this event is committed to (a duplicate's is the first copy's).
            "leaf_hash": _receipt(leaf, outcome),
        }

    async def write_batch(
        self, principal: Principal, body: Any, correlation_id: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            raise InvalidInput(
                "the body must be a JSON object", [FieldProblem("body", "must be a JSON object")]
            )
        unknown = sorted(set(body) - {"events"})
        if unknown:
            raise InvalidInput(
                f"unknown field {unknown[0]!r}", [FieldProblem(n, "is not a known field") for n in unknown]
            )
        events = body.get("events")
        if not isinstance(events, list):
            raise InvalidInput("events must be a list", [FieldProblem("events", "must be a list of events")])
        if not events:
            raise InvalidInput("events is empty", [FieldProblem("events", "must hold at least one event")])
        if len(events) > MAX_BATCH_EVENTS:
            raise PayloadTooLarge(
                f"a batch holds at most {MAX_BATCH_EVENTS} events; this one has {len(events)}",
                [FieldProblem("events", f"has more than {MAX_BATCH_EVENTS} events")],
            )
        policy = self._policies.get(principal.tenant_id)
        now = utc_now()
        results: list[dict[str, Any]] = []
        records: list[StoredEvent] = []
        leaves: list[bytes] = []
        slots: list[int] = []
        for index, raw in enumerate(events):
            try:
                record = self._prepare(principal, raw, f"events[{index}]", now, policy, correlation_id)
            except EventRejected as exc:
                results.append(
                    {
                        "index": index,
                        "status": "rejected",
                        # Echoed when the client sent one, so it can match refusals by id.
                        "audit_id": _sent_audit_id(raw),
                        "leaf_hash": None,
                        "errors": [p.as_dict() for p in exc.problems],
                    }
                )
                continue
            slots.append(index)
            records.append(record)
            leaves.append(event_leaf_hash(record))
            results.append(
                {
                    "index": index,
                    "status": "accepted",
                    "audit_id": record["audit_id"],
                    "leaf_hash": leaves[-1].hex(),
                    "errors": None,
                }
            )
        if not records:
            metrics.EVENTS.labels("rejected", "client").inc(len(results))
            details = [FieldProblem(**e) for r in results for e in r["errors"]]
            raise InvalidInput("no event in the batch is valid", details)
        chosen = [_sent_audit_id(events[index]) is not None for index in slots]
        outcomes = await asyncio.wrap_future(
            self._queue.publish(principal.tenant_id, records, leaves, client_ids=chosen)
        )
        for index, leaf, outcome in zip(slots, leaves, outcomes, strict=True):
            if not outcome.new:
                results[index]["status"] = "duplicate"
                results[index]["leaf_hash"] = _receipt(leaf, outcome)
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for r in results:
            counts[r["status"]] += 1
        for status, n in counts.items():
            if n:
                metrics.EVENTS.labels(status, "client").inc(n)
        return 202, {
            "results": results,
            "accepted": counts["accepted"],
            "duplicates": counts["duplicate"],
            "rejected": counts["rejected"],
        }


class _TenantMismatch(EventRejected):
    pass


def _receipt(leaf: bytes, outcome: Outcome) -> str | None:
    """The receipt to answer with: this event's leaf, or the first copy's for a duplicate (None
    when the queue no longer knows it)."""
    if outcome.new:
        return leaf.hex()
    return outcome.receipt.hex() if outcome.receipt else None


def _sent_audit_id(raw: Any) -> str | None:
    value = raw.get("audit_id") if isinstance(raw, dict) else None
    return value.lower() if isinstance(value, str) and is_uuid(value) else None


def _field(prefix: str, name: str) -> str:
    if not prefix:
        return name
    if name.startswith(prefix):
        return name
    return f"{prefix}.{name}" if name != "body" else prefix
