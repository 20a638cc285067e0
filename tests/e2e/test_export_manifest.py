"""Exports that carry their checkpoint and manifest verify offline with `auditlog verify-export`;
an edited, dropped or forged line is caught."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import LocalService

pytestmark = pytest.mark.e2e


def _events(n: int) -> list[dict[str, Any]]:
    ts = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    return [
        {
            "audit_id": str(uuid.uuid4()),
            "timestamp": ts,
            "event_type": "file.download",
            "user_id": f"u{i}",
            "resource_type": "file",
            "resource_id": f"f{i}",
            "action": "download",
            "request_data": {"size": i * 1.5, "path": f"/a/{i}"},
        }
        for i in range(n)
    ]


def _verify_export(path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "auditlog.cli", "verify-export", str(path), *extra],
        env={**os.environ, "AUDITLOG_ENVIRONMENT": "development"},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stderr.decode()
    return done.returncode, orjson.loads(done.stdout)


@pytest.fixture(scope="module")
def exported(service: LocalService, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tenant = f"manifest-{uuid.uuid4().hex[:8]}"
    with service.client(tenant, ["audit_writer", "audit_reader", "audit_export"]) as client:
        events = _events(25)
        assert client.post("/api/v1/audit/events/batch", json={"events": events}).status_code == 202
        deadline = time.monotonic() + 10
        while client.get(f"/api/v1/audit/events/{events[-1]['audit_id']}/proof").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        response = client.get("/api/v1/audit/events/export", params={"manifest": "true", "proofs": "true"})
        assert response.status_code == 200, response.text
        key = client.get("/api/v1/audit/public-key").json()["keys"][0]["public_key"]
    path = tmp_path_factory.mktemp("export") / "export.ndjson"
    path.write_bytes(response.content)
    return path, key


def test_an_export_with_manifest_verifies_offline(exported: tuple[Path, str]) -> None:
    path, key = exported
    code, report = _verify_export(path, "--public-key", key)
    assert code == 0, report
    assert report["records"] == 25 and report["covered_by_checkpoint"] == 25
    assert report["proofs_checked"] == 25 and report["problems"] == []
    lines = path.read_bytes().splitlines()
    manifest = orjson.loads(lines[-1])["manifest"]
    assert manifest["checkpoint"]["tree_size"] >= 25 and len(manifest["leaves"]) == 25


def test_tampered_exports_fail(exported: tuple[Path, str], tmp_path: Path) -> None:
    path, key = exported
    lines = path.read_bytes().splitlines()
    edited = orjson.loads(lines[3])
    edited["action"] = "delete"
    cases = {
        "edited": [*lines[:3], orjson.dumps(edited), *lines[4:]],
        "dropped": [*lines[:3], *lines[4:]],
        "no manifest": lines[:-1],
    }
    for name, content in cases.items():
        tampered = tmp_path / f"{name}.ndjson"
        tampered.write_bytes(b"\n".join(content) + b"\n")
        code, report = _verify_export(tampered, "--public-key", key)
        assert code == 1, (name, report)
        assert report["problems"], name
    wrong_key = "00" * 32
    code, report = _verify_export(path, "--public-key", wrong_key)
    assert code == 1 and "signature" in " ".join(report["problems"])


def test_manifest_needs_json_and_one_tenant(service: LocalService) -> None:
    with service.client("manifest-x", ["audit_export"]) as client:
        csv = client.get("/api/v1/audit/events/export", params={"manifest": "true", "format": "csv"})
        assert csv.status_code == 400 and csv.json()["error"]["details"][0]["field"] == "format"
        bad = client.get("/api/v1/audit/events/export", params={"manifest": "yes"})
        assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "manifest"
    with service.client("auditlog-platform", ["system_admin"]) as admin:
        two = admin.get(
            "/api/v1/audit/events/export",
            params=[("manifest", "true"), ("tenant_id", "a"), ("tenant_id", "b")],
        )
        assert two.status_code == 400 and two.json()["error"]["details"][0]["field"] == "tenant_id"


def test_the_export_command_streams_to_a_file_with_progress(service: LocalService, tmp_path: Path) -> None:
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    with service.client(tenant, ["audit_writer", "audit_reader"]) as client:
        events = _events(30)
        assert client.post("/api/v1/audit/events/batch", json={"events": events}).status_code == 202
        deadline = time.monotonic() + 10
        while client.get(f"/api/v1/audit/events/{events[-1]['audit_id']}/proof").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    out = tmp_path / "out.ndjson"
    env = {**os.environ, "AUDITLOG_DATA_DIR": str(service.data_dir), "AUDITLOG_ENVIRONMENT": "development"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditlog.cli",
            "export",
            "--tenant",
            tenant,
            "--out",
            str(out),
            "--manifest",
            "--param",
            "user_id=u3",
            "--url",
            service.url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "export: done, 2 lines" in done.stderr, done.stderr
    code, report = _verify_export(out)
    assert code == 0 and report["records"] == 1 and report["proofs_checked"] == 1, report
