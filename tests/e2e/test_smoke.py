"""The basic loop: write an event over HTTP, read it back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e


def test_written_event_reads_back(service: LocalService) -> None:
    tenant = f"smoke-{uuid.uuid4().hex[:8]}"
    happened = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=250000)
    with service.client(tenant) as client:
        response = client.post(
            "/api/v1/audit/events",
            json={
                "timestamp": happened.astimezone(timezone(timedelta(hours=1))).isoformat(),
                "event_type": "user.login",
                "user_id": "alice",
                "resource_type": "session",
                "action": "create",
            },
        )
        assert response.status_code == 202, response.text
        audit_id = response.json()["audit_id"]
        found = wait_for(
            lambda: (r := client.get(f"/api/v1/audit/events/{audit_id}")).status_code == 200 and r
        )
        event = found.json()
        assert event["timestamp"] == happened.strftime("%Y-%m-%dT%H:%M:%S.250000Z")
        assert event["tenant_id"] == tenant
        assert event["partition_date"] == happened.date().isoformat()
