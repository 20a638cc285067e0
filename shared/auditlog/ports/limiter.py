"""Rate limits: token buckets for writes (counted in events) and reads (counted in requests).

A bucket holds at most ``burst`` tokens, refills at ``rate_per_second`` and starts full. ``take``
either removes ``cost`` tokens and answers 0.0, or removes nothing and answers the seconds until
``cost`` tokens will be there (the ``Retry-After``). A cost larger than ``burst`` can never pass,
however long the caller waits: ``take`` answers ``math.inf`` for it, removes nothing, and
``RequestLimits`` turns it into 413 rather than a 429 whose retry would fail again.

Embedded: in-process buckets (``backends/memory_ratelimit``). GCP: one bucket per key in Redis,
shared by every instance (``backends/redis_ratelimit``); it lets requests through when Redis cannot
be reached, because an audit log that refuses writes when its limiter is down loses events.

Why not the ``limits`` library (5.8.0, well kept): its strategies are fixed window, moving window
and sliding-window counter, none of which is a token bucket with a rate and a burst of its own
(``TenantPolicy.rate_limit`` has both); its windows answer a reset time, not how long until
``cost`` tokens are free, so ``Retry-After`` would be too long or too short for a 1000-event
batch; its moving window keeps one Redis list entry per unit of cost (10,000 entries for a full
caller burst) and, like its Redis storage generally, stamps entries with the caller's clock; its
memory storage runs a timer thread every 10 ms and has no bound on keys; and a Redis error raises,
so fail-open and the failure count would be ours anyway. A token bucket is one short Lua script
and ten lines of Python, tested here against both backends.
"""

from __future__ import annotations

import math
from typing import Protocol
from urllib.parse import quote

# Tokens short of ``cost`` that still count as enough: after waiting exactly the answered time,
# float arithmetic can leave the bucket a few ulps short, which must not cost another 429.
EPSILON = 1e-9


class RateLimiter(Protocol):
    def take(self, key: str, cost: int, rate_per_second: float, burst: int) -> float:
        """Remove ``cost`` tokens from the bucket ``key`` and answer 0.0; or, when fewer are
        there, remove nothing and answer the seconds until ``cost`` tokens will be. ``math.inf``
        when ``cost > burst`` (it can never pass). A cost of 0 answers 0.0. Raises ValueError for
        a negative cost, a rate that is not positive and finite, or a burst below 1."""
        ...

    def refund(self, key: str, cost: int, rate_per_second: float, burst: int) -> None:
        """Put back ``cost`` tokens taken for work that was then refused elsewhere (never more
        than ``burst``)."""
        ...

    def close(self) -> None: ...


def check_bucket(cost: int, rate_per_second: float, burst: int) -> None:
    """The arguments every limiter refuses, whatever its storage."""
    if cost < 0:
        raise ValueError(f"cost must not be negative, got {cost}")
    if not (rate_per_second > 0 and math.isfinite(rate_per_second)):
        raise ValueError(f"rate_per_second must be positive and finite, got {rate_per_second}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, got {burst}")


def refilled(tokens: float, elapsed_seconds: float, rate_per_second: float, burst: int) -> float:
    """Tokens after ``elapsed_seconds`` of refill (a clock that went back refills nothing)."""
    return min(float(burst), tokens + max(0.0, elapsed_seconds) * rate_per_second)


def seconds_until(tokens: float, cost: int, rate_per_second: float) -> float:
    """0.0 when ``cost`` tokens are there, else the seconds of refill still needed."""
    missing = cost - tokens
    return 0.0 if missing <= EPSILON else missing / rate_per_second


def bucket_key(kind: str, *parts: str) -> str:
    """``kind:part:part``, each part percent-encoded so that no tenant or caller containing ``:``
    can name another's bucket (``a:b`` + ``c`` and ``a`` + ``b:c`` stay apart)."""
    return ":".join([kind, *(quote(p, safe="") for p in parts)])
