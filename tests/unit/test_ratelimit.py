"""Token buckets (``MemoryRateLimiter``) and the limits of a request (``RequestLimits``).

``LimiterContract`` is the behaviour every ``RateLimiter`` shares; the Redis limiter runs the same
class in tests/integration/test_redis_ratelimit.py, on the server's clock instead of a fake one.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from auditlog.auth.limits import RequestLimits
from auditlog.backends.embedded.memory_ratelimit import MemoryRateLimiter
from auditlog.errors import PayloadTooLarge, RateLimited
from auditlog.model.policy import RateLimit
from auditlog.ports.limiter import RateLimiter, bucket_key

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    limiter: RateLimiter
    advance: Callable[[float], None]
    tolerance: float  # seconds the backend's own clock may move between two calls


class LimiterContract:
    """What every ``RateLimiter`` does; a subclass provides the ``harness`` fixture."""

    def test_a_fresh_bucket_lets_its_burst_through_then_refuses(self, harness: Harness) -> None:
        take = harness.limiter.take
        assert [take("k", 1, 1.0, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
        assert take("k", 1, 1.0, 3) == pytest.approx(1.0, abs=harness.tolerance)

    def test_the_wait_is_for_the_whole_cost_and_a_refusal_takes_nothing(self, harness: Harness) -> None:
        take = harness.limiter.take
        assert take("k", 60, 10.0, 100) == 0.0  # 40 left
        assert take("k", 50, 10.0, 100) == pytest.approx(1.0, abs=harness.tolerance)  # 10 short
        assert take("k", 40, 10.0, 100) == 0.0  # the refusal took nothing
        assert take("k", 1, 10.0, 100) == pytest.approx(0.1, abs=harness.tolerance)

    def test_waiting_the_answered_time_is_enough(self, harness: Harness) -> None:
        take = harness.limiter.take
        assert take("k", 10, 100.0, 10) == 0.0
        wait = take("k", 5, 100.0, 10)
        assert wait == pytest.approx(0.05, abs=harness.tolerance)
        harness.advance(wait)
        assert take("k", 5, 100.0, 10) == 0.0

    def test_the_bucket_refills_over_time(self, harness: Harness) -> None:
        take = harness.limiter.take
        assert take("k", 20, 20.0, 20) == 0.0
        harness.advance(0.25)
        assert take("k", 5, 20.0, 20) == 0.0
        assert take("k", 1, 20.0, 20) == pytest.approx(0.05, abs=harness.tolerance)
        assert take("k", 3, 20.0, 20) > take("k", 1, 20.0, 20)

    def test_refill_stops_at_the_burst(self, harness: Harness) -> None:
        take = harness.limiter.take
        assert take("k", 5, 100.0, 5) == 0.0
        harness.advance(0.2)  # 20 tokens' worth of time
        assert take("k", 5, 100.0, 5) == 0.0
        assert take("k", 5, 100.0, 5) > 0

    def test_a_cost_above_the_burst_is_infinite_and_takes_nothing(self, harness: Harness) -> None:
        take = harness.limiter.take
        assert take("k", 11, 1.0, 10) == math.inf
        assert take("k", 10, 1.0, 10) == 0.0

    def test_a_fractional_rate_answers_long_waits(self, harness: Harness) -> None:
        take = harness.limiter.take
        assert take("k", 1, 0.5, 1) == 0.0
        assert take("k", 1, 0.5, 1) == pytest.approx(2.0, abs=harness.tolerance)

    def test_zero_cost_is_free_and_bad_arguments_raise(self, harness: Harness) -> None:
        take = harness.limiter.take
        assert take("k", 1, 1.0, 1) == 0.0
        assert take("k", 0, 1.0, 1) == 0.0  # even from an empty bucket
        for cost, rate, burst in [
            (-1, 1.0, 1),
            (1, 0.0, 1),
            (1, -1.0, 1),
            (1, math.inf, 1),
            (1, math.nan, 1),
        ]:
            with pytest.raises(ValueError):
                take("k", cost, rate, burst)
        with pytest.raises(ValueError):
            take("k", 1, 1.0, 0)
        with pytest.raises(ValueError):
            harness.limiter.refund("k", -1, 1.0, 1)

    def test_keys_are_independent(self, harness: Harness) -> None:
        take = harness.limiter.take
        assert take("a", 1, 1.0, 1) == 0.0
        assert take("a", 1, 1.0, 1) > 0
        assert take("b", 1, 1.0, 1) == 0.0

    def test_refund_puts_tokens_back_up_to_the_burst(self, harness: Harness) -> None:
        limiter = harness.limiter
        assert limiter.take("k", 8, 1.0, 10) == 0.0  # 2 left
        limiter.refund("k", 5, 1.0, 10)  # 7
        assert limiter.take("k", 8, 1.0, 10) == pytest.approx(1.0, abs=harness.tolerance)
        assert limiter.take("k", 7, 1.0, 10) == 0.0  # 0 left
        limiter.refund("k", 20, 1.0, 10)  # capped at 10
        assert limiter.take("k", 10, 1.0, 10) == 0.0
        assert limiter.take("k", 1, 1.0, 10) == pytest.approx(1.0, abs=harness.tolerance)

    def test_refund_to_an_unknown_bucket_changes_nothing(self, harness: Harness) -> None:
        limiter = harness.limiter
        limiter.refund("new", 5, 1.0, 10)
        assert limiter.take("new", 10, 1.0, 10) == 0.0
        assert limiter.take("new", 1, 1.0, 10) > 0

    def test_a_smaller_burst_applies_at_once(self, harness: Harness) -> None:
        take = harness.limiter.take
        assert take("k", 1, 1.0, 100) == 0.0  # 99 left
        assert take("k", 10, 1.0, 10) == 0.0  # a new policy: at most 10
        assert take("k", 1, 1.0, 10) > 0


# -- the in-process limiter -----------------------------------------------------------------------


class TestMemoryLimiter(LimiterContract):
    @pytest.fixture
    def harness(self) -> Harness:
        clock = FakeClock()
        return Harness(MemoryRateLimiter(clock=clock), clock.advance, tolerance=0.0)


def test_memory_limiter_keeps_at_most_max_keys_and_an_evicted_bucket_comes_back_full() -> None:
    limiter = MemoryRateLimiter(max_keys=2, clock=FakeClock())
    assert limiter.take("a", 1, 1.0, 1) == 0.0
    assert limiter.take("b", 1, 1.0, 1) == 0.0
    assert limiter.take("a", 1, 1.0, 1) == 1.0  # "a" is now the most recently used
    assert limiter.take("c", 1, 1.0, 1) == 0.0  # evicts "b"
    assert len(limiter) == 2
    assert limiter.take("b", 1, 1.0, 1) == 0.0
    assert limiter.take("a", 1, 1.0, 1) == 0.0  # evicted by "b" in its turn
    with pytest.raises(ValueError):
        MemoryRateLimiter(max_keys=0)


def test_memory_limiter_close_forgets_every_bucket() -> None:
    limiter = MemoryRateLimiter(clock=FakeClock())
    assert limiter.take("k", 1, 1.0, 1) == 0.0
    limiter.close()
    assert len(limiter) == 0
    assert limiter.take("k", 1, 1.0, 1) == 0.0


def concurrent_takes(limiters: list[RateLimiter], threads: int, takes: int, burst: int) -> int:
    """How many of ``threads * takes`` single-token takes pass, threads spread over ``limiters``."""
    allowed = 0
    mutex = threading.Lock()
    start = threading.Barrier(threads)

    def run(limiter: RateLimiter) -> None:
        nonlocal allowed
        start.wait()
        mine = sum(limiter.take("shared", 1, 1e-6, burst) == 0.0 for _ in range(takes))
        with mutex:
            allowed += mine

    workers = [threading.Thread(target=run, args=(limiters[i % len(limiters)],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return allowed


def test_memory_limiter_never_lets_more_than_the_burst_through_across_threads() -> None:
    limiter = MemoryRateLimiter()
    assert concurrent_takes([limiter], threads=8, takes=500, burst=1000) == 1000


# -- RequestLimits -----------------------------------------------------------------------------------

POLICY = RateLimit(
    tenant_events_per_second=10,
    tenant_event_burst=100,
    caller_events_per_second=5,
    caller_event_burst=60,
    caller_reads_per_second=2,
    caller_read_burst=3,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limits(clock: FakeClock) -> RequestLimits:
    return RequestLimits(MemoryRateLimiter(clock=clock))


def test_a_caller_over_its_limit_is_refused_with_retry_after_and_leaves_the_tenant_alone(
    limits: RequestLimits,
) -> None:
    limits.charge_events("acme", "alice", 60, POLICY)
    with pytest.raises(RateLimited) as refused:
        limits.charge_events("acme", "alice", 1, POLICY)
    assert refused.value.status == 429
    assert refused.value.code == "resource_exhausted"
    assert refused.value.retry_after_seconds == 1  # 0.2 s, rounded up to the header's whole seconds
    assert [d.field for d in refused.value.details] == ["rate_limit.caller_events_per_second"]
    assert "5 events/s" in refused.value.message
    # alice's refusals took nothing from acme: 40 of its 100 are still there for bob
    for _ in range(5):
        with pytest.raises(RateLimited):
            limits.charge_events("acme", "alice", 10, POLICY)
    limits.charge_events("acme", "bob", 40, POLICY)


def test_callers_share_their_tenant_bucket_and_a_tenant_refusal_costs_the_caller_nothing(
    limits: RequestLimits, clock: FakeClock
) -> None:
    limits.charge_events("acme", "alice", 60, POLICY)
    limits.charge_events("acme", "bob", 40, POLICY)  # acme's 100 are gone
    with pytest.raises(RateLimited) as refused:
        limits.charge_events("acme", "carol", 50, POLICY)
    assert refused.value.retry_after_seconds == 5  # 50 events at 10/s
    assert [d.field for d in refused.value.details] == ["rate_limit.tenant_events_per_second"]
    clock.advance(5)
    limits.charge_events("acme", "carol", 50, POLICY)  # carol's own 60 were all put back
    limits.charge_events("other", "alice", 60, POLICY)  # another tenant, other buckets


def test_more_events_than_either_burst_is_too_large_not_rate_limited(limits: RequestLimits) -> None:
    with pytest.raises(PayloadTooLarge) as too_large:
        limits.charge_events("acme", "alice", 61, POLICY)  # over the caller's burst of 60
    assert too_large.value.status == 413
    assert [d.field for d in too_large.value.details] == ["events"]
    assert "at most 60" in too_large.value.message
    narrow = POLICY.model_copy(update={"tenant_event_burst": 20})
    with pytest.raises(PayloadTooLarge):
        limits.charge_events("acme", "alice", 21, narrow)
    limits.charge_events("acme", "alice", 60, POLICY)  # nothing was taken


def test_reads_are_limited_per_caller_and_apart_from_writes(limits: RequestLimits, clock: FakeClock) -> None:
    for _ in range(3):
        limits.charge_requests("acme", "alice", 1, POLICY)
    with pytest.raises(RateLimited) as refused:
        limits.charge_requests("acme", "alice", 1, POLICY)
    assert refused.value.retry_after_seconds == 1
    assert [d.field for d in refused.value.details] == ["rate_limit.caller_reads_per_second"]
    limits.charge_requests("acme", "bob", 1, POLICY)
    limits.charge_requests("other", "alice", 1, POLICY)  # the same subject in another tenant
    limits.charge_events("acme", "alice", 60, POLICY)
    clock.advance(0.5)
    limits.charge_requests("acme", "alice", 1, POLICY)


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert RateLimited("slow down", 0.001).retry_after_seconds == 1
    assert RateLimited("slow down", 1.0).retry_after_seconds == 1
    assert RateLimited("slow down", 2.5).retry_after_seconds == 3
    body = RateLimited("slow down", 2.5).body("req-1")
    assert body["error"]["code"] == "resource_exhausted"


def test_bucket_keys_cannot_be_forged_with_separators() -> None:
    assert bucket_key("w", "a:b", "c") != bucket_key("w", "a", "b:c")
    assert bucket_key("w", "acme", "alice") == "w:acme:alice"
