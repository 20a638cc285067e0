"""Embedded rate limiter: token buckets in this process.

One process serves every request on a laptop, so the buckets can live in memory: a
``cachetools.LRUCache`` of ``key -> (tokens, monotonic time of that count)`` behind one mutex. The
cache bounds memory; a bucket that is evicted comes back full, which only matters for a key unused
for longer than ``max_keys`` others were used, and such a bucket has usually refilled anyway.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from cachetools import LRUCache

from auditlog.ports.limiter import check_bucket, refilled, seconds_until

_Bucket = tuple[float, float]  # (tokens, clock reading when they were counted)


class MemoryRateLimiter:
    """``RateLimiter`` in process memory. ``clock`` is injectable (tests); it must not go back."""

    def __init__(self, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._buckets: LRUCache[str, _Bucket] = LRUCache(max_keys)
        self._clock = clock
        self._mutex = threading.Lock()

    def take(self, key: str, cost: int, rate_per_second: float, burst: int) -> float:
        check_bucket(cost, rate_per_second, burst)
        if cost > burst:
            return math.inf
        if cost == 0:
            return 0.0
        with self._mutex:
            now = self._clock()
            tokens = self._tokens(key, now, rate_per_second, burst)
            wait = seconds_until(tokens, cost, rate_per_second)
            if wait == 0.0:
                self._buckets[key] = (max(0.0, tokens - cost), now)
            return wait

    def refund(self, key: str, cost: int, rate_per_second: float, burst: int) -> None:
        check_bucket(cost, rate_per_second, burst)
        with self._mutex:
            now = self._clock()
            if key in self._buckets:  # an unknown bucket is full already
                tokens = self._tokens(key, now, rate_per_second, burst)
                self._buckets[key] = (min(float(burst), tokens + cost), now)

    def close(self) -> None:
        with self._mutex:
            self._buckets.clear()

    def __len__(self) -> int:
        with self._mutex:
            return len(self._buckets)

    def _tokens(self, key: str, now: float, rate_per_second: float, burst: int) -> float:
        """Tokens in ``key`` at ``now``; call with the mutex held."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return float(burst)
        tokens, counted_at = bucket
        return refilled(tokens, now - counted_at, rate_per_second, burst)
