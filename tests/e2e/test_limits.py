"""Rate limits and IP allowlists from the tenant policy, against the running server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e


def _event() -> dict[str, Any]:
    return {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "doc.update",
        "user_id": "u",
        "resource_type": "doc",
        "action": "update",
    }


def _set_policy(service: LocalService, tenant: str, policy: dict[str, Any]) -> None:
    with service.client("auditlog-platform", ["system_admin"]) as admin:
        response = admin.put(f"/api/v1/admin/tenants/{tenant}/policy", json=policy)
        assert response.status_code == 200, response.text


def test_writes_beyond_the_tenant_bucket_get_429_with_retry_after(service: LocalService) -> None:
    tenant = f"rl-{uuid.uuid4().hex[:8]}"
    _set_policy(
        service,
        tenant,
        {"rate_limit": {"tenant_events_per_second": 1, "tenant_event_burst": 10}},
    )
    with service.client(tenant, ["audit_writer"]) as client:
        first = client.post("/api/v1/audit/events/batch", json={"events": [_event() for _ in range(8)]})
        assert first.status_code == 202
        refused = client.post("/api/v1/audit/events/batch", json={"events": [_event() for _ in range(5)]})
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["code"] == "resource_exhausted"
        too_big = client.post("/api/v1/audit/events/batch", json={"events": [_event() for _ in range(11)]})
        assert too_big.status_code == 413, "more than the burst can never pass: 413, not 429"


def test_reads_beyond_the_caller_bucket_get_429(service: LocalService) -> None:
    tenant = f"rl-{uuid.uuid4().hex[:8]}"
    _set_policy(service, tenant, {"rate_limit": {"caller_reads_per_second": 1, "caller_read_burst": 3}})
    with service.client(tenant, ["audit_reader"]) as client:
        statuses = [client.get("/api/v1/audit/events").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]


def test_allowlist_refuses_callers_outside_and_records_it(service: LocalService) -> None:
    tenant = f"ip-{uuid.uuid4().hex[:8]}"
    _set_policy(service, tenant, {"ip_allowlist": ["10.0.0.0/8", "2001:db8::/32"]})
    with service.client(tenant, ["audit_writer", "audit_reader"], sub="outsider") as client:
        refused = client.post("/api/v1/audit/events", json=_event())
        assert refused.status_code == 403
        assert refused.json()["error"]["details"][0]["field"] == "ip_address"
        # X-Forwarded-For is not trusted without configured proxy hops: no way around the list.
        spoofed = client.get("/api/v1/audit/events", headers={"X-Forwarded-For": "10.1.2.3"})
        assert spoofed.status_code == 403

    def denied() -> list[dict[str, Any]]:
        with service.client("auditlog-platform", ["audit_admin"]) as admin:
            page = admin.get(
                "/api/v1/audit/events",
                params={"tenant_id": tenant, "include_self_audit": "true", "user_id": "outsider"},
            ).json()
        return [e for e in page["events"] if e["event_type"] == "auditlog.access.denied"]

    assert wait_for(denied)[0]["ip_address"] == "127.0.0.1"


def test_allowlist_admits_callers_inside(service: LocalService) -> None:
    tenant = f"ip-{uuid.uuid4().hex[:8]}"
    _set_policy(service, tenant, {"ip_allowlist": ["127.0.0.0/8"]})
    with service.client(tenant, ["audit_writer"]) as client:
        assert client.post("/api/v1/audit/events", json=_event()).status_code == 202
