"""The SDK's proof checks against trees built here by RFC 9162's recursive definitions, keys
made here, and the rfc8785 package."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import rfc8785
from auditlog_sdk import verify
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

pytestmark = pytest.mark.unit


def h(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def mth(d: list[bytes]) -> bytes:
    if not d:
        return h(b"")
    if len(d) == 1:
        return h(b"\x00" + d[0])
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return h(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return [*path(m, d[:k]), mth(d[k:])] if m < k else [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


D = [f"entry {i}".encode() for i in range(21)]


@pytest.mark.parametrize("n", range(1, 21))
def test_inclusion_every_leaf(n: int) -> None:
    root = mth(D[:n])
    for m in range(n):
        leaf = h(b"\x00" + D[m])
        p = path(m, D[:n])
        assert verify.verify_inclusion(m, n, leaf, p, root)
        assert not verify.verify_inclusion(m, n, h(b"\x00x"), p, root)
        if p:
            assert not verify.verify_inclusion(m, n, leaf, p[:-1], root)
            assert not verify.verify_inclusion(m, n, leaf, [bytes(32), *p[1:]], root)


@pytest.mark.parametrize("n", range(1, 21))
def test_consistency_every_pair(n: int) -> None:
    for m in range(1, n):
        p = subproof(m, D[:n], True)
        assert verify.verify_consistency(m, n, mth(D[:m]), mth(D[:n]), p)
        assert not verify.verify_consistency(m, n, h(b"x"), mth(D[:n]), p)
        assert not verify.verify_consistency(m, n, mth(D[:m]), mth(D[:n]), p[:-1])


def _record(**extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(
        [
            "audit_id",
            "timestamp",
            "event_type",
            "user_id",
            "session_id",
            "ip_address",
            "user_agent",
            "resource_type",
            "resource_id",
            "action",
            "status",
            "request_data",
            "response_data",
            "metadata",
            "tenant_id",
            "service_name",
            "correlation_id",
            "created_at",
            "partition_date",
        ]
    )
    record.update(retention_period_days=90, tenant_id="acme", user_agent='quote " é \u2028 \x1f', **extra)
    return record


def test_leaf_hash_is_sha256_of_rfc8785() -> None:
    record = _record(metadata='{"a":1}')
    assert verify.leaf_hash(record) == h(b"\x00" + rfc8785.dumps(record))
    with pytest.raises(ValueError):
        verify.leaf_hash({**record, "metadata": {"a": 1}})


def test_checkpoint_and_proof_checks() -> None:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    keys = verify.keys_from(
        {"keys": [{"key_id": verify.key_id(raw), "algorithm": "Ed25519", "public_key": raw.hex()}]}
    )
    records = [_record(audit_id=f"id-{i}") for i in range(5)]
    leaves = [verify.canonical_record(r) for r in records]
    checkpoint = {
        "tenant_id": "acme",
        "tree_size": 5,
        "root_hash": mth(leaves).hex(),
        "timestamp": "2026-11-26T12:00:00.000000Z",
        "key_id": verify.key_id(raw),
    }
    checkpoint["signature"] = key.sign(verify.checkpoint_text(checkpoint)).hex()
    proof = {
        "audit_id": "id-3",
        "leaf_index": 3,
        "tree_size": 5,
        "leaf_hash": h(b"\x00" + leaves[3]).hex(),
        "audit_path": [x.hex() for x in path(3, leaves)],
        "checkpoint": checkpoint,
        "record": records[3],
    }
    assert verify.verify_proof(proof, keys, receipt=proof["leaf_hash"])
    assert not verify.verify_proof(proof, keys, receipt="00" * 32)
    assert not verify.verify_proof({**proof, "record": {**records[3], "action": "forged"}}, keys)
    assert not verify.verify_proof({**proof, "checkpoint": {**checkpoint, "tree_size": 6}}, keys)
    assert not verify.verify_proof({**proof, "record": None, "leaf_index": 2}, keys)
    assert verify.verify_proof({**proof, "record": None}, keys), "a deleted payload still proves its leaf"
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert not verify.verify_checkpoint(checkpoint, {verify.key_id(raw): other})
    assert verify.keys_from({"keys": [{"key_id": "0" * 16, "public_key": raw.hex()}]}) == {}, "ids re-derived"


# -- C2SP notes (auditlog_sdk.notes) ----------------------------------------------------------


def test_the_sdk_opens_the_specifications_example_and_our_checkpoints_notes() -> None:
    from datetime import UTC, datetime

    from auditlog_sdk import notes as sdk_notes

    from auditlog.ledger import notes
    from auditlog.ledger.checkpoints import CheckpointSigner, Ed25519Signer

    example = sdk_notes.NoteKey.parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
    assert example.key_id.hex() == "530d903a"
    signer = CheckpointSigner.from_seed(bytes(range(32)), "audit.example/log")
    checkpoint = signer.sign("acme", 3, bytes(32), datetime.now(UTC))
    witness = Ed25519Signer(bytes([5]) * 32)
    wkey = notes.NoteKey("w.example/1", notes.COSIGNATURE_V1, witness.public_key)
    cosignature = notes.cosign(checkpoint.text or "", wkey, witness.sign, 1_700_000_000)
    document = checkpoint.cosigned([cosignature], final=True).as_dict()
    policy = sdk_notes.WitnessPolicy.of([wkey.vkey])
    keys = [signer.public_key]
    assert sdk_notes.checkpoint_note_ok(document, keys, policy)
    assert not sdk_notes.checkpoint_note_ok(checkpoint.as_dict(), keys, policy), "no cosignature"
    assert not sdk_notes.checkpoint_note_ok({**document, "tree_size": 4}, keys, policy)
    log_key = sdk_notes.NoteKey.parse(signer.note_keys("acme")[0].vkey)
    opened = sdk_notes.open_checkpoint(document["note"], [log_key], policy)
    assert opened["cosigners"] == {"w.example/1": 1_700_000_000} and opened["tree_size"] == 3
