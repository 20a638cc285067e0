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

from auditlog.errors import AuditLogError, FieldProblem, PayloadTooLarge, RateLimited
from auditlog.model.policy import RateLimit

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


class RequestLimits:
    """The limits of one request: a write passes its caller's bucket and its tenant's; a read
    passes its caller's.

    A write takes from the caller's bucket first, so a caller over its own limit never drains
    its tenant's (the other callers' share). When the tenant's bucket then refuses, the caller's
    tokens are put back: a refused write costs nothing anywhere, so a caller that loses the race
    for a busy tenant is not charged twice.
    """

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    def check_write(self, tenant_id: str, caller: str, events: int, policy: RateLimit) -> None:
        """Raise ``RateLimited`` (429) when the caller or its tenant must wait, and
        ``PayloadTooLarge`` (413) when ``events`` is more than either bucket can ever hold."""
        largest = min(policy.caller_event_burst, policy.tenant_event_burst)
        if events > largest:
            raise _too_large(events, largest)
        caller_key = bucket_key("write-caller", tenant_id, caller)
        caller_args = (events, policy.caller_events_per_second, policy.caller_event_burst)
        wait = self._limiter.take(caller_key, *caller_args)
        if wait > 0:
            raise _refused(
                wait,
                events,
                policy.caller_event_burst,
                f"this caller writes more than its limit of {policy.caller_events_per_second:g} "
                f"events/s (bursts of {policy.caller_event_burst})",
                "rate_limit.caller_events_per_second",
            )
        wait = self._limiter.take(
            bucket_key("write-tenant", tenant_id),
            events,
            policy.tenant_events_per_second,
            policy.tenant_event_burst,
        )
        if wait > 0:
            self._limiter.refund(caller_key, *caller_args)
            raise _refused(
                wait,
                events,
                policy.tenant_event_burst,
                f"this tenant writes more than its limit of {policy.tenant_events_per_second:g} "
                f"events/s (bursts of {policy.tenant_event_burst})",
                "rate_limit.tenant_events_per_second",
            )

    def check_read(self, tenant_id: str, caller: str, policy: RateLimit) -> None:
        """Raise ``RateLimited`` (429) when the caller must wait before another read."""
        wait = self._limiter.take(
            bucket_key("read-caller", tenant_id, caller),
            1,
            policy.caller_reads_per_second,
            policy.caller_read_burst,
        )
        if wait > 0:
            raise _refused(
                wait,
                1,
                policy.caller_read_burst,
                f"this caller reads more than its limit of {policy.caller_reads_per_second:g} "
                f"requests/s (bursts of {policy.caller_read_burst})",
                "rate_limit.caller_reads_per_second",
            )

    def close(self) -> None:
        self._limiter.close()


def _too_large(events: int, burst: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{events} events is more than this tenant's rate limit lets through at once ({burst}); "
        f"send at most {burst} events per request",
        [FieldProblem("events", f"has more than {burst} events, the rate limit's burst")],
    )


def _refused(wait: float, cost: int, burst: int, reason: str, setting: str) -> AuditLogError:
    if math.isinf(wait):  # cost > burst: unreachable after the check in check_write, but never a 429
        return _too_large(cost, burst)
    retry = max(1, math.ceil(wait))
    return RateLimited(f"{reason}; retry after {retry} s", wait, [FieldProblem(setting, "is exceeded")])
