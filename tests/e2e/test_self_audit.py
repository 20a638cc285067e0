"""The audit log audits itself: reads, exports and refusals are events of the tenant read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e


def _event() -> dict[str, Any]:
    return {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "doc.read",
        "user_id": "alice",
        "resource_type": "doc",
        "action": "read",
    }


def _self_audit(service: LocalService, tenant: str, event_type: str, user_id: str) -> list[dict[str, Any]]:
    """The tenant's records of ``event_type`` by ``user_id``, read by an audit_admin (whose own
    reads are recorded too, under its name)."""
    with service.client("auditlog-platform", ["audit_admin"], sub="auditor") as admin:
        response = admin.get(
            "/api/v1/audit/events",
            params={
                "tenant_id": tenant,
                "include_self_audit": "true",
                "event_type": event_type,
                "user_id": user_id,
            },
        )
        assert response.status_code == 200, response.text
        return list(response.json()["events"])


def test_reads_and_exports_are_recorded_with_who_what_and_how_many(service: LocalService) -> None:
    tenant = f"self-{uuid.uuid4().hex[:8]}"
    with service.client(tenant, ["audit_writer", "audit_reader", "audit_export"], sub="bob") as client:
        written = client.post("/api/v1/audit/events/batch", json={"events": [_event(), _event()]})
        ids = [r["audit_id"] for r in written.json()["results"]]
        wait_for(lambda: client.get(f"/api/v1/audit/events/{ids[0]}").status_code == 200)
        found = client.get("/api/v1/audit/events", params={"user_id": "alice"}).json()["events"]
        assert len(found) == 2, "the service's own records are not in a default search"
        assert client.get("/api/v1/audit/events/export", params={"format": "json"}).status_code == 200

    searches = wait_for(lambda: _self_audit(service, tenant, "auditlog.events.search", "bob"))
    record = searches[0]
    assert record["user_id"] == "bob"
    assert record["service_name"] == "auditlog"
    assert record["request_data"] == {"filters": {"user_id": ["alice"]}}
    assert record["response_data"] == {"events": 2}
    assert record["metadata"]["caller_tenant_id"] == tenant

    gets = wait_for(lambda: _self_audit(service, tenant, "auditlog.events.get", "bob"))
    assert {g["resource_id"] for g in gets} == {ids[0]}

    exports = wait_for(lambda: _self_audit(service, tenant, "auditlog.events.export", "bob"))
    assert exports[0]["status"] == "success"
    assert exports[0]["response_data"] == {"events": 2}


def test_refused_attempts_are_recorded(service: LocalService) -> None:
    tenant = f"self-{uuid.uuid4().hex[:8]}"
    with service.client(tenant, ["audit_writer"], sub="mallory") as writer:
        assert writer.get("/api/v1/audit/events").status_code == 403
    denied = wait_for(lambda: _self_audit(service, tenant, "auditlog.access.denied", "mallory"))
    assert denied[0]["user_id"] == "mallory"
    assert denied[0]["status"] == "denied"
    assert denied[0]["request_data"]["operation"] == "searchEvents"


def test_only_admins_may_include_the_services_own_records(service: LocalService) -> None:
    with service.client(f"self-{uuid.uuid4().hex[:8]}", ["audit_reader"]) as reader:
        refused = reader.get("/api/v1/audit/events", params={"include_self_audit": "true"})
        assert refused.status_code == 403
        assert orjson.loads(refused.content)["error"]["details"][0]["field"] == "include_self_audit"


def test_clients_cannot_write_into_the_reserved_namespace(service: LocalService) -> None:
    with service.client(f"self-{uuid.uuid4().hex[:8]}", ["audit_writer"]) as writer:
        forged = writer.post("/api/v1/audit/events", json=dict(_event(), event_type="auditlog.events.get"))
        assert forged.status_code == 400
        assert forged.json()["error"]["details"][0]["field"] == "event_type"
