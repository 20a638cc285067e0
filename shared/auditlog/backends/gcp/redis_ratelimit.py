"""GCP rate limiter: token buckets in Redis (Memorystore), shared by every instance.

One bucket is one hash, ``rl:<key>`` = ``{tokens, at}``, where ``at`` is the Redis server's clock
in microseconds when ``tokens`` was counted. Each ``take`` is one Lua script, so refill, check and
removal are atomic however many instances share the bucket; the script reads the time with
``TIME`` on the server, so instances whose clocks disagree still refill the bucket at one rate.
Each write sets an expiry of the time a bucket needs to refill (plus a second, at most a day): a
bucket that is gone is full, so Redis keeps no state for idle callers.

When Redis cannot be reached, every ``take`` answers 0.0 (allowed): the service fails OPEN. The
limiter protects the service from floods, but the service exists to keep audit events, and a
write refused because the limiter's cache is down is an event lost, while an unlimited minute only
costs capacity that the queue absorbs. Each such call is counted in ``failures`` and a warning is
logged at most once a minute. The house habits for a Redis on the request path keep a dead one
cheap: short timeouts and no retries (``redis_cache.connect()``), and after a failure Redis is
left alone for ``health.rest_seconds``, so a hung Redis costs one timeout per second per process.
"""

from __future__ import annotations

import logging
import math

import redis

from auditlog.backends.gcp.redis_cache import connect
from auditlog.backends.gcp.redis_failures import RedisFailures
from auditlog.ports.limiter import check_bucket

log = logging.getLogger(__name__)

MAX_EXPIRY_MS = 86_400_000  # a bucket that takes longer to refill comes back full after a day

# KEYS[1]: the bucket. ARGV: rate per second, burst, cost, expiry in ms.
# Sets `tokens` (refilled up to now), `now` (server microseconds) and `at_text` (`now` as text).
_REFILL = """
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local at_text = clock[1] .. string.format('%06d', tonumber(clock[2]))
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
local known = tokens ~= nil and at ~= nil
if known then
    tokens = math.min(burst, tokens + math.max(0, now - at) / 1000000 * rate)
else
    tokens = burst
end
local function save(value)
    redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', value), 'at', at_text)
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
"""

# 0 when taken; else the microseconds until `cost` tokens will be there, and nothing is written.
_TAKE = (
    _REFILL
    + """
local missing = cost - tokens
if missing > 1e-9 then
    return math.ceil(missing / rate * 1000000)
end
save(math.max(0, tokens - cost))
return 0
"""
)

# A bucket with no state is full: nothing to give back to it.
_REFUND = (
    _REFILL
    + """
if known then
    save(math.min(burst, tokens + cost))
end
return 0
"""
)

_ERRORS = (redis.RedisError, OSError)


def expiry_ms(rate_per_second: float, burst: int) -> int:
    """How long a bucket's state matters: until it has refilled, plus a second of slack."""
    return min(MAX_EXPIRY_MS, math.ceil(burst / rate_per_second * 1000) + 1000)


class RedisRateLimiter:
    """``RateLimiter`` on Redis. Owns ``client`` (closes it); build it with ``connect()``."""

    def __init__(self, client: redis.Redis, prefix: str = "rl:") -> None:
        self._client = client
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._refund = client.register_script(_REFUND)
        self.health = RedisFailures(
            "rate limiter", "requests pass unlimited until it answers (fail open)", logger=log
        )

    @property
    def failures(self) -> int:
        """Calls answered without Redis (errors, and calls skipped while it is left alone)."""
        return self.health.count

    @classmethod
    def from_url(cls, url: str, prefix: str = "rl:") -> RedisRateLimiter:
        return cls(connect(url), prefix)

    def take(self, key: str, cost: int, rate_per_second: float, burst: int) -> float:
        check_bucket(cost, rate_per_second, burst)
        if cost > burst:
            return math.inf
        if cost == 0 or self.health.resting():
            return 0.0
        try:
            waited = self._take(
                keys=[self._prefix + key],
                args=[rate_per_second, burst, cost, expiry_ms(rate_per_second, burst)],
            )
        except _ERRORS as exc:
            self.health.failed("take", exc)
            return 0.0  # fail open: see the module docstring
        return int(waited) / 1_000_000

    def refund(self, key: str, cost: int, rate_per_second: float, burst: int) -> None:
        check_bucket(cost, rate_per_second, burst)
        if cost == 0 or self.health.resting():
            return
        try:
            self._refund(
                keys=[self._prefix + key],
                args=[rate_per_second, burst, cost, expiry_ms(rate_per_second, burst)],
            )
        except _ERRORS as exc:
            self.health.failed("refund", exc)

    def close(self) -> None:
        self._client.close()
