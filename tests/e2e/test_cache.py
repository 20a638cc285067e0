"""Cached pages never hide a write: once an event is visible, every search shows it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e


def test_a_cached_page_is_not_served_once_a_newer_write_is_visible(service: LocalService) -> None:
    tenant = f"cache-{uuid.uuid4().hex[:8]}"
    start = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    end = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # closed window: long TTL
    params = {"start_time": start, "end_time": end}
    with service.client(tenant) as client:
        first = client.get("/api/v1/audit/events", params=params)
        assert first.json()["events"] == []
        assert client.get("/api/v1/audit/events", params=params).json()["events"] == []  # cached
        backfilled = client.post(
            "/api/v1/audit/events",
            json={
                "timestamp": (datetime.now(UTC) - timedelta(hours=5)).isoformat(),
                "event_type": "late.import",
                "user_id": "importer",
                "resource_type": "record",
                "action": "import",
            },
        )
        audit_id = backfilled.json()["audit_id"]
        wait_for(lambda: client.get(f"/api/v1/audit/events/{audit_id}").status_code == 200)
        events = client.get("/api/v1/audit/events", params=params).json()["events"]
        assert [e["audit_id"] for e in events] == [audit_id]
