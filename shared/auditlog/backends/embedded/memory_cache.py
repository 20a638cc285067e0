"""Embedded query cache: an in-process LRU whose entries each carry their own TTL.

One process serves every read on a laptop, so the cache and its stampede locks can live in memory:
a ``cachetools.TLRUCache`` (least recently used goes first when full; an entry is gone once its
TTL has passed) behind one mutex, and a dict of lock deadlines. A lock that is never released
(its holder crashed or forgot) expires after its TTL, like the Redis one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection

from cachetools import TLRUCache

_Entry = tuple[bytes, float]  # (value, ttl_seconds)


def _time_to_use(_key: str, entry: _Entry, now: float) -> float:
    return now + entry[1]


class MemoryQueryCache:
    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._entries: TLRUCache[str, _Entry] = TLRUCache(max_entries, _time_to_use, time.monotonic)
        self._locks: dict[str, float] = {}  # key -> monotonic deadline
        self._mutex = threading.Lock()
        self._generations: dict[str, int] = {}

    def get(self, key: str) -> bytes | None:
        with self._mutex:
            entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        with self._mutex:
            # A TTL that has already passed removes any older value instead of storing this one.
            self._entries[key] = (value, ttl_seconds)

    def try_lock(self, key: str, ttl_seconds: float) -> bool:
        now = time.monotonic()
        with self._mutex:
            deadline = self._locks.get(key)
            if deadline is not None and now < deadline:
                return False
            if len(self._locks) >= self._max_entries:
                self._sweep_locks(now)  # only leaked locks pile up; drop the expired ones
            self._locks[key] = now + ttl_seconds
            return True

    def unlock(self, key: str) -> None:
        with self._mutex:
            self._locks.pop(key, None)

    def generations(self, tenant_ids: tuple[str, ...]) -> list[str]:
        with self._mutex:
            return [str(self._generations.get(t, 0)) for t in tenant_ids]

    def bump(self, tenant_ids: Collection[str]) -> None:
        with self._mutex:
            for tenant in tenant_ids:
                self._generations[tenant] = self._generations.get(tenant, 0) + 1

    def ping(self) -> None:
        pass  # in the process: always reachable

    def close(self) -> None:
        with self._mutex:
            self._entries.clear()
            self._locks.clear()

    def _sweep_locks(self, now: float) -> None:
        for key in [k for k, deadline in self._locks.items() if deadline <= now]:
            del self._locks[key]
