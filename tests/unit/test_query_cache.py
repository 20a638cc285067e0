"""The in-process query cache, stampede protection (``cached``) and cache keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from auditlog.backends.embedded.memory_cache import MemoryQueryCache
from auditlog.ports.cache import QueryCache
from auditlog.read.query_cache import cache_key, cached

pytestmark = pytest.mark.unit


@pytest.fixture
def cache() -> Iterator[MemoryQueryCache]:
    c = MemoryQueryCache(max_entries=100)
    yield c
    c.close()


# -- MemoryQueryCache ---------------------------------------------------------------------------


def test_get_returns_what_was_set_until_its_own_ttl_passes(cache: MemoryQueryCache) -> None:
    assert cache.get("k") is None
    cache.set("short", b"s", 0.05)
    cache.set("long", b"l", 60)
    assert cache.get("short") == b"s"
    time.sleep(0.06)
    assert cache.get("short") is None
    assert cache.get("long") == b"l"


def test_set_replaces_and_an_expired_ttl_removes(cache: MemoryQueryCache) -> None:
    cache.set("k", b"1", 60)
    cache.set("k", b"2", 60)
    assert cache.get("k") == b"2"
    cache.set("k", b"3", 0)
    assert cache.get("k") is None


def test_least_recently_used_entry_is_evicted_when_full() -> None:
    cache = MemoryQueryCache(max_entries=3)
    for key in "abc":
        cache.set(key, key.encode(), 60)
    assert cache.get("a") == b"a"  # "b" is now the least recently used
    cache.set("d", b"d", 60)
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == [b"a", b"c", b"d"]


def test_expired_entries_make_room_before_live_ones_are_evicted() -> None:
    cache = MemoryQueryCache(max_entries=2)
    cache.set("old", b"o", 60)
    cache.set("brief", b"b", 0.05)
    time.sleep(0.06)
    cache.set("new", b"n", 60)
    assert cache.get("old") == b"o"
    assert cache.get("new") == b"n"


def test_lock_is_exclusive_until_unlocked(cache: MemoryQueryCache) -> None:
    assert cache.try_lock("k", 60)
    assert not cache.try_lock("k", 60)
    assert cache.try_lock("other", 60)  # locks are per key
    cache.unlock("k")
    assert cache.try_lock("k", 60)
    cache.unlock("never-locked")  # harmless


def test_lock_expires_after_its_ttl(cache: MemoryQueryCache) -> None:
    assert cache.try_lock("k", 0.05)
    assert not cache.try_lock("k", 0.05)
    time.sleep(0.06)
    assert cache.try_lock("k", 60)


def test_leaked_locks_do_not_grow_without_bound() -> None:
    cache = MemoryQueryCache(max_entries=10)
    for i in range(10):
        assert cache.try_lock(f"k{i}", 0.01)
    time.sleep(0.02)
    assert cache.try_lock("fresh", 60)
    assert len(cache._locks) == 1


def test_one_thread_wins_a_contended_lock(cache: MemoryQueryCache) -> None:
    barrier = threading.Barrier(16)
    wins: list[bool] = []

    def contend() -> None:
        barrier.wait()
        wins.append(cache.try_lock("k", 60))

    threads = [threading.Thread(target=contend) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


# -- cached ---------------------------------------------------------------------------------------


class Counter:
    """A compute function that counts its calls and takes ``seconds``."""

    def __init__(self, value: bytes = b"result", seconds: float = 0.0) -> None:
        self.value = value
        self.seconds = seconds
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            self.calls += 1
        time.sleep(self.seconds)
        return self.value


def stampede(cache: QueryCache, compute: Counter, threads: int = 20) -> list[bytes]:
    """``threads`` callers asking for the same missing key at the same moment."""
    barrier = threading.Barrier(threads)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def reader() -> None:
        barrier.wait()
        try:
            results.append(cached(cache, "hot", 60, compute, wait_seconds=5))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=reader) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    return results


def test_cached_computes_once_then_serves_from_the_cache(cache: MemoryQueryCache) -> None:
    compute = Counter()
    assert cached(cache, "k", 60, compute) == b"result"
    assert cached(cache, "k", 60, compute) == b"result"
    assert compute.calls == 1
    assert cache.try_lock("k", 60)  # the lock was released


def test_cached_recomputes_after_the_ttl(cache: MemoryQueryCache) -> None:
    compute = Counter()
    cached(cache, "k", 0.05, compute)
    time.sleep(0.06)
    cached(cache, "k", 0.05, compute)
    assert compute.calls == 2


def test_stampede_on_a_missing_key_computes_once(cache: MemoryQueryCache) -> None:
    compute = Counter(seconds=0.1)
    results = stampede(cache, compute)
    assert results == [b"result"] * 20
    assert compute.calls == 1


def test_a_failing_compute_releases_the_lock_and_caches_nothing(cache: MemoryQueryCache) -> None:
    def boom() -> bytes:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        cached(cache, "k", 60, boom)
    assert cache.get("k") is None
    assert cache.try_lock("k", 60)


def test_waiter_takes_over_when_the_winner_fails(cache: MemoryQueryCache) -> None:
    started = threading.Event()

    def failing_winner() -> bytes:
        started.set()
        time.sleep(0.05)
        raise RuntimeError("store down")

    def winner() -> None:
        with pytest.raises(RuntimeError):
            cached(cache, "k", 60, failing_winner)

    thread = threading.Thread(target=winner)
    thread.start()
    started.wait(5)
    compute = Counter(b"second")
    begun = time.monotonic()
    assert cached(cache, "k", 60, compute, wait_seconds=5) == b"second"
    thread.join()
    assert compute.calls == 1
    assert time.monotonic() - begun < 1  # took over when the lock was released, not after 5 s


def test_waiter_computes_itself_after_wait_seconds(cache: MemoryQueryCache) -> None:
    assert cache.try_lock("k", 60)  # a winner that never finishes
    compute = Counter(b"mine")
    begun = time.monotonic()
    assert cached(cache, "k", 60, compute, wait_seconds=0.1) == b"mine"
    assert 0.1 <= time.monotonic() - begun < 1
    assert compute.calls == 1
    assert cache.get("k") == b"mine"


def test_waiter_picks_up_the_winners_value(cache: MemoryQueryCache) -> None:
    assert cache.try_lock("k", 60)
    winner = threading.Timer(0.05, lambda: cache.set("k", b"winner's", 60))
    winner.start()
    compute = Counter()
    assert cached(cache, "k", 60, compute, wait_seconds=5) == b"winner's"
    winner.join()
    assert compute.calls == 0


class UnreachableCache:
    """What a cache does when its backend is down."""

    def get(self, key: str) -> bytes | None:
        return None

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        pass

    def try_lock(self, key: str, ttl_seconds: float) -> bool:
        return True

    def unlock(self, key: str) -> None:
        pass

    def close(self) -> None:
        pass


def test_an_unreachable_cache_never_delays_a_read() -> None:
    compute = Counter()
    begun = time.monotonic()
    for _ in range(50):
        assert cached(UnreachableCache(), "k", 60, compute) == b"result"
    assert compute.calls == 50
    assert time.monotonic() - begun < 0.5


# -- cache_key ------------------------------------------------------------------------------------


def test_cache_key_ignores_parameter_order() -> None:
    a = cache_key(("acme",), [("user_id", "u"), ("action", "create"), ("action", "delete")], "reader")
    b = cache_key(("acme",), [("action", "delete"), ("user_id", "u"), ("action", "create")], "reader")
    assert a == b


def test_cache_key_is_prefixed_with_the_tenants_and_hashes_the_rest() -> None:
    key = cache_key(("globex", "acme"), [("q", "x")], "admin")
    prefix, digest = key.rsplit(":", 1)
    assert prefix == "acme,globex"
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert key == cache_key(("acme", "globex"), [("q", "x")], "admin")


@pytest.mark.parametrize(
    "other",
    [
        (("globex",), [("action", "create")], "reader"),  # another tenant
        (("acme", "globex"), [("action", "create")], "reader"),  # more tenants
        (("acme",), [("action", "create")], "reader+pii"),  # another scope
        (("acme",), [("action", "delete")], "reader"),  # another value
        (("acme",), [("actio", "ncreate")], "reader"),  # same characters, split differently
        (("acme",), [("action", "create"), ("action", "create")], "reader"),  # repeated filter
        (("acme",), [], "reader"),
    ],
)
def test_cache_key_differs_for_a_different_query(
    other: tuple[tuple[str, ...], list[tuple[str, str]], str],
) -> None:
    assert cache_key(("acme",), [("action", "create")], "reader") != cache_key(*other)


def test_cache_key_of_one_tenant_never_collides_with_a_look_alike_tenant() -> None:
    joined = cache_key(("acme,globex",), [], "reader")  # a tenant id containing the separator
    assert joined != cache_key(("acme", "globex"), [], "reader")


def test_memory_cache_generations_advance_per_tenant() -> None:
    from auditlog.backends.embedded.memory_cache import MemoryQueryCache

    cache = MemoryQueryCache()
    assert cache.generations(("a", "b")) == ["0", "0"]
    cache.bump({"a"})
    cache.bump({"a", "b"})
    assert cache.generations(("a", "b", "c")) == ["2", "1", "0"]
