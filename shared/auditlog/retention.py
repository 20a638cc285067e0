"""Retention: delete events whose ``partition_date + retention_period_days`` has passed.

Legal holds and the integrity log's hash spine come with the integrity issue; this is the
deletion itself, idempotent and with a dry run.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from auditlog import access
from auditlog.access import Capability
from auditlog.identity import Principal
from auditlog.store import EventStore


class RetentionService:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    def run(self, today: date, *, dry_run: bool) -> dict[str, Any]:
        per_tenant = self._store.expired(today, delete=not dry_run)
        return {
            "dry_run": dry_run,
            "as_of": today.isoformat(),
            "deleted" if not dry_run else "would_delete": sum(per_tenant.values()),
            "per_tenant": per_tenant,
        }

    def run_for(self, principal: Principal, today: date, *, dry_run: bool) -> dict[str, Any]:
        access.require(principal, Capability.ADMIN)
        return self.run(today, dry_run=dry_run)
