"""Writes src/integrity/__fixtures__/vectors.json: test vectors for the browser-side verifier,
made with independent implementations (Trail of Bits' `rfc8785`, pyca `cryptography`, and the
recursive definitions of RFC 9162 section 2.1) so the TypeScript code is not checked against
itself.

    python3 -m venv /tmp/vec && /tmp/vec/bin/pip install rfc8785 cryptography
    /tmp/vec/bin/python scripts/make_integrity_vectors.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

OUT = Path(__file__).resolve().parent.parent / "src" / "integrity" / "__fixtures__" / "vectors.json"
COLUMNS = [
    "audit_id", "timestamp", "event_type", "user_id", "session_id", "ip_address", "user_agent",
    "resource_type", "resource_id", "action", "status", "request_data", "response_data", "metadata",
    "tenant_id", "service_name", "correlation_id", "retention_period_days", "created_at",
    "partition_date",
]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, recursively, over leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[n]), recursively."""
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def record(i: int, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = dict.fromkeys(COLUMNS)
    base.update(
        audit_id=f"0193a1b2-7c4d-7e8f-9a0b-{i:012x}",
        timestamp=f"2026-11-26T12:00:{i % 60:02d}.{i * 1000:06d}Z",
        event_type="invoice.update",
        user_id=f"user-{i}",
        resource_type="invoice",
        resource_id=f"inv-{i}",
        action="update",
        status="success",
        tenant_id="acme",
        retention_period_days=90 + i,
        created_at="2026-11-26T12:01:00.000000Z",
        partition_date="2026-11-26",
    )
    base.update(overrides)
    return base


def main() -> None:
    records = [
        record(0),
        record(1, metadata=json.dumps({"region": "eu", "n": 1}, separators=(",", ":")),
               request_data='{"amount":12.5,"note":"quote \\" and \\\\ backslash"}'),
        record(2, user_agent="Mozilla/5.0 (X11; Linux x86_64) \u00e9\u00e8 \U0001F600",
               ip_address="2001:db8::1", session_id="sess-\u0001\u001f\t\n\r\b\f"),
        record(3, service_name="billing", correlation_id="corr-\u2028\u2029-\u007f-</script>"),
        record(4, response_data='{"ok":true}', metadata="{}", user_id="Zo\u00eb"),
        record(5, resource_id=None, retention_period_days=2555),
        record(6, event_type="user.login", resource_type="session", action="create", status="failure"),
    ]
    canon = [rfc8785.dumps(r) for r in records]
    hashes = [leaf_hash(c) for c in canon]

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(public).digest()[:8].hex()
    root = mth(hashes)
    checkpoint = {
        "tenant_id": "acme",
        "tree_size": len(hashes),
        "root_hash": root.hex(),
        "timestamp": "2026-11-26T12:05:00.000000Z",
        "key_id": key_id,
    }
    message = (
        f"auditlog-checkpoint/v1\n{checkpoint['tenant_id']}\n{checkpoint['tree_size']}\n"
        f"{checkpoint['root_hash']}\n{checkpoint['timestamp']}\n"
    )
    checkpoint["signature"] = key.sign(message.encode()).hex()

    # Roots and proofs for every size up to 12 over hashes of single bytes, for the verifier's
    # index arithmetic (odd sizes, last leaf, power-of-two boundaries).
    small = [leaf_hash(bytes([i])) for i in range(12)]
    trees = [
        {
            "size": n,
            "root": mth(small[:n]).hex(),
            "proofs": [{"index": m, "path": [p.hex() for p in path(m, small[:n])]} for m in range(n)],
        }
        for n in range(1, 13)
    ]

    vectors = {
        "generated_by": "scripts/make_integrity_vectors.py (rfc8785, cryptography, RFC 9162 recursive)",
        "records": [
            {"record": r, "canonical": c.decode(), "leaf_hash": h.hex()}
            for r, c, h in zip(records, canon, hashes, strict=True)
        ],
        "public_key": {"key_id": key_id, "algorithm": "Ed25519", "public_key": public.hex()},
        "checkpoint": checkpoint,
        "proofs": [
            {
                "audit_id": r["audit_id"],
                "leaf_index": i,
                "tree_size": len(hashes),
                "leaf_hash": hashes[i].hex(),
                "audit_path": [p.hex() for p in path(i, hashes)],
                "checkpoint": checkpoint,
                "record": r,
            }
            for i, r in enumerate(records)
        ],
        "leaf_hashes_of_bytes": [h.hex() for h in small],
        "trees": trees,
        "empty_root": mth([]).hex(),
    }
    OUT.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
