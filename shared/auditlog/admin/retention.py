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
from auditlog.admin.policies import PolicyBook
from auditlog.ingest.pii import PiiProtector, actions_on
from auditlog.ports.cache import QueryCache
from auditlog.ports.store import EventStore, HoldScope


class RetentionService:
    def __init__(
        self,
        store: EventStore,
        holds: HoldBook,
        cache: QueryCache,
        policies: PolicyBook,
        protector: PiiProtector,
    ) -> None:
        self._store = store
        self._holds = holds
        self._cache = cache
        self._policies = policies
        self._protector = protector

    def scopes(self, now: datetime) -> tuple[HoldScope, ...]:
        """The active holds as the store must match them: each value in every form the tenant's
        PII rules store it in (a hold on a hashed user_id matches the hashes). A hold selecting
        on a field the rules now mask, drop or encrypt cannot tell its events apart any more, so
        it keeps the tenant's whole history: a legal hold errs on the side of keeping."""
        out = []
        for scope in self._holds.active_scopes(now):
            rules = self._policies.get(scope.tenant_id).pii_rules
            filters: dict[str, tuple[str, ...]] = {}
            for column, values in scope.filters.items():
                if set(actions_on(rules, column)) - {"hash"}:
                    filters = {}
                    break
                stored = self._protector.stored_forms
                forms = (f for v in values for f in stored(scope.tenant_id, rules, column, v))
                filters[column] = tuple(dict.fromkeys(forms))
            out.append(HoldScope(scope.tenant_id, filters))
        return tuple(out)

    def run(self, today: date, *, dry_run: bool) -> dict[str, Any]:
        try:
            scopes = self.scopes(datetime.now(UTC))
            per_tenant = self._store.expired(today, delete=not dry_run, holds=scopes)
            held: dict[str, int] = {}
            if dry_run and scopes:
                # What the holds keep: the expired events there would be without them, less those.
                unheld = self._store.expired(today, delete=False, holds=())
                held = {t: n - per_tenant.get(t, 0) for t, n in unheld.items() if n > per_tenant.get(t, 0)}
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
            **({"held": held} if dry_run else {}),
        }
