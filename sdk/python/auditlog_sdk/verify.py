"""Checking receipts and proofs exactly as docs/INTEGRITY.md describes, with nothing but
SHA-256 and Ed25519: the leaf hash of a committed record (RFC 8785), RFC 9162 tree roots,
inclusion and consistency proofs, and the Ed25519 signature of a checkpoint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditlog_sdk.notes import WitnessPolicy, checkpoint_note_ok

CHECKPOINT_ORIGIN = "auditlog-checkpoint/v1"


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def canonical_record(record: Mapping[str, Any]) -> bytes:
    """RFC 8785 (JCS) of a committed record: a flat object of strings, integers and nulls with
    ASCII member names, for which sorted keys and JSON's minimal escaping are exactly JCS."""
    for key, value in record.items():
        if not (
            value is None
            or isinstance(value, str)
            or (isinstance(value, int) and not isinstance(value, bool))
        ):
            raise ValueError(f"{key} is not a string, integer or null: not a committed record")
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(record: Mapping[str, Any]) -> bytes:
    return _sha(b"\x00" + canonical_record(record))


def _node(left: bytes, right: bytes) -> bytes:
    return _sha(b"\x01" + left + right)


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.1's MTH of a list of leaf hashes, a level at a time: pairs hashed left to
    right and an odd last node carried up unchanged, which builds the same tree as splitting at
    the largest power of two below the size."""
    level = list(leaf_hashes)
    if not level:
        return _sha(b"")
    while len(level) > 1:
        paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2; None when the path cannot belong to that index and size."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    return root_from_inclusion(index, size, leaf, path) == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 2.1.4.2."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def checkpoint_text(checkpoint: Mapping[str, Any]) -> bytes:
    return (
        f"{CHECKPOINT_ORIGIN}\n{checkpoint['tenant_id']}\n{checkpoint['tree_size']}\n"
        f"{checkpoint['root_hash']}\n{checkpoint['timestamp']}\n"
    ).encode()


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


def verify_checkpoint(checkpoint: Mapping[str, Any], public_keys: Mapping[str, bytes]) -> bool:
    """The checkpoint's Ed25519 signature, with the key it names among ``public_keys``."""
    key = public_keys.get(str(checkpoint.get("key_id")))
    if key is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(
            bytes.fromhex(checkpoint["signature"]), checkpoint_text(checkpoint)
        )
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True


def keys_from(document: Mapping[str, Any]) -> dict[str, bytes]:
    """``GET /api/v1/audit/public-key``'s answer as {key_id: raw key}, each id re-derived."""
    keys: dict[str, bytes] = {}
    for entry in document.get("keys", []):
        raw = bytes.fromhex(entry["public_key"])
        if key_id(raw) == entry["key_id"]:
            keys[entry["key_id"]] = raw
    return keys


def verify_proof(
    proof: Mapping[str, Any],
    public_keys: Mapping[str, bytes],
    receipt: str | None = None,
    *,
    witnesses: WitnessPolicy | None = None,
) -> bool:
    """A ``getEventProof`` answer: signature, record → leaf (when the payload still exists), the
    receipt given at write time (if any) and the inclusion path to the signed root. With
    ``witnesses``, the checkpoint's signed note must also carry the policy's quorum of
    cosignatures (a checkpoint without them is refused)."""
    checkpoint = proof["checkpoint"]
    if not verify_checkpoint(checkpoint, public_keys):
        return False
    if witnesses is not None and not checkpoint_note_ok(checkpoint, public_keys.values(), witnesses):
        return False
    if checkpoint["tree_size"] != proof["tree_size"]:
        return False
    leaf = bytes.fromhex(proof["leaf_hash"])
    record = proof.get("record")
    if record is not None and (
        leaf_hash(record) != leaf or record.get("tenant_id") != checkpoint["tenant_id"]
    ):
        return False
    if receipt is not None and receipt != proof["leaf_hash"]:
        return False
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    return verify_inclusion(
        proof["leaf_index"], proof["tree_size"], leaf, path, bytes.fromhex(checkpoint["root_hash"])
    )
