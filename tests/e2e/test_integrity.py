"""Proofs fetched over HTTP verify with an independent RFC 9162 verifier written here from the
RFC's text (it shares no code with the service), against checkpoints whose Ed25519 signatures
are checked with the published key."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e


# -- An independent verifier, per RFC 9162 2.1.3.2 and 2.1.4.2 --------------------------------


def _sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def rfc_inclusion_root(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = _sha(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _sha(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def rfc_consistent(first: int, second: int, r1: bytes, r2: bytes, proof: list[bytes]) -> bool:
    if first == second:
        return r1 == r2 and not proof
    if first & (first - 1) == 0:
        proof = [r1, *proof]
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = _sha(b"\x01" + c + fr)
            sr = _sha(b"\x01" + c + sr)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _sha(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == r1 and sr == r2


def jcs_flat(record: dict[str, Any]) -> bytes:
    """RFC 8785 for a flat object of ASCII keys, strings, integers and nulls."""
    import json

    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checkpoint_ok(cp: dict[str, Any], keys: dict[str, bytes]) -> bool:
    body = (
        f"auditlog-checkpoint/v1\n{cp['tenant_id']}\n{cp['tree_size']}\n{cp['root_hash']}\n"
        f"{cp['timestamp']}\n"
    ).encode()
    try:
        Ed25519PublicKey.from_public_bytes(keys[cp["key_id"]]).verify(bytes.fromhex(cp["signature"]), body)
    except Exception:
        return False
    return True


# -- Tests -------------------------------------------------------------------------------------


def _event(i: int) -> dict[str, Any]:
    return {
        "audit_id": str(uuid.uuid4()),
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "doc.update",
        "user_id": f"user-{i}",
        "resource_type": "doc",
        "resource_id": f"doc-{i}",
        "action": "update",
        "status": "success",
        "ip_address": "192.0.2.7",
        "request_data": {"z": 1, "a": {"ü": "ß", "list": [1, 2.5, None, True]}, "text": 'line\n\t"q"'},
        "metadata": {"k": "v"},
    }


def proof_when_ready(
    client: httpx.Client, audit_id: str, timeout: float = 5.0, **params: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/v1/audit/events/{audit_id}/proof", params=params)
        if response.status_code == 200:
            return dict(response.json())
        # 404 while the accepted event is on its way to the store, then 409 until sequenced.
        assert response.status_code in (404, 409), response.text
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "not_sequenced"
            assert response.headers["Retry-After"] == "1"
        assert time.monotonic() < deadline, f"not in a checkpoint in time: {response.text}"
        time.sleep(0.05)


def _keys(service: LocalService) -> dict[str, bytes]:
    published = httpx.get(f"{service.url}/api/v1/audit/public-key").json()  # no token needed
    return {k["key_id"]: bytes.fromhex(k["public_key"]) for k in published["keys"]}


def test_receipts_proofs_and_checkpoints_verify_independently(service: LocalService) -> None:
    tenant = f"proof-{uuid.uuid4().hex[:8]}"
    keys = _keys(service)
    with service.client(tenant, ["audit_writer", "audit_reader"]) as client:
        single = client.post("/api/v1/audit/events", json=_event(0))
        assert single.status_code == 202
        accepted_at = time.monotonic()
        receipts = {single.json()["audit_id"]: single.json()["leaf_hash"]}
        batch = client.post("/api/v1/audit/events/batch", json={"events": [_event(i) for i in range(1, 40)]})
        receipts |= {r["audit_id"]: r["leaf_hash"] for r in batch.json()["results"]}
        first = proof_when_ready(client, single.json()["audit_id"])
        delay = time.monotonic() - accepted_at
        assert delay <= 2.0, f"inclusion took {delay:.2f} s; the stated maximum locally is 2 s"

        proofs = [proof_when_ready(client, audit_id) for audit_id in receipts]
        indices = sorted(p["leaf_index"] for p in proofs)
        assert indices == list(range(len(receipts))), "gap-free indices from 0"
        for p in proofs:
            cp = p["checkpoint"]
            assert checkpoint_ok(cp, keys)
            assert cp["tenant_id"] == tenant and cp["tree_size"] == p["tree_size"]
            leaf = bytes.fromhex(p["leaf_hash"])
            assert p["leaf_hash"] == receipts[p["audit_id"]], "the receipt is the leaf"
            assert _sha(b"\x00" + jcs_flat(p["record"])) == leaf, "the record hashes to the leaf"
            assert p["record"]["audit_id"] == p["audit_id"]
            root = rfc_inclusion_root(
                p["leaf_index"], p["tree_size"], leaf, [bytes.fromhex(h) for h in p["audit_path"]]
            )
            assert root == bytes.fromhex(cp["root_hash"])

        # A proof against the older checkpoint still verifies, and the two are consistent.
        old = first["checkpoint"]
        latest = client.get("/api/v1/audit/checkpoints/latest").json()
        assert checkpoint_ok(latest, keys) and latest["tree_size"] >= 40
        again = client.get(f"/api/v1/audit/checkpoints/{old['tree_size']}").json()
        assert again["tree_size"] == old["tree_size"] and again["root_hash"] == old["root_hash"]
        consistency = client.get(
            "/api/v1/audit/proofs/consistency",
            params={"first": old["tree_size"], "second": latest["tree_size"]},
        ).json()
        assert rfc_consistent(
            old["tree_size"],
            latest["tree_size"],
            bytes.fromhex(old["root_hash"]),
            bytes.fromhex(latest["root_hash"]),
            [bytes.fromhex(h) for h in consistency["proof"]],
        )
        pinned = proof_when_ready(client, first["audit_id"], tree_size=old["tree_size"])
        assert pinned["checkpoint"]["root_hash"] == old["root_hash"]


def test_proof_requests_with_bad_input_name_the_field(service: LocalService) -> None:
    tenant = f"proof-{uuid.uuid4().hex[:8]}"
    with service.client(tenant, ["audit_writer", "audit_reader"]) as client:
        bad = client.get("/api/v1/audit/events/not-a-uuid/proof")
        assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "audit_id"
        missing = client.get(f"/api/v1/audit/events/{uuid.uuid4()}/proof")
        assert missing.status_code == 404
        assert client.get("/api/v1/audit/checkpoints/latest").status_code == 404, "no events, no tree"
        size = client.get("/api/v1/audit/checkpoints/abc")
        assert size.status_code == 400 and size.json()["error"]["details"][0]["field"] == "tree_size"
        first = client.get("/api/v1/audit/proofs/consistency")
        assert first.status_code == 400 and first.json()["error"]["details"][0]["field"] == "first"
        unknown = client.get("/api/v1/audit/checkpoints/latest", params={"size": "1"})
        assert unknown.status_code == 400 and unknown.json()["error"]["details"][0]["field"] == "size"
    with service.client(tenant, ["audit_writer"]) as writer:
        assert writer.get("/api/v1/audit/checkpoints/latest").status_code == 403


def test_other_tenants_proofs_are_not_reachable(service: LocalService) -> None:
    a, b = f"proof-{uuid.uuid4().hex[:8]}", f"proof-{uuid.uuid4().hex[:8]}"
    with service.client(a, ["audit_writer", "audit_reader"]) as client:
        audit_id = client.post("/api/v1/audit/events", json=_event(1)).json()["audit_id"]
        wait_for(lambda: client.get(f"/api/v1/audit/events/{audit_id}").status_code == 200)
        proof_when_ready(client, audit_id)
    with service.client(b, ["audit_reader"]) as other:
        assert other.get(f"/api/v1/audit/events/{audit_id}/proof").status_code == 404
        assert other.get("/api/v1/audit/checkpoints/latest", params={"tenant_id": a}).status_code == 403
