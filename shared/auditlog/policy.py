"""Tenant policy: per-tenant settings kept in the small-state store.

For now the default retention; the access-control issue adds rate limits, IP allowlists and PII
rules to the same document. Policies are read on every write, so each instance keeps them for a
short time (``ttl_seconds``) rather than asking the state store each time.
"""

from __future__ import annotations

import threading
import time

from pydantic import BaseModel, ConfigDict, Field

from auditlog.event import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS
from auditlog.state import StateStore

COLLECTION = "tenant_policies"


class TenantPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_retention_days: int = Field(
        90, ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS, description="retention when an event gives none"
    )


class PolicyBook:
    def __init__(self, state: StateStore, default: TenantPolicy, ttl_seconds: float = 30.0) -> None:
        self._state = state
        self._default = default
        self._ttl = ttl_seconds
        self._cached: dict[str, tuple[float, TenantPolicy]] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: str) -> TenantPolicy:
        now = time.monotonic()
        with self._lock:
            hit = self._cached.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        document = self._state.get(COLLECTION, tenant_id)
        policy = self._default if document is None else TenantPolicy.model_validate(document)
        with self._lock:
            self._cached[tenant_id] = (now + self._ttl, policy)
        return policy

    def put(self, tenant_id: str, policy: TenantPolicy) -> None:
        self._state.put(COLLECTION, tenant_id, policy.model_dump())
        with self._lock:
            self._cached.pop(tenant_id, None)
