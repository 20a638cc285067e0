"""A service identity acting for a person (the Backstage backend, issue 21): only configured
delegates may, never with more than they hold, and the service's records name the person."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e

PLATFORM = "auditlog-platform"


@pytest.fixture(scope="module")
def delegating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    service = LocalService(
        tmp_path_factory.mktemp("delegation") / "data",
        env={"AUDITLOG_DELEGATE_SUBJECTS": '["backstage-backend"]'},
    )
    service.start()
    yield service
    service.stop()


def _as(service: LocalService, sub: str, tenant: str, roles: list[str], **headers: str) -> httpx.Client:
    token = service.token(tenant, roles, sub=sub)
    return httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {token}", **headers}, timeout=30
    )


def _seed(service: LocalService, tenant: str) -> None:
    event = {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "doc.read",
        "user_id": "u",
        "resource_type": "doc",
        "action": "read",
    }
    with service.client(tenant, ["audit_writer", "audit_reader"]) as writer:
        audit_id = writer.post("/api/v1/audit/events", json=event).json()["audit_id"]
        wait_for(lambda: writer.get(f"/api/v1/audit/events/{audit_id}").status_code == 200)


def test_a_delegate_reads_as_the_person_and_the_record_names_them(delegating: LocalService) -> None:
    billing, payments = f"billing-{uuid.uuid4().hex[:6]}", f"payments-{uuid.uuid4().hex[:6]}"
    _seed(delegating, billing)
    _seed(delegating, payments)
    roles = ["audit_reader", "audit_admin", "system_admin"]
    people = {"user:default/alice": billing, "user:default/bob": payments}
    for person, tenant in people.items():
        headers = {
            "X-Auditlog-Actor": person,
            "X-Auditlog-Actor-Tenant": tenant,
            "X-Auditlog-Actor-Roles": "audit_reader",
        }
        with _as(delegating, "backstage-backend", PLATFORM, roles, **headers) as portal:
            page = portal.get("/api/v1/audit/events")
            assert page.status_code == 200, page.text
            assert {e["tenant_id"] for e in page.json()["events"]} == {tenant}
            elsewhere = payments if tenant == billing else billing
            other = portal.get("/api/v1/audit/events", params={"tenant_id": elsewhere})
            assert other.status_code == 403, "the person's own tenant only"
    with delegating.client(PLATFORM, ["audit_admin"], sub="auditor") as auditor:
        for person, tenant in people.items():
            def records(t: str = tenant) -> list[dict[str, object]]:
                params = {"tenant_id": t, "include_self_audit": "true"}
                params["event_type"] = "auditlog.events.search"
                return list(auditor.get("/api/v1/audit/events", params=params).json()["events"])
            found = [r for r in wait_for(records) if r["user_id"] != "auditor"]
            assert {r["user_id"] for r in found} == {person}, "the person, not the portal, read"
            assert all(r["metadata"]["via"] == "backstage-backend" for r in found)  # type: ignore[index]


def test_only_configured_delegates_may_act_for_someone(delegating: LocalService) -> None:
    headers = {"X-Auditlog-Actor": "user:default/mallory"}
    with _as(delegating, "someone-else", "acme", ["audit_reader"], **headers) as impostor:
        refused = impostor.get("/api/v1/audit/events")
    assert refused.status_code == 403
    assert refused.json()["error"]["details"][0]["field"] == "X-Auditlog-Actor"


def test_a_tenant_delegate_cannot_assert_another_tenant_or_more_roles(delegating: LocalService) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    other = {"X-Auditlog-Actor": "user:default/eve", "X-Auditlog-Actor-Tenant": "globex"}
    with _as(delegating, "backstage-backend", tenant, ["audit_reader"], **other) as portal:
        assert portal.get("/api/v1/audit/events").status_code == 403
    wider = {"X-Auditlog-Actor": "user:default/eve", "X-Auditlog-Actor-Roles": "audit_reader,system_admin"}
    with _as(delegating, "backstage-backend", tenant, ["audit_reader"], **wider) as portal:
        assert portal.get("/api/v1/audit/events").status_code == 200
        assert portal.get(f"/api/v1/admin/tenants/{tenant}/policy").status_code == 403
