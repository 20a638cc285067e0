"""Idempotency registry on Redis (Memorystore): which audit_ids a tenant already had accepted.

One key per id, ``idem:{<tenant>}:<audit_id>``, value the receipt (the hex leaf hash the first copy
was answered with), expiring after ``ttl_seconds``. The tenant is a hash tag, so all of one
tenant's keys live in one slot and a batch stays one command on a Redis Cluster too. ``known`` is
one MGET and ``remember`` one EVAL of ``SET ... EX`` per key: one round trip each, whatever the
size of the batch.

The registry is a cache in front of the claims (``ports/claims.py``), which are the authority: it
may forget anything. So when Redis cannot be reached, ``known`` answers "none known" and
``remember`` does nothing; each such call is counted in ``failures`` and a warning is
logged at most once a minute. After a failure Redis is left alone for ``retry_after_seconds``
(calls in that time count as failures too), so that an unreachable Redis costs one timeout per
interval rather than one per request.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from auditlog.backends.gcp.redis_cache import tls_options
from auditlog.backends.gcp.redis_failures import RedisFailures

log = logging.getLogger(__name__)


# SET ... EX for every key in one command. A pipeline of 1000 SETs is also one round trip, but
# redis-py spends ~15 ms of CPU building and parsing it against ~3 ms for this (measured); EVAL
# rather than EVALSHA so that a restarted Redis never costs extra round trips.
_REMEMBER = (
    "for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1]) end return #KEYS"
)


def _receipt(value: bytes) -> bytes:
    """A stored receipt; entries written before receipts were kept hold ``1`` (no receipt)."""
    try:
        return bytes.fromhex(value.decode())
    except ValueError:
        return b""


def redis_client(url: str, *, timeout_seconds: float = 0.5, ca_cert: str | None = None) -> redis.Redis:
    """A client that gives up quickly: the registry is on the request path, and redis-py's
    defaults (5 s socket timeouts, retried) would hold a request for seconds when Redis is away."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
        **tls_options(url, ca_cert),
    )


class RedisIdempotencyRegistry:
    def __init__(self, client: redis.Redis, ttl_seconds: int, *, retry_after_seconds: float = 1.0) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._client = client
        self._ttl = ttl_seconds
        self.health = RedisFailures(
            "idempotency registry",
            "duplicates are still removed by the store",
            logger=log,
            rest_seconds=retry_after_seconds,
        )

    @property
    def failures(self) -> int:
        """Calls that could not consult Redis (errors and calls skipped while it is down)."""
        return self.health.count

    @staticmethod
    def key(tenant_id: str, audit_id: str) -> str:
        return f"idem:{{{tenant_id}}}:{audit_id}"

    def known(self, tenant_id: str, audit_ids: list[str]) -> dict[str, bytes]:
        if not audit_ids or self.health.resting():
            return {}
        try:
            values: list[Any] = self._client.mget([self.key(tenant_id, a) for a in audit_ids])
        except (redis.RedisError, OSError) as exc:
            self.health.failed("known", exc)
            return {}
        return {a: _receipt(v) for a, v in zip(audit_ids, values, strict=True) if v is not None}

    def remember(self, tenant_id: str, receipts: dict[str, bytes]) -> None:
        if not receipts or self.health.resting():
            return
        keys = [self.key(tenant_id, a) for a in receipts]
        try:
            self._client.eval(_REMEMBER, len(keys), *keys, self._ttl, *(r.hex() for r in receipts.values()))
        except (redis.RedisError, OSError) as exc:
            self.health.failed("remember", exc)

    def close(self) -> None:
        self._client.close()

    # -- failure handling ---------------------------------------------------------------------
