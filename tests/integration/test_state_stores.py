"""Both state stores (SQLite on disk, Firestore in its emulator) pass the same behaviour suite."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditlog.backends.embedded.sqlite_state import SqliteStateStore
from auditlog.ports.state import Document, StateStore

pytestmark = pytest.mark.integration

FIRESTORE_PROJECT = "auditlog-test"

POLICY: Document = {
    "tenant_id": "acme",
    "retention_days": 400,
    "ratio": 0.25,
    "enabled": True,
    "note": None,
    "unicode": "ünïcødé ✓",
    "roles": ["audit_reader", "audit_writer"],
    "limits": {"per_minute": 600, "burst": {"size": 50, "refill": [1, 2, 3]}},
    "exports": [{"bucket": "b1", "prefix": "a/"}, {"bucket": "b2", "prefix": ""}],
    "big": 2**62,
}


def _wipe_firestore(host: str) -> None:
    url = f"http://{host}/emulator/v1/projects/{FIRESTORE_PROJECT}/databases/(default)/documents"
    httpx.delete(url, timeout=10).raise_for_status()


@pytest.fixture
def firestore_store(firestore_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[StateStore]:
    from google.cloud import firestore

    from auditlog.backends.gcp.firestore_state import FirestoreStateStore

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    _wipe_firestore(firestore_emulator.host)
    store = FirestoreStateStore(firestore.Client(project=FIRESTORE_PROJECT))
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[StateStore]:
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "firestore"])
def store(request: pytest.FixtureRequest) -> StateStore:
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


# -- the shared behaviour suite ------------------------------------------------------------------


def test_get_of_a_missing_document_is_none(store: StateStore) -> None:
    assert store.get("policies", "acme") is None
    assert store.list("policies") == []


def test_put_then_get_round_trips_nested_json(store: StateStore) -> None:
    store.put("policies", "acme", POLICY)
    assert store.get("policies", "acme") == POLICY


def test_put_replaces_the_whole_document(store: StateStore) -> None:
    store.put("policies", "acme", POLICY)
    store.put("policies", "acme", {"retention_days": 30})
    assert store.get("policies", "acme") == {"retention_days": 30}


def test_create_only_when_absent(store: StateStore) -> None:
    assert store.create("checkpoints", "acme-1", {"hash": "aa"})
    assert not store.create("checkpoints", "acme-1", {"hash": "bb"})
    assert store.get("checkpoints", "acme-1") == {"hash": "aa"}  # the first one stays
    store.delete("checkpoints", "acme-1")
    assert store.create("checkpoints", "acme-1", {"hash": "cc"})
    assert store.get("checkpoints", "acme-1") == {"hash": "cc"}


def test_create_after_put_reports_existing(store: StateStore) -> None:
    store.put("policies", "acme", {"v": 1})
    assert not store.create("policies", "acme", {"v": 2})
    assert store.get("policies", "acme") == {"v": 1}


def test_delete_removes_and_is_idempotent(store: StateStore) -> None:
    store.put("policies", "acme", {"v": 1})
    store.delete("policies", "acme")
    assert store.get("policies", "acme") is None
    store.delete("policies", "acme")  # already gone: no error
    store.delete("never", "existed")


def test_collections_are_separate_and_list_is_ordered_by_key(store: StateStore) -> None:
    for key in ["globex", "acme", "initech"]:
        store.put("policies", key, {"tenant": key})
    store.put("keys", "acme", {"kid": "k1"})
    assert store.list("policies") == [
        ("acme", {"tenant": "acme"}),
        ("globex", {"tenant": "globex"}),
        ("initech", {"tenant": "initech"}),
    ]
    assert store.list("keys") == [("acme", {"kid": "k1"})]
    assert store.get("keys", "globex") is None


def test_list_orders_keys_by_their_bytes(store: StateStore) -> None:
    keys = ["b", "B", "a-1", "a", "a_1", "é", "z", "10", "9", "日本"]
    for key in keys:
        store.put("orders", key, {"k": key})
    assert [key for key, _ in store.list("orders")] == sorted(keys, key=str.encode)


def test_empty_document_is_a_document(store: StateStore) -> None:
    assert store.create("markers", "m", {})
    assert store.get("markers", "m") == {}
    assert store.list("markers") == [("m", {})]


@pytest.mark.parametrize("name", ["", "a/b", ".", "..", "__reserved__", "x" * 1501])
def test_names_that_firestore_refuses_are_refused_by_both(store: StateStore, name: str) -> None:
    with pytest.raises(ValueError):
        store.put("policies", name, {"v": 1})
    with pytest.raises(ValueError):
        store.get(name, "acme")


def test_racing_creates_each_key_has_exactly_one_winner(store: StateStore) -> None:
    race_creates(lambda _: store)


def race_creates(store_for_thread: Callable[[int], StateStore], threads: int = 8, keys: int = 50) -> None:
    """``threads`` threads create the same ``keys`` keys at once: exactly one create of each wins,
    and the stored document is the winner's. No transactions involved."""
    barrier = threading.Barrier(threads)
    wins: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def racer(n: int) -> None:
        store = store_for_thread(n)
        barrier.wait()
        try:
            for i in range(keys):
                if store.create("idempotency", f"key-{i:03d}", {"winner": n, "nested": {"i": i}}):
                    with lock:
                        wins.append((f"key-{i:03d}", n))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=racer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert len(wins) == keys
    assert sorted(key for key, _ in wins) == [f"key-{i:03d}" for i in range(keys)]
    stored = dict(store_for_thread(0).list("idempotency"))
    for key, winner in wins:
        assert stored[key]["winner"] == winner


# -- SQLite only ---------------------------------------------------------------------------------


def test_sqlite_documents_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.sqlite3"
    store = SqliteStateStore(path)
    store.put("policies", "acme", POLICY)
    assert store.create("checkpoints", "c1", {"n": 1})
    store.close()

    reopened = SqliteStateStore(path)
    try:
        assert reopened.get("policies", "acme") == POLICY
        assert not reopened.create("checkpoints", "c1", {"n": 2})
        assert reopened.list("checkpoints") == [("c1", {"n": 1})]
    finally:
        reopened.close()


def test_sqlite_creates_race_across_connections_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    stores = [SqliteStateStore(path) for _ in range(8)]  # like 8 processes sharing the file
    try:
        race_creates(lambda n: stores[n])
    finally:
        for s in stores:
            s.close()


def test_sqlite_keeps_an_updated_at_per_document(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"

    def updated_at() -> str:
        with closing(sqlite3.connect(path)) as conn:
            return str(conn.execute("SELECT updated_at FROM state").fetchone()[0])

    store = SqliteStateStore(path)
    store.put("policies", "acme", {"v": 1})
    first = updated_at()
    store.put("policies", "acme", {"v": 2})
    second = updated_at()
    store.close()
    assert first.endswith("+00:00")
    assert second >= first
