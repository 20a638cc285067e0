"""The Redis rate limiter against a real redis-server, and against none at all."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from auditlog.auth.limits import RequestLimits
from auditlog.backends.gcp.redis_cache import connect
from auditlog.backends.gcp.redis_ratelimit import MAX_EXPIRY_MS, RedisRateLimiter, expiry_ms
from auditlog.errors import RateLimited
from auditlog.model.policy import RateLimit
from tests.conftest import free_port
from tests.unit.test_ratelimit import Harness, LimiterContract, concurrent_takes

pytestmark = pytest.mark.integration


@pytest.fixture
def raw(redis_server: Any) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(f"redis://{redis_server.host}/0", decode_responses=True)
    client.flushdb()
    yield client
    client.close()


def limiter_on(redis_server: Any) -> RedisRateLimiter:
    return RedisRateLimiter.from_url(f"redis://{redis_server.host}/0")


@pytest.fixture
def limiter(redis_server: Any, raw: redis.Redis) -> Iterator[RedisRateLimiter]:
    lim = limiter_on(redis_server)
    yield lim
    lim.close()


@pytest.fixture
def other(redis_server: Any, raw: redis.Redis) -> Iterator[RedisRateLimiter]:
    """A second limiter, as on another instance."""
    lim = limiter_on(redis_server)
    yield lim
    lim.close()


@pytest.fixture
def dead() -> Iterator[RedisRateLimiter]:
    """A limiter whose Redis is a port nobody listens on."""
    lim = RedisRateLimiter(connect(f"redis://127.0.0.1:{free_port()}/0"))
    yield lim
    lim.close()


class TestRedisLimiter(LimiterContract):
    """The shared contract on the server's clock: real sleeps (a few ms over, as the server's
    wall clock and this process's monotonic one may differ by a hair) and a little tolerance."""

    @pytest.fixture
    def harness(self, limiter: RedisRateLimiter) -> Iterator[Harness]:
        yield Harness(limiter, lambda seconds: time.sleep(seconds + 0.003), tolerance=0.05)
        assert limiter.failures == 0


def test_two_instances_share_one_bucket(limiter: RedisRateLimiter, other: RedisRateLimiter) -> None:
    assert limiter.take("k", 3, 0.001, 5) == 0.0
    assert other.take("k", 3, 0.001, 5) > 0
    assert other.take("k", 2, 0.001, 5) == 0.0
    assert limiter.take("k", 1, 0.001, 5) > 0


def test_concurrent_takes_on_two_instances_never_pass_more_than_the_burst(
    limiter: RedisRateLimiter, other: RedisRateLimiter
) -> None:
    assert concurrent_takes([limiter, other], threads=6, takes=50, burst=100) == 100


def test_state_is_a_hash_on_the_server_clock_that_expires_once_refilled(
    limiter: RedisRateLimiter, raw: redis.Redis
) -> None:
    assert limiter.take("k", 3, 10.0, 5) == 0.0
    state = raw.hgetall("rl:k")
    assert float(state["tokens"]) == pytest.approx(2.0)
    seconds, micros = raw.time()
    assert abs(int(state["at"]) - (seconds * 1_000_000 + micros)) < 1_000_000
    assert 0 < raw.pttl("rl:k") <= expiry_ms(10.0, 5) == 1500
    limiter.take("slow", 1, 1e-6, 10)
    assert 0 < raw.pttl("rl:slow") <= MAX_EXPIRY_MS


def test_a_refusal_and_a_refund_to_an_unknown_bucket_write_nothing(
    limiter: RedisRateLimiter, raw: redis.Redis
) -> None:
    limiter.refund("new", 5, 1.0, 10)
    assert limiter.take("big", 11, 1.0, 10) == float("inf")
    assert raw.keys("*") == []


def test_prefixes_keep_limiters_apart(redis_server: Any, limiter: RedisRateLimiter) -> None:
    elsewhere = RedisRateLimiter.from_url(f"redis://{redis_server.host}/0", prefix="other:")
    try:
        assert limiter.take("k", 1, 0.001, 1) == 0.0
        assert elsewhere.take("k", 1, 0.001, 1) == 0.0
    finally:
        elsewhere.close()


def test_request_limits_across_instances(limiter: RedisRateLimiter, other: RedisRateLimiter) -> None:
    policy = RateLimit(
        tenant_events_per_second=0.01,
        tenant_event_burst=100,
        caller_events_per_second=0.01,
        caller_event_burst=80,
    )
    RequestLimits(limiter).charge_events("acme", "alice", 60, policy)
    with pytest.raises(RateLimited) as refused:
        RequestLimits(other).charge_events("acme", "bob", 50, policy)  # acme has 40 left
    assert refused.value.retry_after_seconds == 1000  # 10 events at 0.01/s
    RequestLimits(other).charge_events("acme", "bob", 40, policy)  # bob's 80 were put back


def test_dead_redis_allows_counts_and_warns_once_quickly(
    dead: RedisRateLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="auditlog.backends.gcp.redis_ratelimit")
    started = time.perf_counter()
    for _ in range(200):
        assert dead.take("k", 1, 1.0, 1) == 0.0
    dead.refund("k", 1, 1.0, 1)
    assert time.perf_counter() - started < 0.5
    assert dead.failures == 201  # one refused connection, then calls skipped while resting
    warnings = [r for r in caplog.records if "Redis" in r.getMessage()]
    assert len(warnings) == 1


def test_dead_redis_is_tried_again_after_a_rest(dead: RedisRateLimiter) -> None:
    dead.health.rest_seconds = 0.0
    assert dead.take("k", 1, 1.0, 1) == 0.0
    assert dead.take("k", 1, 1.0, 1) == 0.0
    assert dead.failures == 2


def test_a_redis_error_fails_open_too(limiter: RedisRateLimiter, raw: redis.Redis) -> None:
    raw.set("rl:k", "not a hash")  # HMGET answers WRONGTYPE inside the script
    assert limiter.take("k", 1, 1.0, 1) == 0.0
    assert limiter.failures == 1
