"""GDPR erasure: destroy a data subject's key (crypto-shredding, ``ingest/subjects.py``), and
keep a record of the request that names the subject by its hash only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import uuid_utils

from auditlog.auth import access
from auditlog.auth.identity import Principal
from auditlog.ingest.subjects import SubjectKeys, subject_id
from auditlog.model.erasure import Erasure, ErasureRequestIn
from auditlog.model.event import validated
from auditlog.ports.cache import QueryCache
from auditlog.ports.state import StateStore

ERASURES: Final = "erasures"


class ErasureBook:
    def __init__(self, state: StateStore, keys: SubjectKeys, cache: QueryCache) -> None:
        self._state = state
        self._keys = keys
        self._cache = cache

    def erase(self, principal: Principal, body: Any) -> Erasure:
        wanted = validated(ErasureRequestIn, body, "erasure request")
        # Which tenant the caller may administer depends on the tenant named: checked here.
        access.administrable_tenant(principal, wanted.tenant_id)
        erasure = Erasure(
            erasure_id=str(uuid_utils.uuid7()),
            tenant_id=wanted.tenant_id,
            subject_id=subject_id(wanted.tenant_id, wanted.user_id),
            status="received",
            received_at=datetime.now(UTC),
            requested_by=principal.subject,
            caches_clear_within_seconds=self._keys.cache_seconds,
        )
        self._state.put(ERASURES, erasure.erasure_id, erasure.model_dump(mode="json"))
        destroyed = self._keys.erase(wanted.tenant_id, wanted.user_id)
        # Cached pages may hold decrypted values: they must not be served again.
        self._cache.bump({wanted.tenant_id})
        erasure = erasure.model_copy(
            update={"status": "done", "completed_at": datetime.now(UTC), "key_destroyed": destroyed}
        )
        self._state.put(ERASURES, erasure.erasure_id, erasure.model_dump(mode="json"))
        return erasure

    def listing(self, tenant_id: str | None) -> list[Erasure]:
        found = [Erasure.model_validate(d) for _, d in self._state.list(ERASURES)]
        return sorted(
            (e for e in found if tenant_id is None or e.tenant_id == tenant_id), key=lambda e: e.erasure_id
        )
