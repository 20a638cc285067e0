"""The audit log audits itself: reads, exports, admin actions and refusals become audit events.

They are written through the same queue as every other event, into the log of the tenant that was
read (one event per tenant for a cross-tenant read), with ``event_type`` in the reserved
``auditlog.`` namespace and ``service_name`` ``auditlog``. A read is answered only after its
record is durable, like a write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import uuid_utils

from auditlog import metrics
from auditlog.auth.identity import Principal
from auditlog.model.event import MAX_RETENTION_DAYS, StoredEvent, format_timestamp
from auditlog.ports.queue import EventQueue
from auditlog.ports.store import SELF_AUDIT_PREFIX

RESERVED_PREFIX = SELF_AUDIT_PREFIX


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What the service knows about a request besides the caller's token."""

    request_id: str
    correlation_id: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None


def is_self_audit(event: StoredEvent) -> bool:
    return event["event_type"].startswith(RESERVED_PREFIX)


class SelfAudit:
    def __init__(self, queue: EventQueue, retention_days: int = MAX_RETENTION_DAYS) -> None:
        self._queue = queue
        self._retention = retention_days

    def record(
        self,
        principal: Principal,
        context: RequestContext | None,
        *,
        action: str,
        tenants: list[str] | tuple[str, ...],
        status: str = "success",
        resource_id: str | None = None,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        responses: dict[str, dict[str, Any]] | None = None,
        now: datetime,
    ) -> None:
        """Write one event per tenant and wait until they are durable. ``responses``: a response
        per tenant, where they differ (else ``response`` for all)."""
        futures = [
            self._queue.publish(
                tenant,
                [
                    self._event(
                        principal,
                        context,
                        action,
                        tenant,
                        status,
                        resource_id,
                        request,
                        (responses or {}).get(tenant, response),
                        now,
                    )
                ],
            )
            for tenant in tenants
        ]
        for future in futures:
            future.result()
        metrics.EVENTS.labels("accepted", "self_audit").inc(len(futures))

    def _event(
        self,
        principal: Principal,
        context: RequestContext | None,
        action: str,
        tenant: str,
        status: str,
        resource_id: str | None,
        request: dict[str, Any] | None,
        response: dict[str, Any] | None,
        now: datetime,
    ) -> StoredEvent:
        stamp = format_timestamp(now)
        metadata = {
            "caller_tenant_id": principal.tenant_id,
            "roles": sorted(principal.roles),
            "request_id": context.request_id if context else None,
        }
        return {
            "audit_id": str(uuid_utils.uuid7()),
            "timestamp": stamp,
            "event_type": RESERVED_PREFIX + action,
            "user_id": principal.subject,
            "session_id": None,
            "ip_address": context.ip_address if context else None,
            "user_agent": context.user_agent[:1024] if context and context.user_agent else None,
            "resource_type": "audit_log",
            "resource_id": resource_id,
            "action": action.rsplit(".", 1)[-1],
            "status": status,
            "request_data": orjson.dumps(request).decode() if request is not None else None,
            "response_data": orjson.dumps(response).decode() if response is not None else None,
            "metadata": orjson.dumps(metadata).decode(),
            "tenant_id": tenant,
            "service_name": "auditlog",
            "correlation_id": context.correlation_id if context else None,
            "retention_period_days": self._retention,
            "created_at": stamp,
            "partition_date": now.date().isoformat(),
        }
