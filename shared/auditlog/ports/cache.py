"""The query cache: results of reads, per tenant and normalised query, with a TTL.

Embedded: an in-process LRU with TTL. GCP: Memorystore (Redis). A cache failure never fails a read;
it is counted and the store answers.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol


class QueryCache(Protocol):
    def get(self, key: str) -> bytes | None:
        """The cached value, or None (also when the cache is unreachable)."""
        ...

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        """Store; failures are swallowed and counted."""
        ...

    def try_lock(self, key: str, ttl_seconds: float) -> bool:
        """Become the one caller that computes ``key`` (stampede protection). True if acquired
        or if the cache cannot tell (unreachable): never block a read on the cache."""
        ...

    def unlock(self, key: str) -> None: ...

    def generations(self, tenant_ids: tuple[str, ...]) -> list[str]:
        """Per tenant, a counter the writer bumps when the tenant's new events become visible.
        When the cache cannot tell (unreachable), a fresh random value, so nothing stale is served."""
        ...

    def bump(self, tenant_ids: Collection[str]) -> None:
        """Advance the generation of each tenant, after its new events are visible in the store."""
        ...

    def ping(self) -> None:
        """Raise when the cache cannot be reached (readiness probes; ``get`` would hide it)."""
        ...

    def close(self) -> None: ...
