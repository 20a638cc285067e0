"""GDPR erasure by crypto-shredding: personal fields are encrypted per data subject at ingest;
erasing the subject leaves no copy of them readable anywhere we hold data, and every proof still
verifies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditlog.ledger.leaves import event_leaf_hash
from tests.conftest import LocalService, wait_for
from tests.e2e.test_integrity import proof_when_ready

pytestmark = pytest.mark.e2e

EMAIL = "alice.liddell@wonderland.example"
IP = "198.51.100.23"


def _event(user: str, email: str, ip: str) -> dict[str, Any]:
    return {
        "audit_id": str(uuid.uuid4()),
        "timestamp": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "event_type": "account.update",
        "user_id": user,
        "ip_address": ip,
        "resource_type": "account",
        "resource_id": f"acct-{user}",
        "action": "update",
        "metadata": {"email": email, "plan": "gold"},
    }


def _files_contain(data_dir: Path, needle: bytes) -> list[str]:
    return [str(p) for p in data_dir.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_erasure_destroys_personal_data_and_keeps_proofs(fresh_service: LocalService) -> None:
    tenant = f"gdpr-{uuid.uuid4().hex[:8]}"
    policy = {
        "pii_rules": [
            {"field": "ip_address", "action": "encrypt"},
            {"field": "metadata.email", "action": "encrypt"},
        ]
    }
    with fresh_service.client("auditlog-platform", ["system_admin"], sub="dpo") as admin:
        assert admin.put(f"/api/v1/admin/tenants/{tenant}/policy", json=policy).status_code == 200
    alice, bob = _event("alice", EMAIL, IP), _event("bob", "bob@example.org", "203.0.113.9")
    with fresh_service.client(tenant, ["audit_writer", "audit_reader", "audit_export"]) as client:
        written = client.post("/api/v1/audit/events/batch", json={"events": [alice, bob]}).json()
        receipts = {r["audit_id"]: r["leaf_hash"] for r in written["results"]}
        url = f"/api/v1/audit/events/{alice['audit_id']}"
        wait_for(lambda: client.get(url).status_code == 200)
        shown = client.get(url).json()
        assert shown["metadata"] == {"email": EMAIL, "plan": "gold"}, "readers see the value"
        assert shown["ip_address"] == IP
        before = proof_when_ready(client, alice["audit_id"], timeout=10)
        assert before["record"]["ip_address"].startswith("enc:v1:"), "the leaf commits to ciphertext"
        assert EMAIL not in before["record"]["metadata"]
        page = client.get("/api/v1/audit/events", params={"user_id": "alice"}).json()  # cached now
        assert page["events"][0]["metadata"]["email"] == EMAIL
    assert not _files_contain(fresh_service.data_dir, EMAIL.encode()), "never stored in clear"

    with fresh_service.client("auditlog-platform", ["system_admin"], sub="dpo") as admin:
        bad = admin.post("/api/v1/admin/erasures", json={"tenant_id": tenant})
        assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "user_id"
        done = admin.post("/api/v1/admin/erasures", json={"tenant_id": tenant, "user_id": "alice"})
        assert done.status_code == 200, done.text
        erasure = done.json()
        assert erasure["status"] == "done" and erasure["key_destroyed"] is True
        assert "alice" not in done.text, "the request is tracked by subject hash, not user_id"
        listed = admin.get("/api/v1/admin/erasures", params={"tenant_id": tenant}).json()["erasures"]
        assert [e["erasure_id"] for e in listed] == [erasure["erasure_id"]]

    with fresh_service.client(tenant, ["audit_reader", "audit_export"]) as client:
        gone = client.get(f"/api/v1/audit/events/{alice['audit_id']}").json()
        assert gone["ip_address"] == "[erased]" and gone["metadata"] == {"email": "[erased]", "plan": "gold"}
        page = client.get("/api/v1/audit/events", params={"user_id": "alice"}).json()
        assert page["events"][0]["metadata"]["email"] == "[erased]", "no cached page shows it again"
        for fmt in ("json", "csv"):
            exported = client.get("/api/v1/audit/events/export", params={"format": fmt}).text
            assert EMAIL not in exported and IP not in exported
            assert "[erased]" in exported and "bob@example.org" in exported, "fields opened for export"
            assert "enc:v1:" not in exported
        other = client.get(f"/api/v1/audit/events/{bob['audit_id']}").json()
        assert other["metadata"]["email"] == "bob@example.org", "other subjects are untouched"
        for audit_id, leaf in receipts.items():
            after = proof_when_ready(client, audit_id, timeout=10)
            assert after["leaf_hash"] == leaf
            assert event_leaf_hash(after["record"]).hex() == leaf, "the stored ciphertext still hashes to it"
        assert proof_when_ready(client, alice["audit_id"], timeout=10)["record"] == before["record"]
