"""Retention: delete events whose ``partition_date + retention_period_days`` has passed, except
those a legal hold covers.

Only payloads go: the integrity log keeps every leaf hash (with its expiry), so proofs for the
remaining events, and the tree's signed roots, stay valid, and the verifier counts a missing
event past its expiry as expired rather than deleted. Idempotent: a second run finds nothing
more; a dry run reports what would go.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from auditlog import metrics
from auditlog.admin.holds import HoldBook
from auditlog.ports.cache import QueryCache
from auditlog.ports.store import EventStore


class RetentionService:
    def __init__(self, store: EventStore, holds: HoldBook, cache: QueryCache) -> None:
        self._store = store
        self._holds = holds
        self._cache = cache

    def run(self, today: date, *, dry_run: bool) -> dict[str, Any]:
        try:
            scopes = self._holds.active_scopes(datetime.now(UTC))
            per_tenant = self._store.expired(today, delete=not dry_run, holds=scopes)
        except Exception:
            metrics.RETENTION_RUNS.labels("failure").inc()
            raise
        metrics.RETENTION_RUNS.labels("success").inc()
        if not dry_run:
            metrics.RETENTION_DELETED.inc(sum(per_tenant.values()))
            # Cached pages and events of these tenants may show what was just deleted.
            self._cache.bump({tenant for tenant, deleted in per_tenant.items() if deleted})
        return {
            "dry_run": dry_run,
            "as_of": today.isoformat(),
            "deleted" if not dry_run else "would_delete": sum(per_tenant.values()),
            "per_tenant": per_tenant,
            "legal_holds_applied": len(scopes),
        }
