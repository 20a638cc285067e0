"""Writes src/integrity/__fixtures__/witnessed-note.json: checkpoints as the service signs them
(``auditlog.ledger.checkpoints``), cosigned by the witness service itself
(``auditlog.witness.service``), each case with the verdict of the Python SDK
(``auditlog_sdk.verify.verify_proof`` under a witness policy), so that the plugin's verifier is
checked against what the log and its witnesses really produce. Fixed seeds, clocks and dates:
the output is the same on every run.

Rerun (repository root): PYTHONPATH=shared:sdk/python .venv/bin/python plugins/audit-log/scripts/make_witness_vectors.py
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditlog.backends.embedded.sqlite_witness import SqliteWitnessState
from auditlog.ledger import merkle, notes
from auditlog.ledger.checkpoints import Checkpoint, CheckpointSigner, Ed25519Signer
from auditlog.ledger.witnessing import request_body
from auditlog.witness.service import LogRule, Witness
from auditlog_sdk.notes import WitnessPolicy
from auditlog_sdk.verify import keys_from, verify_proof

OUT = Path(__file__).resolve().parent.parent / "src" / "integrity" / "__fixtures__" / "witnessed-note.json"
LOG = CheckpointSigner.from_seed(bytes(range(32)), "audit.example/log")
TENANT = "acme"
SIGNED_AT = datetime(2026, 11, 26, 12, 5, tzinfo=UTC)
COSIGNED_AT = 1_800_000_000
LEAF_INDEX = 3


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"event {i}".encode()) for i in range(n)]


def witness(name: str, seed: int, state: Path) -> Witness:
    """A witness of every tenant of LOG, with a state of its own and a fixed clock."""
    rules = [LogRule.parse(f"{LOG.log_origin}/* {LOG.public_key.hex()}")]
    return Witness(
        name, Ed25519Signer(bytes([seed]) * 32), rules, SqliteWitnessState(state), clock=lambda: COSIGNED_AT
    )


def cosignature(by: Witness, checkpoint: Checkpoint) -> notes.NoteSignature:
    """The witness's answer to the checkpoint submitted as the log's first one it sees."""
    answer = by.add_checkpoint(request_body(0, [], checkpoint.note or ""))
    assert answer.status == 200, answer
    return notes.split((checkpoint.note or "") + answer.body)[1][-1]


def with_lines(checkpoint: Checkpoint, extra: list[notes.NoteSignature]) -> Checkpoint:
    """The checkpoint with signature lines appended as they are, duplicates kept."""
    text, held = notes.split(checkpoint.note or "")
    return dataclasses.replace(checkpoint, note=notes.join(text, held + extra))


def proof_of(checkpoint: Checkpoint, tree: list[bytes]) -> dict[str, Any]:
    """``getEventProof``'s answer for leaf LEAF_INDEX, its record gone to retention."""
    _, nodes = merkle.Frontier.empty().append(tree)
    path = merkle.inclusion_proof(LEAF_INDEX, len(tree), merkle.source(nodes))
    return {
        "audit_id": "00000000-0000-4000-8000-000000000003",
        "leaf_index": LEAF_INDEX,
        "tree_size": len(tree),
        "leaf_hash": tree[LEAF_INDEX].hex(),
        "audit_path": [h.hex() for h in path],
        "checkpoint": checkpoint.as_dict(),
        "record": None,
    }


def main() -> None:
    tree, longer = leaves(7), leaves(8)
    signed = LOG.sign(TENANT, len(tree), merkle.root(tree), SIGNED_AT)
    other_tree = LOG.sign(TENANT, len(longer), merkle.root(longer), SIGNED_AT)
    with tempfile.TemporaryDirectory() as tmp:
        w1, w2, w3 = (witness(f"w{i}.example/witness", 40 + i, Path(tmp, f"w{i}")) for i in (1, 2, 3))
        c1, c2, c3 = (cosignature(w, signed) for w in (w1, w2, w3))
        # w1 again, with a fresh state: it cosigns the longer tree as the first it sees.
        c1_other = cosignature(witness("w1.example/witness", 41, Path(tmp, "w1-other")), other_tree)
    vkeys = {"w1": w1.key.vkey, "w2": w2.key.vkey, "w3": w3.key.vkey}
    both = signed.cosigned([c1, c2], final=True)
    text, _ = notes.split(both.note or "")
    tampered_text = (both.note or "").replace(text, text.replace("\n7\n", "\n6\n", 1), 1)
    notes_by_case: list[tuple[str, Checkpoint, list[str], int | None]] = [
        ("two cosignatures, two witnesses, default quorum", both, ["w1", "w2"], None),
        ("two cosignatures, quorum 2 of 3", both, ["w1", "w2", "w3"], 2),
        ("two cosignatures, default quorum of 3", both, ["w1", "w2", "w3"], None),
        ("one cosignature, quorum 2", signed.cosigned([c1], final=False), ["w1", "w2"], 2),
        ("one cosignature, quorum 1", signed.cosigned([c1], final=True), ["w1", "w2"], 1),
        ("an unknown witness is not counted", signed.cosigned([c1, c3], final=True), ["w1", "w2"], 2),
        ("a duplicate cosignature counts once", with_lines(signed, [c1, c1]), ["w1", "w2"], 2),
        ("a cosignature over another tree", with_lines(signed, [c1_other, c2]), ["w1", "w2"], 1),
        ("a tampered note text", dataclasses.replace(both, note=tampered_text), ["w1", "w2"], None),
        ("no cosignature, quorum 0", signed, ["w1", "w2"], 0),
        ("no note at all, quorum 1", dataclasses.replace(signed, note=None), ["w1"], 1),
    ]
    public_keys = LOG.public_keys()["keys"]
    cases = []
    for name, checkpoint, names, quorum in notes_by_case:
        proof = proof_of(checkpoint, tree)
        policy = WitnessPolicy.of([vkeys[n] for n in names], quorum)
        verdict = verify_proof(proof, keys_from({"keys": public_keys}), witnesses=policy)
        cases.append(
            {
                "name": name,
                "witnesses": {"keys": [vkeys[n] for n in names], "quorum": quorum},
                "proof": proof,
                "sdk_verified": verdict,
            }
        )
    document = {
        "about": "made by scripts/make_witness_vectors.py with the service's own signer and witness",
        "log_vkey": LOG.note_keys(TENANT)[0].vkey,
        "witness_vkeys": vkeys,
        "public_keys": public_keys,
        "cases": cases,
    }
    OUT.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
