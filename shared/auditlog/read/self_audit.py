"""The audit log audits itself: reads, exports, admin actions and refusals become audit events.

They are written through the same queue as every other event, into the log of the tenant that was
read (one event per tenant for a cross-tenant read), with ``event_type`` in the reserved
``auditlog.`` namespace and ``service_name`` ``auditlog``. A read is answered only after its
record is durable, like a write.

A record is bounded like a client's event: what the caller sent (filters, headers) is cut to the
limits clients get (``bounded_filters``, ``RequestContext``), so no request can make the service
write more than a client could.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
import uuid_utils

from auditlog import metrics
from auditlog.auth.identity import Principal
from auditlog.model.event import MAX_JSON_OBJECT_BYTES, MAX_RETENTION_DAYS, StoredEvent, format_timestamp
from auditlog.ports.queue import EventQueue
from auditlog.ports.store import SELF_AUDIT_PREFIX

RESERVED_PREFIX: Final = SELF_AUDIT_PREFIX
SELF_AUDIT_SERVICE: Final = "auditlog"  # the service_name of every record the service writes itself
MAX_RECORDED_VALUE: Final = 512  # as a filter value may be
MAX_RECORDED_NAME: Final = 128
# What a record keeps of a read's filters: within a client's JSON column, with room to spare.
MAX_RECORDED_FILTER_BYTES: Final = MAX_JSON_OBJECT_BYTES // 2


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What the service knows about a request besides the caller's token, each value already
    bounded (``http/app.py``): the server's own request id, and the caller's ones apart."""

    request_id: str
    correlation_id: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    client_request_id: str | None = None


def is_self_audit_type(event_type: str) -> bool:
    """The reserved namespace, in any case (``AuditLog.x`` is as reserved as ``auditlog.x``)."""
    return event_type[: len(RESERVED_PREFIX)].lower() == RESERVED_PREFIX


def is_self_audit(event: StoredEvent) -> bool:
    return is_self_audit_type(event["event_type"])


def bounded_filters(params: Iterable[tuple[str, str]]) -> tuple[dict[str, list[str]], int]:
    """A read's filters (cursors left out) as its record keeps them: names and values cut to what
    a query may carry, at most ``MAX_RECORDED_FILTER_BYTES`` in all; and how many were left out."""
    kept: dict[str, list[str]] = {}
    size = omitted = 0
    for name, value in params:
        if name == "page_token":
            continue
        name, value = name[:MAX_RECORDED_NAME], value[:MAX_RECORDED_VALUE]
        size += len(name) + len(value) + 8  # quotes, comma, colon, brackets
        if size > MAX_RECORDED_FILTER_BYTES:
            omitted += 1
            continue
        kept.setdefault(name, []).append(value)
    return kept, omitted


@dataclass(frozen=True, slots=True)
class Record:
    """One record to write, in each tenant's log (``responses``/``requests``: per tenant, where
    they differ)."""

    action: str
    tenants: tuple[str, ...]
    status: str = "success"
    resource_id: str | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    requests: dict[str, dict[str, Any]] | None = None
    responses: dict[str, dict[str, Any]] | None = None


class SelfAudit:
    def __init__(self, queue: EventQueue, retention_days: int = MAX_RETENTION_DAYS) -> None:
        self._queue = queue
        self._retention = retention_days

    def write(
        self, principal: Principal, context: RequestContext | None, record: Record, now: datetime
    ) -> None:
        """Write one event per tenant and wait until they are durable."""
        futures = [
            self._queue.publish(tenant, [self._event(principal, context, record, tenant, now)])
            for tenant in record.tenants
        ]
        for future in futures:
            future.result()
        metrics.EVENTS.labels("accepted", "self_audit").inc(len(futures))

    def _event(
        self,
        principal: Principal,
        context: RequestContext | None,
        record: Record,
        tenant: str,
        now: datetime,
    ) -> StoredEvent:
        stamp = format_timestamp(now)
        metadata: dict[str, Any] = {
            "caller_tenant_id": principal.tenant_id,
            "roles": sorted(principal.roles),
            "request_id": context.request_id if context else None,
        }
        if context is not None and context.client_request_id:
            metadata["client_request_id"] = context.client_request_id
        if principal.via:
            metadata["via"] = principal.via
        request = (record.requests or {}).get(tenant, record.request)
        response = (record.responses or {}).get(tenant, record.response)
        return {
            "audit_id": str(uuid_utils.uuid7()),
            "timestamp": stamp,
            "event_type": RESERVED_PREFIX + record.action,
            "user_id": principal.subject,
            "session_id": None,
            "ip_address": context.ip_address if context else None,
            "user_agent": context.user_agent if context else None,
            "resource_type": "audit_log",
            "resource_id": record.resource_id,
            "action": record.action.rsplit(".", 1)[-1],
            "status": record.status,
            "request_data": orjson.dumps(request).decode() if request is not None else None,
            "response_data": orjson.dumps(response).decode() if response is not None else None,
            "metadata": orjson.dumps(metadata).decode(),
            "tenant_id": tenant,
            "service_name": SELF_AUDIT_SERVICE,
            "correlation_id": context.correlation_id if context else None,
            "retention_period_days": self._retention,
            "created_at": stamp,
            "partition_date": now.date().isoformat(),
        }
