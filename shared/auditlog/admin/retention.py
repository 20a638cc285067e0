"""Retention: delete events whose ``partition_date + retention_period_days`` has passed, except
those a legal hold covers.

Only payloads go: the integrity log keeps every leaf hash (with its expiry), so proofs for the
remaining events, and the tree's signed roots, stay valid, and the verifier counts a missing
event past its expiry as expired rather than deleted. Idempotent: a second run finds nothing
more; a dry run reports what would go.

A run (``sweep``) is bounded: it takes a lease, so no two runs overlap; then deletes one range of
at most ``partitions_per_step`` partitions at a time, from where the last run stopped, saving its
place after each; and stops starting new steps once ``budget_seconds`` have passed. A sweep is
complete when it reaches the newest partition that can hold expired events; the next one starts
from the oldest partition again, at most once a day. Each run writes one log line,
``{"event": "retention_run", "outcome": "complete" | "partial" | "failed" | "skipped_locked"}``,
which the deployment's alerts count (terraform/modules/monitoring).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from auditlog import metrics
from auditlog.admin.holds import HoldBook
from auditlog.admin.lease import Lease
from auditlog.admin.policies import PolicyBook
from auditlog.ingest.pii import PiiProtector, actions_on
from auditlog.model.event import MIN_RETENTION_DAYS
from auditlog.ports.cache import QueryCache
from auditlog.ports.state import StateStore
from auditlog.ports.store import EventStore, HoldScope

log = logging.getLogger(__name__)

COLLECTION = "retention"
PROGRESS = "progress"  # {"sweep_date", "next_from"}


@dataclass(frozen=True, slots=True)
class SweepLimits:
    budget_seconds: float = 600.0
    lease_seconds: float = 900.0
    partitions_per_step: int = 31


class RetentionService:
    def __init__(
        self,
        store: EventStore,
        holds: HoldBook,
        cache: QueryCache,
        policies: PolicyBook,
        protector: PiiProtector,
        state: StateStore,
        limits: SweepLimits | None = None,
    ) -> None:
        self._store = store
        self._holds = holds
        self._cache = cache
        self._policies = policies
        self._protector = protector
        self._state = state
        self._limits = limits or SweepLimits()

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

    def preview(self, today: date, tenant_id: str | None) -> dict[str, Any]:
        """A dry run narrowed to one tenant (None: every tenant), for that tenant's admins."""
        report = self.run(today, dry_run=True)
        if tenant_id is None:
            return report
        per_tenant = {tenant_id: report["per_tenant"].get(tenant_id, 0)}
        held = {t: n for t, n in report.get("held", {}).items() if t == tenant_id}
        scopes = [s for s in self.scopes(datetime.now(UTC)) if s.tenant_id == tenant_id]
        return {
            **report,
            "would_delete": sum(per_tenant.values()),
            "per_tenant": per_tenant,
            "held": held,
            "legal_holds_applied": len(scopes),
        }

    def sweep(self, today: date, clock: Any = time.monotonic) -> dict[str, Any]:
        """One bounded run (see the module docstring); its report, also logged as one line."""
        started = clock()
        lease = Lease(self._state, self._limits.lease_seconds, COLLECTION)
        report: dict[str, Any] = {
            "dry_run": False,
            "as_of": today.isoformat(),
            "deleted": 0,
            "per_tenant": {},
        }
        if not lease.acquire(time.time()):
            return self._logged({**report, "outcome": "skipped_locked"}, started, clock)
        try:
            report.update(self._steps(today, started, clock))
        except Exception:
            metrics.RETENTION_RUNS.labels("failure").inc()
            self._logged({**report, "outcome": "failed"}, started, clock, level=logging.ERROR)
            raise
        finally:
            lease.release()
        metrics.RETENTION_RUNS.labels("success").inc()
        return self._logged(report, started, clock)

    def _steps(self, today: date, started: float, clock: Any) -> dict[str, Any]:
        # Partitions newer than this hold nothing expired (the shortest retention is 90 days).
        last = today - timedelta(days=MIN_RETENTION_DAYS + 1)
        progress = self._state.get(COLLECTION, PROGRESS) or {}
        if progress.get("complete_on") == today.isoformat():
            return {"outcome": "complete", "partitions_from": None, "partitions_to": None}
        oldest = self._store.oldest_partition()
        first = date.fromisoformat(progress["next_from"]) if progress.get("next_from") else oldest
        scopes = self.scopes(datetime.now(UTC))
        per_tenant: dict[str, int] = {}
        begin, end = first, None
        step = timedelta(days=self._limits.partitions_per_step - 1)
        while first is not None and first <= last and clock() - started < self._limits.budget_seconds:
            end = min(first + step, last)
            deleted = self._store.expired(today, delete=True, holds=scopes, partitions=(first, end))
            for tenant, n in deleted.items():
                per_tenant[tenant] = per_tenant.get(tenant, 0) + n
            first = end + timedelta(days=1)
            place = {"sweep_date": today.isoformat(), "next_from": first.isoformat()}
            self._state.put(COLLECTION, PROGRESS, place)
        complete = first is None or first > last
        if complete:
            self._state.put(COLLECTION, PROGRESS, {"complete_on": today.isoformat(), "next_from": None})
        metrics.RETENTION_DELETED.inc(sum(per_tenant.values()))
        self._cache.bump({tenant for tenant, n in per_tenant.items() if n})
        return {
            "outcome": "complete" if complete else "partial",
            "partitions_from": begin.isoformat() if begin and end else None,
            "partitions_to": end.isoformat() if end else None,
            "deleted": sum(per_tenant.values()),
            "per_tenant": per_tenant,
            "legal_holds_applied": len(scopes),
        }

    @staticmethod
    def _logged(
        report: dict[str, Any], started: float, clock: Any, level: int = logging.INFO
    ) -> dict[str, Any]:
        report["duration_ms"] = round((clock() - started) * 1000)
        names = ("outcome", "partitions_from", "partitions_to", "deleted", "duration_ms")
        fields = {"event": "retention_run", "sweep_date": report["as_of"]}
        fields.update({k: report.get(k) for k in names})
        log.log(level, "retention run", extra=fields)
        return report
