"""The Redis idempotency registry against a real redis-server."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from auditlog.backends.gcp.redis_registry import RedisIdempotencyRegistry, redis_client
from tests.conftest import free_port

pytestmark = pytest.mark.integration


class CountingConnection(redis.Connection):
    """Counts what is written to the socket: one write per round trip (a pipeline is one)."""

    writes = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.writes += 1
        super().send_packed_command(command, check_health)


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


@pytest.fixture
def client(redis_server: Any) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(f"redis://{redis_server.host}/0")
    yield c
    c.close()


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own: the Redis server is shared by the session."""
    return f"tenant-{uuid.uuid4().hex[:10]}"


def receipts(audit_ids: list[str]) -> dict[str, bytes]:
    """A receipt per id: the leaf hash each was answered with (here, a stand-in of 32 bytes)."""
    return {a: bytes.fromhex(a.replace("-", "") * 2) for a in audit_ids}


def test_remembered_ids_are_known_with_their_receipts(client: redis.Redis, tenant: str) -> None:
    registry = RedisIdempotencyRegistry(client, ttl_seconds=600)
    batch, others = ids(1000), ids(5)
    assert registry.known(tenant, batch) == {}
    registry.remember(tenant, receipts(batch))
    assert registry.known(tenant, batch + others) == receipts(batch)
    assert registry.known(tenant, []) == {}
    registry.remember(tenant, receipts([]))  # nothing to do, no error
    assert registry.failures == 0


def test_keys_expire_after_the_ttl(client: redis.Redis, tenant: str) -> None:
    registry = RedisIdempotencyRegistry(client, ttl_seconds=321)
    (audit_id,) = ids(1)
    registry.remember(tenant, receipts([audit_id]))
    key = RedisIdempotencyRegistry.key(tenant, audit_id)
    assert key == f"idem:{{{tenant}}}:{audit_id}"
    assert 0 < client.ttl(key) <= 321

    short = RedisIdempotencyRegistry(client, ttl_seconds=1)
    (fleeting,) = ids(1)
    short.remember(tenant, receipts([fleeting]))
    assert short.known(tenant, [fleeting]) == receipts([fleeting])
    deadline = time.monotonic() + 5
    while short.known(tenant, [fleeting]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert short.known(tenant, [fleeting]) == {}


def test_tenants_are_separate(client: redis.Redis, tenant: str) -> None:
    registry = RedisIdempotencyRegistry(client, ttl_seconds=600)
    shared = ids(3)
    registry.remember(tenant, receipts(shared))
    other = f"{tenant}-other"
    assert registry.known(other, shared) == {}
    registry.remember(other, receipts(shared[:1]))
    assert registry.known(other, shared) == receipts(shared[:1])
    assert registry.known(tenant, shared) == receipts(shared)


def test_a_batch_of_a_thousand_is_one_round_trip_each_way(redis_server: Any, tenant: str) -> None:
    host, port = redis_server.host.split(":")
    pool = redis.ConnectionPool(connection_class=CountingConnection, host=host, port=int(port), db=0)
    client = redis.Redis(connection_pool=pool)
    try:
        registry = RedisIdempotencyRegistry(client, ttl_seconds=600)
        client.ping()  # connect (and its handshake) before counting
        batch = ids(1000)
        before = CountingConnection.writes
        registry.remember(tenant, receipts(batch))
        assert CountingConnection.writes - before == 1
        before = CountingConnection.writes
        assert registry.known(tenant, batch) == receipts(batch)
        assert CountingConnection.writes - before == 1
    finally:
        client.close()


def test_redis_down_means_nothing_known_and_counted_failures(
    tenant: str, caplog: pytest.LogCaptureFixture
) -> None:
    closed_port = free_port()  # nothing listens there
    registry = RedisIdempotencyRegistry(
        redis_client(f"redis://127.0.0.1:{closed_port}/0"), ttl_seconds=60, retry_after_seconds=0
    )
    caplog.set_level(logging.WARNING, logger="auditlog.backends.gcp.redis_registry")
    started = time.monotonic()
    assert registry.known(tenant, ids(10)) == {}
    registry.remember(tenant, receipts(ids(10)))
    assert registry.known(tenant, ids(1)) == {}
    assert time.monotonic() - started < 3
    assert registry.failures == 3
    warnings = [r for r in caplog.records if r.name == "auditlog.backends.gcp.redis_registry"]
    assert len(warnings) == 1  # at most one a minute
    assert "unavailable" in warnings[0].getMessage()
    registry.close()


def test_after_a_failure_redis_is_left_alone_for_a_while(redis_server: Any, tenant: str) -> None:
    closed = RedisIdempotencyRegistry(
        redis_client(f"redis://127.0.0.1:{free_port()}/0"), ttl_seconds=60, retry_after_seconds=60
    )
    assert closed.known(tenant, ids(1)) == {}
    started = time.monotonic()
    for _ in range(100):
        assert closed.known(tenant, ids(1)) == {}  # skipped: no connection attempt each time
    assert time.monotonic() - started < 0.5
    assert closed.failures == 101
    closed.close()

    # A working Redis with the same setting is consulted every time.
    working = RedisIdempotencyRegistry(
        redis_client(f"redis://{redis_server.host}/0"), ttl_seconds=60, retry_after_seconds=60
    )
    batch = ids(2)
    working.remember(tenant, receipts(batch))
    assert working.known(tenant, batch) == receipts(batch)
    assert working.failures == 0
    working.close()
