"""Tenant policies in the small-state store. Policies are read on every request, so each
instance keeps them for a short time (``ttl_seconds``) rather than asking the state store each
time."""

from __future__ import annotations

import threading
import time

from auditlog.model.policy import TenantPolicy
from auditlog.ports.state import StateStore

COLLECTION = "tenant_policies"


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
        self._state.put(COLLECTION, tenant_id, policy.model_dump(mode="json"))
        with self._lock:
            self._cached.pop(tenant_id, None)
