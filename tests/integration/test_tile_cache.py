"""Full hash tiles served from the cache (in-process LRU locally, Redis as Memorystore is on
GCP): a tile once read is served again without the integrity store, partial tiles and entry
bundles never are, and a cache that is down costs nothing but the cache."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlog.backends.embedded.memory_cache import MemoryQueryCache
from auditlog.backends.embedded.sqlite_integrity import SqliteIntegrityStore
from auditlog.backends.gcp.redis_cache import RedisQueryCache, connect
from auditlog.errors import NotFound
from auditlog.ledger import merkle
from auditlog.ledger.leaves import LeafEntry, batch_key
from auditlog.ledger.proofs import IntegrityReader
from auditlog.ledger.sequencer import Sequencer
from auditlog.ports.cache import QueryCache
from tests.conftest import free_port
from tests.integration.test_integrity_stores import SIGNER

pytestmark = pytest.mark.integration

LEAVES = 300  # one full tile of level 0 (256) and a partial one (44)


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[QueryCache]:
    if request.param == "memory":
        yield MemoryQueryCache()
        return
    server = request.getfixturevalue("redis_server")
    c = RedisQueryCache.from_url(f"redis://{server.host}/0")
    yield c
    c.close()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[SqliteIntegrityStore]:
    store = SqliteIntegrityStore(tmp_path / "integrity.sqlite3")
    tenant = f"tiles-{tmp_path.name[-12:]}"
    batch = [
        LeafEntry(f"id-{i:05d}", merkle.leaf_hash(f"leaf {i}".encode()), "2099-01-01") for i in range(LEAVES)
    ]
    store.stage([(tenant, batch_key(batch), batch)])
    sequencer = Sequencer(store, SIGNER)
    sequencer.integrate(tenant)
    assert sequencer.checkpoint(tenant, force=True) is not None
    store.tenant = tenant  # type: ignore[attr-defined]
    yield store
    store.close()


def _forget_hashes(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM nodes")


def test_a_full_tile_is_served_from_the_cache_once_read(
    log: SqliteIntegrityStore, cache: QueryCache, tmp_path: Path
) -> None:
    tenant: str = log.tenant  # type: ignore[attr-defined]
    reader = IntegrityReader(log, None, SIGNER, cache=cache, tile_ttl_seconds=60)  # type: ignore[arg-type]
    first = reader.tile(tenant, "0/000")
    assert len(first) == 256 * 32
    assert first[:32] == merkle.leaf_hash(b"leaf 0")
    partial = reader.tile(tenant, "0/001.p/44")
    assert len(partial) == 44 * 32

    _forget_hashes(tmp_path / "integrity.sqlite3")
    assert reader.tile(tenant, "0/000") == first, "the full tile came from the cache"
    with pytest.raises(NotFound, match="does not hold"):
        reader.tile(tenant, "0/001.p/44")  # a partial tile is read from the store every time
    uncached = IntegrityReader(log, None, SIGNER, cache=cache, tile_ttl_seconds=0)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="does not hold"):
        uncached.tile(tenant, "0/000")  # a TTL of 0 turns the cache off


def test_tiles_are_cached_per_tenant_and_only_within_a_checkpoint(
    log: SqliteIntegrityStore, cache: QueryCache
) -> None:
    tenant: str = log.tenant  # type: ignore[attr-defined]
    reader = IntegrityReader(log, None, SIGNER, cache=cache, tile_ttl_seconds=60)  # type: ignore[arg-type]
    reader.tile(tenant, "0/000")
    with pytest.raises(NotFound, match="has no final checkpoint"):
        reader.tile(f"{tenant}-other", "0/000")  # another tenant's key, not this tile
    with pytest.raises(NotFound, match="beyond the newest checkpoint"):
        reader.tile(tenant, "0/001")  # not full yet: never cached, never served


def test_a_cache_that_is_down_costs_only_the_cache(log: SqliteIntegrityStore) -> None:
    tenant: str = log.tenant  # type: ignore[attr-defined]
    dead = RedisQueryCache(connect(f"redis://127.0.0.1:{free_port()}/0"))
    try:
        reader = IntegrityReader(log, None, SIGNER, cache=dead, tile_ttl_seconds=60)  # type: ignore[arg-type]
        assert reader.tile(tenant, "0/000")[:32] == merkle.leaf_hash(b"leaf 0")
    finally:
        dead.close()
