"""The limits of one request, charged by the HTTP app as each route's ``cost`` declares
(``http/rules.py``): requests from the caller's request bucket, events from the caller's and the
tenant's event buckets. The buckets themselves are ``ports/limiter.py``'s."""

from __future__ import annotations

import math

from auditlog.errors import AuditLogError, FieldProblem, PayloadTooLarge, RateLimited
from auditlog.model.policy import RateLimit
from auditlog.ports.limiter import RateLimiter, bucket_key


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

    def charge_events(self, tenant_id: str, caller: str, events: int, policy: RateLimit) -> None:
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

    def charge_requests(self, tenant_id: str, caller: str, tokens: int, policy: RateLimit) -> None:
        """Raise ``RateLimited`` (429) when the caller must wait before this request (which costs
        ``tokens``, more than one for a long export; never more than the bucket holds)."""
        tokens = min(tokens, policy.caller_read_burst)
        wait = self._limiter.take(
            bucket_key("read-caller", tenant_id, caller),
            tokens,
            policy.caller_reads_per_second,
            policy.caller_read_burst,
        )
        if wait > 0:
            raise _refused(
                wait,
                tokens,
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
    if math.isinf(wait):  # cost > burst: unreachable after the check in charge_events, but never a 429
        return _too_large(cost, burst)
    retry = max(1, math.ceil(wait))
    return RateLimited(f"{reason}; retry after {retry} s", wait, [FieldProblem(setting, "is exceeded")])
