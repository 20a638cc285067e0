"""Rotating the log's signing key: the server restarts with a new key and the old public key in
``AUDITLOG_RETIRED_PUBLIC_KEYS``. Both keys are published (``/public-key`` and, as signed-note
verifier keys, ``/log/verifier-keys``); checkpoints signed before the rotation keep verifying,
by the original signature and as C2SP notes; new checkpoints are signed by the new key; and
``auditlog verify`` accepts a checkpoint from before the rotation as the earlier one it checks
the log extends (with the configured keys, or with both given as --public-key)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import auditlog_sdk as sdk
import httpx
import pytest

from auditlog.ledger import notes
from auditlog.ledger.checkpoints import Checkpoint, Ed25519Signer, key_id_of, verify_checkpoint
from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e

OLD, NEW = Ed25519Signer(bytes(range(1, 33))), Ed25519Signer(bytes(range(33, 65)))
ROLES = ["audit_writer", "audit_reader"]
ORIGIN = "rotation.example/log"


def _events(n: int) -> list[dict[str, Any]]:
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return [
        {"timestamp": at, "event_type": "key.rotation", "user_id": "u", "resource_type": "r", "action": "a"}
        for _ in range(n)
    ]


def _proved(client: httpx.Client, n: int) -> dict[str, Any]:
    accepted = client.post("/api/v1/audit/events/batch", json={"events": _events(n)})
    assert accepted.status_code == 202, accepted.text
    last = accepted.json()["results"][-1]["audit_id"]

    def proof() -> dict[str, Any] | None:
        answer = client.get(f"/api/v1/audit/events/{last}/proof")
        return answer.json() if answer.status_code == 200 else None

    found: dict[str, Any] = wait_for(proof, timeout=15, interval=0.05)
    return found


def test_a_rotated_key_keeps_old_checkpoints_verifying(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "signing-key").write_bytes(bytes(range(1, 33)))
    service = LocalService(data, env={"AUDITLOG_LOG_ORIGIN": ORIGIN})
    tenant = f"rot-{uuid.uuid4().hex[:8]}"
    service.start()
    try:
        with service.client(tenant, ROLES) as client:
            before = _proved(client, 5)["checkpoint"]
            assert before["key_id"] == key_id_of(OLD.public_key)
    finally:
        service.stop()

    (data / "signing-key").write_bytes(bytes(range(33, 65)))
    service.env["AUDITLOG_RETIRED_PUBLIC_KEYS"] = json.dumps([OLD.public_key.hex()])
    service.start()
    try:
        with service.client(tenant, ROLES) as client:
            published = client.get("/api/v1/audit/public-key").json()["keys"]
            assert [k["public_key"] for k in published] == [NEW.public_key.hex(), OLD.public_key.hex()]
            vkeys = client.get("/api/v1/audit/log/verifier-keys", params={"tenant_id": tenant}).json()
            log_keys = [notes.NoteKey.parse(v) for v in vkeys["log"]]
            assert [k.public_key for k in log_keys] == [NEW.public_key, OLD.public_key]
            assert {k.name for k in log_keys} == {f"{ORIGIN}/{tenant}"}

            after = _proved(client, 5)["checkpoint"]
            assert after["key_id"] == key_id_of(NEW.public_key)
            keys = {k["key_id"]: bytes.fromhex(k["public_key"]) for k in published}
            for checkpoint in (before, after):
                assert verify_checkpoint(Checkpoint.from_dict(checkpoint), keys)
                assert notes.open_checkpoint(checkpoint["note"], log_keys).checkpoint.tree_size == (
                    checkpoint["tree_size"]
                )
            # Without the retired key, the old checkpoint is one nobody can check.
            assert not verify_checkpoint(Checkpoint.from_dict(before), {after["key_id"]: NEW.public_key})
            # The SDK, which fetches the published keys, verifies an event from before.
            with sdk.Client(service.url, token=service.token(tenant, ROLES)) as client_sdk:
                first = client_sdk.search_events(page_size=100)["events"][-1]["audit_id"]
                assert client_sdk.verify_event(first)["leaf_index"] >= 0
    finally:
        service.stop()

    since = tmp_path / "before.json"
    since.write_text(json.dumps(before))
    env = {**os.environ, "AUDITLOG_DATA_DIR": str(data), "AUDITLOG_ENVIRONMENT": "development", **service.env}
    verify = [sys.executable, "-m", "auditlog.cli", "verify", "--tenant", tenant]
    verify += ["--since-checkpoint", str(since)]
    for extra in ([], ["--public-key", NEW.public_key.hex(), "--public-key", OLD.public_key.hex()]):
        done = subprocess.run([*verify, *extra], env=env, capture_output=True, timeout=120)
        assert done.returncode == 0, (extra, done.stdout.decode(), done.stderr.decode())
    done = subprocess.run(
        [*verify, "--public-key", NEW.public_key.hex()], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 1, "an earlier checkpoint by a key not trusted is not accepted"
    (report,) = json.loads(done.stdout)["tenants"]
    assert [f["kind"] for f in report["findings"]] == ["signature"]
