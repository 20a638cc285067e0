"""Operators can see it working: /metrics with bounded labels, dashboards and alert rules that
refer only to metrics the live server exposes, promtool-checked alerts, Cloud Logging's log
fields with request, correlation and trace ids, and no secret or personal value in any log line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ROOT, LocalService, wait_for

pytestmark = pytest.mark.e2e

MONITORING = ROOT / "monitoring"
EMAIL = "carol.secret@example.org"


def _event(**extra: Any) -> dict[str, Any]:
    return {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "report.view",
        "user_id": "carol",
        "resource_type": "report",
        "action": "view",
        **extra,
    }


def _traffic(service: LocalService) -> str:
    """Every kind of work the metrics describe; returns the tenant used."""
    tenant = f"obs-{uuid.uuid4().hex[:8]}"
    with service.client(tenant, ["audit_writer", "audit_reader", "audit_export"]) as client:
        written = client.post("/api/v1/audit/events", json=_event())
        assert written.status_code == 202
        client.post("/api/v1/audit/events/batch", json={"events": [_event(), {"bad": 1}]})
        audit_id = written.json()["audit_id"]
        wait_for(lambda: client.get(f"/api/v1/audit/events/{audit_id}/proof").status_code == 200)
        # Both writes visible first: a later append would renew the cache generation in between.
        wait_for(lambda: len(client.get("/api/v1/audit/events").json()["events"]) == 2)
        client.get("/api/v1/audit/events", params={"user_id": "carol"})
        client.get("/api/v1/audit/events", params={"user_id": "carol"})  # a cache hit
        client.get("/api/v1/audit/events/export")
    httpx.get(f"{service.url}/api/v1/audit/events")  # unauthenticated
    with service.client(tenant, ["audit_writer"]) as writer:
        writer.get("/api/v1/audit/events")  # forbidden
    with service.client("auditlog-platform", ["system_admin"]) as admin:
        admin.post("/api/v1/audit/retention/run", params={"dry_run": "true"})
    return tenant


def _families(text: str) -> set[str]:
    """Every sample name the exposition can contain, from its TYPE lines: histograms as
    _bucket/_sum/_count, counters as _total (as prometheus-client writes them)."""
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif kind == "counter":
            names |= {name, f"{name}_total", f"{name}_created"}
        else:
            names.add(name)
    return names


def _referenced(text: str) -> set[str]:
    return set(re.findall(r"\bauditlog_[a-z_]+\b", text))


def test_metrics_cover_the_work_and_labels_stay_bounded(service: LocalService) -> None:
    tenant = _traffic(service)
    response = httpx.get(f"{service.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for sample in (
        'auditlog_http_requests_total{operation="ingestEvent",status="202"}',
        'auditlog_events_total{kind="client",outcome="accepted"}',
        'auditlog_events_total{kind="client",outcome="rejected"}',
        'auditlog_events_total{kind="self_audit",outcome="accepted"}',
        'auditlog_refusals_total{reason="unauthenticated"}',
        'auditlog_refusals_total{reason="forbidden"}',
        'auditlog_cache_requests_total{result="hit"}',
        'auditlog_store_rows_read_total{operation="export"}',
        'auditlog_retention_runs_total{outcome="success"}',
        "auditlog_queue_depth_events",
        "auditlog_integrity_checkpoint_age_seconds",
        "auditlog_ingest_to_write_seconds_count",
        "auditlog_writer_batch_events_count",
        "auditlog_integrity_leaves_integrated_total",
        "auditlog_integrity_sequencing_delay_seconds_count",
    ):
        assert sample in text, f"{sample} missing from /metrics"
    assert tenant not in text and "carol" not in text, "no tenant or user ids as label values"
    age = float(re.search(r"^auditlog_integrity_checkpoint_age_seconds (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert 0 <= age < 120


def test_dashboard_and_alerts_refer_only_to_live_metrics(service: LocalService) -> None:
    _traffic(service)
    live = _families(httpx.get(f"{service.url}/metrics").text)
    dashboard = (MONITORING / "grafana-dashboard.json").read_text()
    alerts = (MONITORING / "alerts.yml").read_text()
    used = _referenced(dashboard) | _referenced(alerts)
    assert used, "the check would pass vacuously"
    missing = sorted(used - live)
    assert not missing, f"referenced but not exposed: {missing}"
    # The dashboard is what its builder writes (no hand edits to drift from it).
    built = subprocess.run(
        [sys.executable, "-c", "import build_dashboard, sys; sys.stdout.write(build_dashboard.render())"],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert built == dashboard, "run: python monitoring/build_dashboard.py"
    panels = orjson.loads(dashboard)["panels"]
    assert all(p["targets"] for p in panels)


def test_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool (Debian's prometheus package) is required under CI=true")
        pytest.skip("promtool is not installed (apt-get install prometheus; make test does it)")
    checked = subprocess.run(
        [promtool, "check", "rules", "alerts.yml"], cwd=MONITORING, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"], cwd=MONITORING, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_log_lines_carry_request_correlation_and_trace(fresh_service: LocalService) -> None:
    tenant = f"logs-{uuid.uuid4().hex[:8]}"
    trace = uuid.uuid4().hex
    with fresh_service.client(tenant, ["audit_writer", "audit_reader"]) as client:
        sent = client.post(
            "/api/v1/audit/events",
            json=_event(),
            headers={"X-Correlation-ID": "corr-123", "X-Cloud-Trace-Context": f"{trace}/42;o=1"},
        )
        assert sent.headers["X-Correlation-ID"] == "corr-123"
        generated = client.get("/api/v1/audit/events", params={"bogus": "1"})
        assert generated.status_code == 400
        assert generated.headers["X-Correlation-ID"], "generated when absent"
        # Refusals are logged at INFO (successes at DEBUG): this one carries the ids.
        refused = client.get(
            "/api/v1/audit/events",
            params={"bogus": "1"},
            headers={"X-Correlation-ID": "corr-123", "traceparent": f"00-{trace}-00000000000000aa-01"},
        )
        audit_id = sent.json()["audit_id"]
        wait_for(lambda: client.get(f"/api/v1/audit/events/{audit_id}").status_code == 200)
        stored = client.get(f"/api/v1/audit/events/{audit_id}").json()
        assert stored["correlation_id"] == "corr-123", "the event carries its request's correlation id"
    assert fresh_service.log_path is not None
    lines = [
        orjson.loads(line) for line in fresh_service.log_path.read_text().splitlines() if line.startswith("{")
    ]
    assert lines and all({"severity", "message"} <= set(line) for line in lines)
    mine = [line for line in lines if line.get("correlation_id") == "corr-123"]
    assert mine, "the request's log line carries its correlation id"
    assert mine[0]["logging.googleapis.com/trace"] == f"projects/auditlog-local/traces/{trace}"
    assert mine[0]["logging.googleapis.com/spanId"] == "00000000000000aa"
    assert mine[0]["request_id"] == refused.headers["X-Request-ID"]
    assert mine[0]["status"] == 400


def test_no_secret_or_personal_value_reaches_a_log_line(fresh_service: LocalService) -> None:
    tenant = f"logs-{uuid.uuid4().hex[:8]}"
    with fresh_service.client("auditlog-platform", ["system_admin"]) as admin:
        policy = {"pii_rules": [{"field": "metadata.email", "action": "encrypt"}]}
        assert admin.put(f"/api/v1/admin/tenants/{tenant}/policy", json=policy).status_code == 200
    token = fresh_service.token(tenant, ["audit_writer", "audit_reader"])
    headers = {"Authorization": f"Bearer {token}"}
    url = fresh_service.url
    httpx.post(f"{url}/api/v1/audit/events", json=_event(metadata={"email": EMAIL}), headers=headers)
    httpx.post(f"{url}/api/v1/audit/events", json={"bad": EMAIL}, headers=headers)  # rejected
    httpx.get(f"{url}/api/v1/audit/events", headers={"Authorization": f"Bearer {token}x"})  # bad token
    httpx.get(f"{url}/api/v1/audit/events", params={"metadata.email": EMAIL}, headers=headers)
    time.sleep(0.5)
    fresh_service.stop()
    assert fresh_service.log_path is not None
    log_text = fresh_service.log_path.read_text()
    secrets = [
        token,
        token.split(".")[2],  # the signature alone
        EMAIL,
        (fresh_service.data_dir / "signing-key").read_bytes().hex(),
        (fresh_service.data_dir / "cursor-key").read_bytes().hex(),
    ]
    for secret in secrets:
        assert secret not in log_text
    assert "GET /api/v1/audit/events 401" in log_text, "the check reads the real log"


def test_readiness_reports_every_dependency(service: LocalService) -> None:
    ready = httpx.get(f"{service.url}/readyz").json()
    assert ready["status"] == "ok"
    assert set(ready["checks"]) == {"store", "queue", "cache", "state", "integrity"}
    assert all(c["ok"] and c["latency_ms"] >= 0 for c in ready["checks"].values())


def test_the_retention_command_reports_progress_and_its_result(service: LocalService) -> None:
    env = {**os.environ, "AUDITLOG_DATA_DIR": str(service.data_dir), "AUDITLOG_ENVIRONMENT": "development"}
    done = subprocess.run(
        [sys.executable, "-m", "auditlog.cli", "retention", "run", "--dry-run", "--url", service.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "retention: dry run ..." in done.stderr and "retention: finished in" in done.stderr
    report = orjson.loads(done.stdout)
    assert report["dry_run"] is True and "would_delete" in report
