"""The basic loop: write an event over HTTP, read it back."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e


def test_written_event_reads_back(service: LocalService) -> None:
    tenant = f"smoke-{uuid.uuid4().hex[:8]}"
    with service.client(tenant) as client:
        response = client.post(
            "/api/v1/audit/events",
            json={
                "timestamp": "2026-11-26T10:00:00+01:00",
                "event_type": "user.login",
                "user_id": "alice",
                "resource_type": "session",
                "action": "create",
            },
        )
        assert response.status_code == 202, response.text
        audit_id = response.json()["audit_id"]
        event = wait_for(lambda: client.get(f"/api/v1/audit/events/{audit_id}").json())
        assert event["timestamp"] == "2026-11-26T09:00:00.000000Z"
        assert event["tenant_id"] == tenant
        assert event["partition_date"] == "2026-11-26"
