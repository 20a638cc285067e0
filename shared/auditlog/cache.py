"""The query cache: results of reads, per tenant and normalised query, with a TTL.

Embedded: an in-process LRU with TTL. GCP: Memorystore (Redis). A cache failure never fails a read;
it is counted and the store answers.
"""

from __future__ import annotations

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

    def close(self) -> None: ...
