"""The read path's use of the query cache: tenant-scoped keys and stampede protection.

When a popular query's entry expires, every reader asking for it at that moment misses together;
without protection each of them runs the same query against the store. ``cached`` lets one caller
(the holder of the cache's lock for that key) compute while the others poll the cache briefly,
and falls back to computing when the cache cannot help: unreachable (its ``try_lock`` answers
True), or the winner takes longer than ``wait_seconds`` or fails.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from auditlog import metrics
from auditlog.ports.cache import QueryCache

_KEY_VERSION = 1  # bump when the meaning of a cached value changes, to orphan old entries
_FIRST_POLL_SECONDS = 0.005
_MAX_POLL_SECONDS = 0.05


def cache_key(tenants: tuple[str, ...], params: list[tuple[str, str]], principal_scope: str) -> str:
    """``"{tenants}:{sha256}"``: the same query in any parameter order gives the same key.

    The tenants lead the key (for reading and per-tenant invalidation) and are hashed as well,
    with the sorted parameters and the principal's scope (what the caller may see), so an entry
    is only ever served to a query of the same tenants and scope.
    """
    scope = sorted(set(tenants))
    material = json.dumps(
        [_KEY_VERSION, scope, sorted(params), principal_scope],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(material.encode()).hexdigest()
    return f"{','.join(scope)}:{digest}"


def cached(
    cache: QueryCache,
    key: str,
    ttl_seconds: float,
    compute: Callable[[], bytes],
    wait_seconds: float = 2.0,
) -> bytes:
    """The cached value of ``key``, or ``compute()`` stored for ``ttl_seconds``.

    Of the callers that miss together, one computes; the others poll for its value for up to
    ``wait_seconds`` (taking over if its lock is released or expires without a value) and then
    compute themselves. ``compute``'s exceptions reach the caller and nothing is cached.
    """
    value = cache.get(key)
    if value is not None:
        metrics.CACHE.labels("hit").inc()
        return value
    metrics.CACHE.labels("miss").inc()
    lock_seconds = max(wait_seconds, 0.1)
    deadline = time.monotonic() + wait_seconds
    pause = _FIRST_POLL_SECONDS
    while True:
        if cache.try_lock(key, lock_seconds):
            return _compute_locked(cache, key, ttl_seconds, compute)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, _MAX_POLL_SECONDS)
        value = cache.get(key)
        if value is not None:
            return value
    value = compute()  # the winner is slow or gone: do not keep this reader waiting longer
    cache.set(key, value, ttl_seconds)
    return value


def _compute_locked(cache: QueryCache, key: str, ttl_seconds: float, compute: Callable[[], bytes]) -> bytes:
    try:
        value = cache.get(key)  # a winner may have finished between our miss and our lock
        if value is None:
            value = compute()
            cache.set(key, value, ttl_seconds)
        return value
    finally:
        cache.unlock(key)
