"""Both integrity stores (SQLite, Firestore in its emulator) under the sequencer: gap-free
indices, idempotent staging, proofs that verify, concurrent sequencers that never interleave."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditlog.backends.embedded.sqlite_integrity import SqliteIntegrityStore
from auditlog.ledger import merkle
from auditlog.ledger.checkpoints import CheckpointSigner, verify_checkpoint
from auditlog.ledger.leaves import LeafEntry, batch_key
from auditlog.ledger.sequencer import Sequencer
from auditlog.ledger.tree import consistency, inclusion, iter_spine, read_spine, root_at
from auditlog.ports.integrity import IntegrityStore

pytestmark = pytest.mark.integration

PROJECT = "auditlog-integrity-test"
SIGNER = CheckpointSigner.from_seed(bytes(range(32)))
KEYS = {SIGNER.key_id: SIGNER.public_key}


@pytest.fixture(params=["sqlite", "firestore"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IntegrityStore]:
    if request.param == "sqlite":
        s: Any = SqliteIntegrityStore(tmp_path / "integrity.sqlite3")
    else:
        emulator = request.getfixturevalue("firestore_emulator")
        monkeypatch = request.getfixturevalue("monkeypatch")
        from google.cloud import firestore

        from auditlog.backends.gcp.firestore_integrity import FirestoreIntegrityStore

        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", emulator.host)
        url = f"http://{emulator.host}/emulator/v1/projects/{PROJECT}/databases/(default)/documents"
        httpx.delete(url, timeout=10).raise_for_status()
        s = FirestoreIntegrityStore(firestore.Client(project=PROJECT))
    yield s
    s.close()


def entries(tenant: str, start: int, count: int) -> list[LeafEntry]:
    return [
        LeafEntry(f"{tenant}-{i:05d}", merkle.leaf_hash(f"{tenant}/{i}".encode()), "2027-01-01")
        for i in range(start, start + count)
    ]


def stage(store: IntegrityStore, tenant: str, batch: list[LeafEntry]) -> None:
    store.stage([(tenant, batch_key(batch), batch)])


def test_staged_batches_get_gap_free_indices_in_staging_order(store: IntegrityStore) -> None:
    seq = Sequencer(store, SIGNER)
    sizes = [1, 3, 300, 2, 40]
    start = 0
    for n in sizes:
        stage(store, "acme", entries("acme", start, n))
        start += n
    stage(store, "other", entries("other", 0, 5))
    assert seq.integrate("acme") == sum(sizes)
    state = store.state("acme")
    assert state.frontier.size == sum(sizes)
    spine = list(iter_spine(store, "acme", state.frontier.size, chunk=100))
    assert [x.index for x in spine] == list(range(sum(sizes)))
    assert [x.audit_id for x in spine] == [e.audit_id for e in entries("acme", 0, sum(sizes))]
    expected_root = merkle.Frontier.empty().append(e.leaf_hash for e in entries("acme", 0, sum(sizes)))[0]
    assert state.frontier.root() == expected_root.root()
    assert root_at(store, "acme", sum(sizes)) == expected_root.root()
    assert store.locate("acme", "acme-00004") == 4
    assert store.locate("acme", "other-00000") is None
    assert store.locate_many("acme", ["acme-00001", "other-00000", "acme-00340"]) == {
        "acme-00001": 1,
        "acme-00340": 340,
    }
    assert store.state("other").frontier.size == 0, "tenants have separate trees"
    assert "other" in store.pending_tenants()


def test_a_batch_staged_twice_is_sequenced_once(store: IntegrityStore) -> None:
    seq = Sequencer(store, SIGNER)
    batch = entries("acme", 0, 10)
    stage(store, "acme", batch)
    stage(store, "acme", batch)
    assert seq.integrate("acme") == 10
    stage(store, "acme", batch)  # redelivered after integration
    assert seq.integrate("acme") == 0
    assert store.state("acme").frontier.size == 10


def test_proofs_from_the_store_verify_against_signed_checkpoints(store: IntegrityStore) -> None:
    seq = Sequencer(store, SIGNER)
    stage(store, "acme", entries("acme", 0, 37))
    seq.integrate("acme")
    first = seq.checkpoint("acme", force=True)
    stage(store, "acme", entries("acme", 37, 300))
    seq.integrate("acme")
    second = seq.checkpoint("acme", force=True)
    assert first is not None and second is not None
    assert verify_checkpoint(second, KEYS)
    assert store.latest_checkpoint("acme") == second
    assert store.checkpoint_at("acme", 37) == first
    for index in (0, 36, 37, 200, 336):
        leaf = merkle.leaf_hash(f"acme/{index}".encode())
        path = inclusion(store, "acme", index, second)
        assert merkle.verify_inclusion(index, second.tree_size, leaf, path, second.root_hash)
    proof = consistency(store, "acme", 37, 337)
    assert merkle.verify_consistency(37, 337, first.root_hash, second.root_hash, proof)


def test_checkpoints_follow_growth_and_idle_time(store: IntegrityStore) -> None:
    now = [datetime(2026, 11, 26, 12, tzinfo=UTC)]
    seq = Sequencer(store, SIGNER, checkpoint_min_seconds=1, idle_checkpoint_seconds=60, clock=lambda: now[0])
    stage(store, "acme", entries("acme", 0, 3))
    assert seq.run_once() == {"acme": 3}
    first = store.latest_checkpoint("acme")
    assert first is not None and first.tree_size == 3
    now[0] += timedelta(seconds=30)
    assert seq.checkpoint("acme") is None, "unchanged and not yet idle for long"
    now[0] += timedelta(seconds=31)
    idle = seq.checkpoint("acme")
    assert idle is not None and idle.tree_size == 3 and idle.timestamp > first.timestamp
    stage(store, "acme", entries("acme", 3, 1))
    assert seq.run_once() == {"acme": 1}
    assert store.latest_checkpoint("acme") == idle, "grew, but signed less than a second ago"
    now[0] += timedelta(seconds=1)
    assert seq.run_once() == {}, "nothing new staged"
    grown = store.latest_checkpoint("acme")
    assert grown is not None and grown.tree_size == 4, "the deferred growth is signed by the next round"


def test_concurrent_sequencers_never_interleave_indices(store: IntegrityStore) -> None:
    """Several writer instances run rounds at once; compare-and-swap on the tree keeps every
    leaf exactly once and the tree equal to one built sequentially."""
    total = 0
    for _ in range(30):
        stage(store, "acme", entries("acme", total, 7))
        total += 7
    errors: list[BaseException] = []

    def run() -> None:
        try:
            Sequencer(store, SIGNER).integrate("acme")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    state = store.state("acme")
    assert state.frontier.size == total
    spine = list(iter_spine(store, "acme", total))
    assert sorted(x.audit_id for x in spine) == [e.audit_id for e in entries("acme", 0, total)]
    assert len({x.audit_id for x in spine}) == total
    rebuilt = merkle.Frontier.empty().append(x.leaf_hash for x in spine)[0]
    assert rebuilt.root() == state.frontier.root()


def test_the_spine_reads_as_columns_what_leaves_reads_as_objects(store: IntegrityStore) -> None:
    stage(store, "acme", entries("acme", 0, 300))
    Sequencer(store, SIGNER).integrate("acme")
    leaves = store.leaves("acme", 0, 300)
    assert [x.index for x in leaves] == list(range(300))
    assert store.spine("acme", 0, 300) == ([x.audit_id for x in leaves], [x.leaf_hash for x in leaves])
    assert store.spine("acme", 250, 400) == (
        [x.audit_id for x in leaves[250:]],
        [x.leaf_hash for x in leaves[250:]],
    ), "a range past the end stops at the last leaf"
    assert read_spine(store, "acme", 1000, chunk=64) == store.spine("acme", 0, 300)
    assert read_spine(store, "acme", 100, chunk=64) == store.spine("acme", 0, 100)
    assert store.spine("nobody", 0, 10) == ([], [])


def test_a_spine_with_a_gap_reads_as_leaves_pairs_it(tmp_path: Path) -> None:
    """SQLite reads ids and hashes apart; where a leaf row is missing, it pairs them as the join
    in ``leaves`` does, so the verifier sees the same (shortened) spine either way."""
    store = SqliteIntegrityStore(tmp_path / "integrity.sqlite3")
    stage(store, "acme", entries("acme", 0, 50))
    Sequencer(store, SIGNER).integrate("acme")
    store._conn.execute("DELETE FROM leaves WHERE tenant_id = 'acme' AND idx = 20")
    leaves = store.leaves("acme", 0, 50)
    assert len(leaves) == 49
    assert store.spine("acme", 0, 50) == ([x.audit_id for x in leaves], [x.leaf_hash for x in leaves])
    store.close()
