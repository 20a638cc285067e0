"""The Redis query cache against a real redis-server, and against none at all."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from auditlog.backends.gcp.redis_cache import RedisQueryCache, connect
from auditlog.read.query_cache import cached
from tests.conftest import free_port
from tests.unit.test_query_cache import Counter, stampede

pytestmark = pytest.mark.integration


@pytest.fixture
def raw(redis_server: Any) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(f"redis://{redis_server.host}/0")
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def cache(redis_server: Any, raw: redis.Redis) -> Iterator[RedisQueryCache]:
    c = RedisQueryCache.from_url(f"redis://{redis_server.host}/0")
    yield c
    c.close()


@pytest.fixture
def dead_cache() -> Iterator[RedisQueryCache]:
    """A cache whose Redis is a port nobody listens on."""
    c = RedisQueryCache(connect(f"redis://127.0.0.1:{free_port()}/0"))
    yield c
    c.close()


def test_get_set_and_per_entry_ttl(cache: RedisQueryCache, raw: redis.Redis) -> None:
    assert cache.get("k") is None
    cache.set("short", b"s", 0.05)
    cache.set("long", b"\x00binary\xff", 60)
    assert cache.get("short") == b"s"
    assert 0 < raw.pttl("qc:v:short") <= 50
    time.sleep(0.06)
    assert cache.get("short") is None
    assert cache.get("long") == b"\x00binary\xff"
    cache.set("long", b"x", 0)  # a TTL already passed removes the value
    assert cache.get("long") is None
    assert cache.failures == 0


def test_prefix_separates_caches(redis_server: Any, cache: RedisQueryCache) -> None:
    other = RedisQueryCache.from_url(f"redis://{redis_server.host}/0", prefix="other:")
    try:
        cache.set("k", b"mine", 60)
        assert other.get("k") is None
        assert other.try_lock("k", 60)
        assert cache.try_lock("k", 60)
    finally:
        other.close()


def test_lock_is_exclusive_across_clients_until_unlocked(redis_server: Any, cache: RedisQueryCache) -> None:
    other = RedisQueryCache.from_url(f"redis://{redis_server.host}/0")
    try:
        assert cache.try_lock("k", 60)
        assert not other.try_lock("k", 60)
        other.unlock("k")  # not its lock: no effect
        assert not other.try_lock("k", 60)
        cache.unlock("k")
        assert other.try_lock("k", 60)
    finally:
        other.close()


def test_lock_expires_and_the_old_holder_cannot_release_the_new_one(
    redis_server: Any, cache: RedisQueryCache
) -> None:
    other = RedisQueryCache.from_url(f"redis://{redis_server.host}/0")
    try:
        assert cache.try_lock("k", 0.05)
        time.sleep(0.06)
        assert other.try_lock("k", 60)
        cache.unlock("k")  # its lock expired; the current one is other's
        assert not cache.try_lock("k", 60)
    finally:
        other.close()


def test_stampede_on_a_missing_key_computes_once(cache: RedisQueryCache) -> None:
    compute = Counter(seconds=0.1)
    assert stampede(cache, compute) == [b"result"] * 20
    assert compute.calls == 1
    assert cache.get("hot") == b"result"


def test_dead_redis_is_a_miss_counted_without_an_exception(
    dead_cache: RedisQueryCache, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="auditlog.backends.gcp.redis_cache")
    assert dead_cache.get("k") is None
    dead_cache.set("k", b"v", 60)
    assert dead_cache.try_lock("k", 60)  # cannot tell: compute rather than wait
    dead_cache.unlock("k")
    assert dead_cache.failures == 3  # unlock had no lock of ours to release: no call
    warnings = [r for r in caplog.records if "Redis" in r.getMessage()]
    assert len(warnings) == 1  # at most one a minute


def test_dead_redis_reads_are_still_computed_and_fast(dead_cache: RedisQueryCache) -> None:
    compute = Counter()
    begun = time.monotonic()
    for _ in range(50):
        assert cached(dead_cache, "k", 60, compute) == b"result"
    elapsed = time.monotonic() - begun
    assert compute.calls == 50
    assert dead_cache.failures >= 50 * 3  # get, try_lock, get, set
    assert elapsed < 2, f"a dead Redis cost {elapsed / 50 * 1000:.1f} ms per read"


def test_stampede_on_a_dead_redis_still_answers_everyone(dead_cache: RedisQueryCache) -> None:
    compute = Counter()
    assert stampede(dead_cache, compute) == [b"result"] * 20
    assert compute.calls == 20  # no cache to coordinate through: each reader computes


def test_warning_repeats_after_the_interval(
    dead_cache: RedisQueryCache, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="auditlog.backends.gcp.redis_cache")
    monkeypatch.setattr(dead_cache.health, "warning_interval_seconds", 0.05)
    monkeypatch.setattr(dead_cache.health, "rest_seconds", 0)
    dead_cache.get("k")
    dead_cache.get("k")
    time.sleep(0.06)
    dead_cache.get("k")
    assert len([r for r in caplog.records if "Redis" in r.getMessage()]) == 2
    assert dead_cache.failures == 3


def test_a_hanging_redis_costs_one_timeout_per_retry_interval() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts connections, never answers
        cache = RedisQueryCache(connect(f"redis://127.0.0.1:{server.getsockname()[1]}/0"))
        try:
            compute = Counter()
            begun = time.monotonic()
            for _ in range(50):
                assert cached(cache, "k", 60, compute) == b"result"
            elapsed = time.monotonic() - begun
        finally:
            cache.close()
    assert compute.calls == 50
    assert cache.failures >= 50 * 3
    # one socket timeout (100 ms), then misses without touching Redis for a second
    assert 0.09 < elapsed < 0.5, elapsed


def test_the_cache_is_used_again_once_redis_recovers(
    redis_server: Any, raw: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = RedisQueryCache.from_url(f"redis://{redis_server.host}/0")
    monkeypatch.setattr(cache.health, "rest_seconds", 0.05)
    try:
        cache.set("k", b"v", 60)
        raw.client_kill_filter(_type="normal", skipme=True)
        raw.config_set("requirepass", "now-locked-out")
        assert cache.get("k") is None
        raw.config_set("requirepass", "")
        assert cache.get("k") is None  # still leaving Redis alone
        time.sleep(0.06)
        assert cache.get("k") == b"v"
        assert cache.failures == 2
    finally:
        raw.config_set("requirepass", "")
        cache.close()


def test_redis_failing_mid_session_is_a_miss(redis_server: Any, raw: redis.Redis) -> None:
    cache = RedisQueryCache.from_url(f"redis://{redis_server.host}/0")
    try:
        cache.set("k", b"v", 60)
        assert cache.try_lock("held", 60)
        raw.client_kill_filter(_type="normal", skipme=True)  # drop the cache's connections
        raw.config_set("requirepass", "now-locked-out")  # and refuse its reconnection
        assert cache.get("k") is None
        cache.unlock("held")
        assert cache.failures == 2
    finally:
        raw.config_set("requirepass", "")
        cache.close()


def test_a_client_with_slow_defaults_is_reported(redis_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="auditlog.backends.gcp.redis_cache")
    url = f"redis://{redis_server.host}/0"
    RedisQueryCache(connect(url)).close()
    bounded = redis.Redis.from_url(  # at most 1 s per call: acceptable
        url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 1)
    )
    RedisQueryCache(bounded).close()
    assert not caplog.records
    RedisQueryCache(redis.Redis.from_url(f"redis://{redis_server.host}/0")).close()
    assert "connect()" in caplog.records[0].getMessage()


def test_concurrent_use_from_many_threads(cache: RedisQueryCache) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(50):
                cache.set(f"{n}-{i}", str(i).encode(), 60)
                assert cache.get(f"{n}-{i}") == str(i).encode()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert cache.failures == 0


def test_redis_generations_advance_and_are_fresh_when_redis_is_down(
    redis_server: Any, dead_cache: RedisQueryCache
) -> None:
    cache = RedisQueryCache(connect(f"redis://{redis_server.host}/0"), prefix=f"gen{time.time_ns()}:")
    assert cache.generations(("a", "b")) == ["0", "0"]
    cache.bump({"a", "b"})
    cache.bump({"a"})
    assert cache.generations(("a", "b")) == ["2", "1"]
    first, second = dead_cache.generations(("a",)), dead_cache.generations(("a",))
    assert first != second, "an unreachable cache must never produce a reusable key"
    assert dead_cache.failures >= 1
