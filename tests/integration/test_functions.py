"""Each Cloud Function folder, loaded the way functions-framework loads it, serving its routes."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import functions_framework
import orjson
import pytest
from functions_framework.aio import create_asgi_app
from starlette.testclient import TestClient

from auditlog import runtime as runtime_module
from auditlog.auth.dev_issuer import DevIssuer
from auditlog.model.event import format_timestamp
from auditlog.settings import get_settings
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

FUNCTIONS = ROOT / "functions"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("AUDITLOG_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    runtime_module._runtime = None
    yield tmp_path
    if runtime_module._runtime is not None:
        runtime_module._runtime.close()
    runtime_module._runtime = None
    get_settings.cache_clear()


def http_function(name: str) -> TestClient:
    return TestClient(create_asgi_app(target=name, source=str(FUNCTIONS / name / "main.py")))


def auth(data_dir: Path, roles: list[str], tenant: str = "acme") -> dict[str, str]:
    token = DevIssuer(data_dir, issuer="auditlog-dev", audience="auditlog").issue(
        tenant_id=tenant, roles=roles
    )
    return {"Authorization": f"Bearer {token}"}


def an_event() -> dict[str, str]:
    return {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "user.login",
        "user_id": "alice",
        "resource_type": "session",
        "action": "create",
    }


def test_ingest_and_query_functions_serve_only_their_routes(data_dir: Path) -> None:
    ingest, query = http_function("ingest"), http_function("query")
    writer_headers = auth(data_dir, ["audit_writer"])
    reader_headers = auth(data_dir, ["audit_reader"])

    written = ingest.post("/api/v1/audit/events", json=an_event(), headers=writer_headers)
    assert written.status_code == 202, written.text
    audit_id = written.json()["audit_id"]
    assert ingest.get("/api/v1/audit/events", headers=reader_headers).status_code == 405
    assert query.post("/api/v1/audit/events", json=an_event(), headers=writer_headers).status_code == 405
    assert ingest.get(f"/api/v1/audit/events/{audit_id}", headers=reader_headers).status_code == 404

    runtime_module.get_runtime().writer_loop.drain_once(1)  # type: ignore[union-attr]
    found = query.get(f"/api/v1/audit/events/{audit_id}", headers=reader_headers)
    assert found.status_code == 200 and found.json()["audit_id"] == audit_id
    assert query.get("/healthz").status_code == 200


def test_retention_function_needs_a_platform_system_admin(data_dir: Path) -> None:
    retention = http_function("retention")
    refused = retention.post("/api/v1/audit/retention/run", headers=auth(data_dir, ["audit_admin"]))
    assert refused.status_code == 403
    tenant_admin = retention.post("/api/v1/audit/retention/run", headers=auth(data_dir, ["system_admin"]))
    assert tenant_admin.status_code == 403, "a tenant's system_admin does not run platform jobs"
    platform = auth(data_dir, ["system_admin"], "auditlog-platform")
    ran = retention.post("/api/v1/audit/retention/run?dry_run=true", headers=platform)
    assert ran.status_code == 200 and ran.json()["dry_run"] is True


def _envelope(
    position: int | None, audit_id: str = "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"
) -> dict[str, object]:
    now = datetime.now(UTC).replace(tzinfo=None)
    record: dict[str, object] = {
        "audit_id": audit_id,
        "timestamp": format_timestamp(now),
        "event_type": "user.login",
        "user_id": "alice",
        "session_id": None,
        "ip_address": None,
        "user_agent": None,
        "resource_type": "session",
        "resource_id": None,
        "action": "create",
        "status": "success",
        "request_data": None,
        "response_data": None,
        "metadata": '{"k":"v"}',
        "tenant_id": "acme",
        "service_name": None,
        "correlation_id": None,
        "retention_period_days": 90,
        "created_at": format_timestamp(now),
        "partition_date": now.date().isoformat(),
    }
    attributes = (
        {"tenant_id": "acme"} if position is None else {"tenant_id": "acme", "position": str(position)}
    )
    return {
        "message": {
            "data": base64.b64encode(orjson.dumps([record])).decode(),
            "attributes": attributes,
            "messageId": "1",
        },
        "subscription": "projects/p/subscriptions/writer",
    }


def test_writer_accepts_a_raw_push_and_a_binary_cloudevent_and_redelivery_is_written_once(
    data_dir: Path,
) -> None:
    app = functions_framework.create_app(target="writer", source=str(FUNCTIONS / "writer" / "main.py"))
    client = app.test_client()
    raw_push = client.post("/", json=_envelope(1))
    assert raw_push.status_code == 200, raw_push.data
    binary = client.post(
        "/",
        data=orjson.dumps(_envelope(1)),
        headers={
            "ce-id": "2",
            "ce-source": "//pubsub.googleapis.com/projects/p/topics/events",
            "ce-specversion": "1.0",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
            "Content-Type": "application/json",
        },
    )
    assert binary.status_code == 200, binary.data
    store = runtime_module.get_runtime().store
    assert store.count() == 1, "the redelivered message was written twice"
    later = client.post("/", json=_envelope(2, "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6c"))
    assert later.status_code == 200
    assert store.count() == 2


def test_a_message_without_position_is_written_once_when_redelivered(data_dir: Path) -> None:
    """Pub/Sub messages carry no queue position; the store then skips stored audit_ids."""
    client = functions_framework.create_app(
        target="writer", source=str(FUNCTIONS / "writer" / "main.py")
    ).test_client()
    for _ in range(2):
        assert client.post("/", json=_envelope(None)).status_code == 200
    assert runtime_module.get_runtime().store.count() == 1


@pytest.mark.parametrize(
    "data",
    [b"not json", b'{"an": "object"}', b'[{"tenant_id": "other"}]', b"[1, 2]"],
)
def test_writer_refuses_an_undecodable_message(data_dir: Path, data: bytes) -> None:
    app = functions_framework.create_app(target="writer", source=str(FUNCTIONS / "writer" / "main.py"))
    envelope = _envelope(None)
    envelope["message"]["data"] = base64.b64encode(data).decode()  # type: ignore[index]
    response = app.test_client().post("/", json=envelope)
    assert response.status_code == 500  # raised: Pub/Sub redelivers, then dead-letters
    assert runtime_module.get_runtime().store.count() == 0


def test_witness_function_cosigns_with_its_state_in_firestore(
    firestore_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """functions/witness as terraform/witness deploys it: production settings, state in Firestore
    (the emulator), a log it accepts by prefix; it cosigns, remembers what it cosigned, and
    refuses a fork."""
    from auditlog.ledger import merkle, notes
    from auditlog.ledger.checkpoints import CheckpointSigner
    from auditlog.ledger.witnessing import request_body
    from auditlog.ports.witness import origin_hash

    log = CheckpointSigner.from_seed(bytes(range(32)), "audit.example/log")
    origin = f"audit.example/log/fn-{uuid.uuid4().hex[:8]}"
    for name, value in {
        "AUDITLOG_ENVIRONMENT": "production",
        "AUDITLOG_BACKEND": "gcp",
        "AUDITLOG_GCP_PROJECT": "witness-fn-test",
        "FIRESTORE_EMULATOR_HOST": firestore_emulator.host,
        "AUDITLOG_WITNESS_NAME": "witness.example.org/w1",
        "AUDITLOG_WITNESS_KEY": "07" * 32,
        "AUDITLOG_WITNESS_LOGS": orjson.dumps([f"audit.example/log/* {log.public_key.hex()}"]).decode(),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        witness = http_function("witness")
        vkey = witness.get("/healthz").text.strip()
        assert vkey.startswith("witness.example.org/w1+")

        leaves = [merkle.leaf_hash(str(i).encode()) for i in range(6)]
        tenant = origin.rsplit("/", 1)[1]
        checkpoint = log.sign(tenant, 6, merkle.root(leaves), datetime.now(UTC))
        added = witness.post("/add-checkpoint", content=request_body(0, [], checkpoint.note or ""))
        assert added.status_code == 200, added.text
        text, signatures = notes.split((checkpoint.note or "") + added.text)
        key = notes.NoteKey.parse(vkey)
        assert any(notes.cosigned_at(text, s, key) for s in signatures), "a valid cosignature"

        forked = log.sign(tenant, 6, merkle.root([*leaves[:5], merkle.leaf_hash(b"x")]), datetime.now(UTC))
        refused = witness.post("/add-checkpoint", content=request_body(6, [], forked.note or ""))
        assert refused.status_code == 422, "a fork (same size, another root) is refused"
        stale = witness.post("/add-checkpoint", content=request_body(0, [], checkpoint.note or ""))
        assert stale.status_code == 409 and stale.text.strip() == "6", "it says the size it holds"
        held = witness.get(f"/{origin_hash(origin)}/checkpoint")
        assert held.status_code == 200 and held.text.startswith(f"{origin}\n6\n")
        assert witness.get("/add-checkpoint").status_code == 405
        assert witness.get("/nothing/here/at-all").status_code == 404
    finally:
        get_settings.cache_clear()


def test_streams_are_administered_by_retention_and_delivered_by_the_streams_function(
    data_dir: Path,
) -> None:
    retention, streams, query = http_function("retention"), http_function("streams"), http_function("query")
    hook = {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "whsec_" + "A" * 32}
    body = {"tenant_id": "acme", "name": "siem", "destination": hook}
    admin = auth(data_dir, ["system_admin"])
    assert query.post("/api/v1/admin/streams", json=body, headers=admin).status_code == 404
    created = retention.post("/api/v1/admin/streams", json=body, headers=admin)
    assert created.status_code == 201, created.text
    platform = auth(data_dir, ["system_admin"], "auditlog-platform")
    assert streams.post("/api/v1/audit/streams/run", headers=admin).status_code == 403, "a platform job"
    ran = streams.post("/api/v1/audit/streams/run", headers=platform)
    assert ran.status_code == 200 and created.json()["stream_id"] in ran.json()["delivered"]
    assert streams.get("/api/v1/admin/streams", headers=admin).status_code == 404
