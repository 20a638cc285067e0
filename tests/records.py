"""Stored records for backend tests: JSON-native like the ones ingest publishes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from auditlog.model.event import COLUMNS, StoredEvent, format_timestamp


def stored_event(base: datetime, tenant: str = "acme", minutes: int = 0, **overrides: Any) -> StoredEvent:
    """A valid stored record ``minutes`` after ``base``; ``overrides`` replace any column."""
    ts = base + timedelta(minutes=minutes)
    record: dict[str, Any] = dict.fromkeys(COLUMNS)
    record.update(
        audit_id=str(uuid.uuid4()),
        timestamp=format_timestamp(ts),
        event_type="user.login",
        user_id="alice",
        resource_type="session",
        action="create",
        status="success",
        tenant_id=tenant,
        retention_period_days=90,
        created_at=format_timestamp(base),
        partition_date=ts.date().isoformat(),
    )
    record.update(overrides)
    return record  # type: ignore[return-value]
