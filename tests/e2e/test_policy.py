"""Tenant policies: managed by system admins over HTTP and with the CLI, applied to writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e


def test_default_retention_comes_from_the_tenant_policy(service: LocalService) -> None:
    tenant = f"pol-{uuid.uuid4().hex[:8]}"
    with service.client("auditlog-platform", ["system_admin"]) as admin:
        assert admin.get(f"/api/v1/admin/tenants/{tenant}/policy").json()["default_retention_days"] == 90
        stored = admin.put(f"/api/v1/admin/tenants/{tenant}/policy", json={"default_retention_days": 400})
        assert stored.status_code == 200, stored.text
    with service.client(tenant, ["audit_writer", "audit_reader"]) as client:
        written = client.post(
            "/api/v1/audit/events",
            json={
                "timestamp": (datetime.now(UTC) - timedelta(days=200)).isoformat(),
                "event_type": "old.import",
                "user_id": "u",
                "resource_type": "r",
                "action": "import",
            },
        )
        assert written.status_code == 202, "200 days old is within the tenant's 400-day retention"
        audit_id = written.json()["audit_id"]
        event = wait_for(
            lambda: (r := client.get(f"/api/v1/audit/events/{audit_id}")).status_code == 200 and r.json()
        )
        assert event["retention_period_days"] == 400


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"default_retention_days": 30}, "default_retention_days"),
        ({"ip_allowlist": ["10.0.0.0/33"]}, "ip_allowlist"),
        ({"pii_rules": [{"field": "tenant_id", "action": "drop"}]}, "pii_rules.0.field"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_field(
    service: LocalService, policy: dict[str, object], field: str
) -> None:
    with service.client("auditlog-platform", ["system_admin"]) as admin:
        response = admin.put("/api/v1/admin/tenants/t/policy", json=policy)
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == field


def test_the_cli_shows_and_sets_a_policy(service: LocalService, tmp_path: Path) -> None:
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AUDITLOG_DATA_DIR": str(service.data_dir), "PORT": str(service.port)}
    cli = [sys.executable, "-m", "auditlog.cli", "policy"]
    shown = subprocess.run([*cli, "show", "--tenant", tenant], env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    policy = json.loads(shown.stdout)
    policy["default_retention_days"] = 365
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    changed = subprocess.run(
        [*cli, "set", "--tenant", tenant, "--file", str(path)], env=env, capture_output=True, text=True
    )
    assert changed.returncode == 0, changed.stdout + changed.stderr
    with service.client("auditlog-platform", ["system_admin"]) as admin:
        assert admin.get(f"/api/v1/admin/tenants/{tenant}/policy").json()["default_retention_days"] == 365
