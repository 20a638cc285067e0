"""The witness (c2sp.org/tlog-witness) against real checkpoints of a real tree: what it cosigns,
what it refuses and with which status, and that its state survives a restart (SQLite here; the
same contract on Firestore's emulator). The log's side (``Cosigning``) against a live witness."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from auditlog.backends.embedded.sqlite_integrity import SqliteIntegrityStore
from auditlog.backends.embedded.sqlite_witness import SqliteWitnessState
from auditlog.ledger import merkle, notes
from auditlog.ledger.checkpoints import Checkpoint, CheckpointSigner, Ed25519Signer
from auditlog.ledger.witnessing import Cosigning, request_body
from auditlog.ledger.witnessing import Witness as WitnessEndpoint
from auditlog.ports.witness import Cosigned, WitnessState, origin_hash
from auditlog.witness.app import create_app
from auditlog.witness.service import LogRule, Witness
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.integration

LOG = CheckpointSigner.from_seed(bytes(range(32)), "audit.example/log")
WITNESS_SEED = bytes([9]) * 32


def _leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [merkle.leaf_hash(salt + str(i).encode()) for i in range(n)]


def _checkpoint(tenant: str, leaves: list[bytes]) -> Checkpoint:
    return LOG.sign(tenant, len(leaves), merkle.root(leaves), datetime.now(UTC))


def _proof(leaves: list[bytes], old: int) -> list[bytes]:
    nodes: dict[merkle.NodeId, bytes] = {}
    _, nodes = merkle.Frontier.empty().append(leaves)
    return merkle.consistency_proof(old, len(leaves), merkle.source(nodes)) if 0 < old < len(leaves) else []


def _witness(state: WitnessState, clock: float = 1_800_000_000.0) -> Witness:
    rules = [LogRule.parse(f"audit.example/log/* {LOG.public_key.hex()}")]
    return Witness("w.example/1", Ed25519Signer(WITNESS_SEED), rules, state, clock=lambda: clock)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[SqliteWitnessState]:
    store = SqliteWitnessState(tmp_path / "witness.sqlite3")
    yield store
    store.close()


def _submit(witness: Witness, old: int, leaves: list[bytes]) -> tuple[int, str]:
    checkpoint = _checkpoint("acme", leaves)
    answer = witness.add_checkpoint(request_body(old, _proof(leaves, old), checkpoint.note or ""))
    return answer.status, answer.body


def test_cosigns_a_consistent_history_and_remembers_it(state: SqliteWitnessState, tmp_path: Path) -> None:
    witness = _witness(state)
    leaves = _leaves(10)
    checkpoint = _checkpoint("acme", leaves[:3])
    assert checkpoint.note and checkpoint.text
    answer = witness.add_checkpoint(request_body(0, [], checkpoint.note))
    assert answer.status == 200 and answer.media_type.startswith("text/plain")
    cosigned = notes.open_checkpoint(checkpoint.note + answer.body, LOG.note_keys("acme"), [witness.key])
    assert cosigned.cosigners == {witness.key.vkey: 1_800_000_000}
    assert _submit(witness, 3, leaves)[0] == 200
    assert _submit(witness, 10, leaves)[0] == 200, "the same tree again (an idle re-signing)"
    # The state is on disk: a new process (a new store on the same file) holds size 10.
    again = SqliteWitnessState(tmp_path / "witness.sqlite3")
    assert (again.latest("audit.example/log/acme") or Cosigned(0, b"", "")).size == 10
    held = again.latest_by_hash(origin_hash("audit.example/log/acme"))
    assert held is not None and held.note.count("\u2014") == 2, "the log's signature and its own"
    again.close()


def test_refuses_rollbacks_forks_and_rewritten_history(state: SqliteWitnessState) -> None:
    witness = _witness(state)
    leaves = _leaves(20)
    assert _submit(witness, 0, leaves[:12])[0] == 200
    # A rollback: an older, smaller tree.
    assert _submit(witness, 12, leaves[:5]) == (400, "the old size is larger than the checkpoint's\n")
    # A stale old size: 409 and the size held, as text/x.tlog.size.
    status, body = _submit(witness, 5, leaves)
    assert (status, body) == (409, "12\n")
    stale = witness.add_checkpoint(request_body(5, [], _checkpoint("acme", leaves).note or ""))
    assert stale.media_type == "text/x.tlog.size"
    # A fork: the same size with another root.
    forked = _leaves(12, salt=b"rewritten")
    assert _submit(witness, 12, forked)[0] == 422
    # A history rewritten under the held size: its consistency proof cannot verify.
    rewritten = [*leaves[:4], merkle.leaf_hash(b"edited"), *leaves[5:]]
    status, body = _submit(witness, 12, rewritten)
    assert status == 422 and "does not verify" in body
    assert (state.latest("audit.example/log/acme") or Cosigned(0, b"", "")).size == 12, "nothing stored"
    assert _submit(witness, 12, leaves)[0] == 200, "the honest history still goes on"


def test_refuses_what_it_cannot_trust(state: SqliteWitnessState) -> None:
    witness = _witness(state)
    leaves = _leaves(4)
    note = _checkpoint("acme", leaves).note or ""
    assert witness.add_checkpoint(b"nonsense").status == 400
    assert witness.add_checkpoint(request_body(0, [merkle.leaf_hash(b"x")], note)).status == 422
    stranger = CheckpointSigner.from_seed(bytes(32), "audit.example/log").sign(
        "acme", 4, merkle.root(leaves), datetime.now(UTC)
    )
    assert witness.add_checkpoint(request_body(0, [], stranger.note or "")).status == 403
    altered = note.replace("\n4\n", "\n5\n")
    assert witness.add_checkpoint(request_body(0, [], altered)).status == 403
    other_log = CheckpointSigner.from_seed(bytes(range(32)), "other.example/log").sign(
        "acme", 4, merkle.root(leaves), datetime.now(UTC)
    )
    assert witness.add_checkpoint(request_body(0, [], other_log.note or "")).status == 404
    nested = CheckpointSigner.from_seed(bytes(range(32)), "audit.example/log/acme").sign(
        "x", 4, merkle.root(leaves), datetime.now(UTC)
    )
    assert witness.add_checkpoint(request_body(0, [], nested.note or "")).status == 404, "one segment only"
    empty = LOG.sign("acme", 0, merkle.leaf_hash(b"not empty"), datetime.now(UTC))
    assert witness.add_checkpoint(request_body(0, [], empty.note or "")).status == 422


def test_racing_submissions_cannot_roll_the_witness_back(state: SqliteWitnessState) -> None:
    """Two submissions from the same held size: one lands, the other is told the new size."""
    witness = _witness(state)
    leaves = _leaves(30)
    assert _submit(witness, 0, leaves[:10])[0] == 200
    stored = Cosigned(20, merkle.root(leaves[:20]), "x")
    assert state.advance("audit.example/log/acme", 10, stored) is None
    assert state.advance("audit.example/log/acme", 10, Cosigned(15, merkle.root(leaves[:15]), "y")) == 20


@pytest.fixture
def served_witness(tmp_path: Path) -> Iterator[tuple[str, Witness]]:
    state = SqliteWitnessState(tmp_path / "served.sqlite3")
    witness = _witness(state, clock=1_800_000_001.0)
    port = free_port()
    config = uvicorn.Config(create_app(witness), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(url), timeout=10)
    yield url, witness
    server.should_exit = True
    thread.join(timeout=10)
    state.close()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_the_log_gets_cosignatures_over_http_and_marks_checkpoints_final(
    served_witness: tuple[str, Witness], tmp_path: Path
) -> None:
    url, witness = served_witness
    store = SqliteIntegrityStore(tmp_path / "integrity.sqlite3")
    leaves = _leaves(40)
    state = store.state("acme")
    frontier, nodes = state.frontier.append(leaves[:25])
    from auditlog.ledger.leaves import SpineLeaf

    spine = [SpineLeaf(i, f"id-{i}", h, "2999-01-01") for i, h in enumerate(leaves[:25])]
    assert store.commit("acme", state, frontier, nodes, spine, [])
    signer = CheckpointSigner(Ed25519Signer(bytes(range(32))), "audit.example/log", witnessed=True)
    first = signer.sign("acme", 25, frontier.root(), datetime.now(UTC))
    assert not first.final
    store.put_checkpoint(first)
    endpoint = WitnessEndpoint.parse(f"{url} {witness.key.vkey}")
    with httpx.Client(timeout=5) as http:
        cosigning = Cosigning(store, [endpoint], 1, http)
        done = cosigning.round("acme")
        assert done is not None and done.final
        assert store.latest_checkpoint("acme", final=True) == done
        opened = notes.open_checkpoint(done.note or "", signer.note_keys("acme"), [endpoint.key])
        assert opened.cosigners == {endpoint.key.vkey: 1_800_000_001}
        # The tree grows; the next checkpoint needs a consistency proof from 25.
        state = store.state("acme")
        frontier, nodes = state.frontier.append(leaves[25:])
        more = [SpineLeaf(i, f"id-{i}", h, "2999-01-01") for i, h in enumerate(leaves[25:], start=25)]
        assert store.commit("acme", state, frontier, nodes, more, [])
        store.put_checkpoint(signer.sign("acme", 40, frontier.root(), datetime.now(UTC)))
        fresh = Cosigning(store, [endpoint], 1, http)  # knows no size yet: learns 25 from a 409
        grown = fresh.round("acme")
        assert grown is not None and grown.final and grown.tree_size == 40
        monitored = httpx.get(f"{url}/{origin_hash('audit.example/log/acme')}/checkpoint")
        assert monitored.status_code == 200 and "\n40\n" in monitored.text
        assert base64.b64decode(monitored.text.split("\n")[2]) == frontier.root()
    store.close()


def test_firestore_state_keeps_the_same_contract(
    firestore_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.cloud import firestore

    from auditlog.backends.gcp.firestore_witness import FirestoreWitnessState

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    state = FirestoreWitnessState(firestore.Client(project="witness-test"), prefix=f"t{os.getpid()}")
    origin = f"audit.example/log/fs-{os.getpid()}"
    leaves = _leaves(8)
    assert state.latest(origin) is None
    assert state.advance(origin, 0, Cosigned(4, merkle.root(leaves[:4]), "a")) is None
    assert state.advance(origin, 0, Cosigned(5, merkle.root(leaves[:5]), "b")) == 4
    assert state.advance(origin, 4, Cosigned(8, merkle.root(leaves), "c")) is None
    held = state.latest_by_hash(origin_hash(origin))
    assert held is not None and (held.size, held.note) == (8, "c")
