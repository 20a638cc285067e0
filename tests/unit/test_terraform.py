"""Static checks of terraform/ (the terraform binary cannot init offline here): every file
parses, the properties the deployment promises hold in the parsed configuration, checkov finds
nothing unskipped, `terraform fmt` is clean, the gateway's spec is the one generated from the
OpenAPI document, and each function bundle imports on its own."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from tests.conftest import ROOT

pytestmark = pytest.mark.unit

TF = ROOT / "terraform"
FILES = sorted(TF.rglob("*.tf"))
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


def _require_or_skip(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


def _parse(path: Path) -> dict[str, Any]:
    with path.open() as f:
        return dict(hcl2.load(f, serialization_options=OPTIONS))


PARSED = {p: _parse(p) for p in FILES}


def resources(kind: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for parsed in PARSED.values():
        for block in parsed.get("resource", []):
            for name, body in block.get(kind, {}).items():
                found.append((name, body))
    return found


def one(kind: str, name: str) -> dict[str, Any]:
    matches = [body for n, body in resources(kind) if n == name]
    assert len(matches) == 1, f"{kind}.{name}: {len(matches)} found"
    return matches[0]


def test_every_file_parses_and_the_layout_is_complete() -> None:
    assert len(FILES) > 20
    for module in ("platform", "functions", "gateway", "monitoring"):
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (TF / "modules" / module / name).is_file(), f"{module}/{name}"
    for env in ("dev", "staging", "prod"):
        for name in ("main.tf", "variables.tf", "versions.tf", "outputs.tf", "terraform.tfvars.example"):
            assert (TF / "environments" / env / name).is_file(), f"{env}/{name}"
        versions = PARSED[TF / "environments" / env / "versions.tf"]["terraform"][0]
        assert "gcs" in versions["backend"][0], "state in GCS, configured at init"


def test_every_variable_is_typed_and_described_and_providers_bounded() -> None:
    for path, parsed in PARSED.items():
        for block in parsed.get("variable", []):
            for name, body in block.items():
                assert body.get("type") and body.get("description"), f"{path}: variable {name}"
        for block in parsed.get("terraform", []):
            for providers in block.get("required_providers", []):
                for name, spec in providers.items():
                    assert "<" in spec["version"] and ">=" in spec["version"], f"{path}: {name} unbounded"
    for module, name in (("platform", "environment"), ("platform", "redis_tier"), ("functions", "runtime")):
        assert "validation" in one_variable(f"modules/{module}/variables.tf", name), (
            f"{module}.{name} is guarded"
        )


def one_variable(relative: str, name: str) -> dict[str, Any]:
    for block in PARSED[TF / relative]["variable"]:
        if name in block:
            return dict(block[name])
    raise AssertionError(name)


def test_the_events_table() -> None:
    table = one("google_bigquery_table", "events")
    assert "shared/auditlog/schema/events.bigquery.json" in table["schema"], "the code's own schema file"
    (partitioning,) = table["time_partitioning"]
    assert (partitioning["type"], partitioning["field"]) == ("DAY", "partition_date")
    days = int(re.search(r"(\d+) \* 24", partitioning["expiration_ms"]).group(1))  # type: ignore[union-attr]
    assert 2555 < days <= 2600, "just above the 7-year maximum retention"
    assert table["require_partition_filter"] is True
    assert table["clustering"] == ["tenant_id", "user_id", "event_type", "timestamp"]
    assert table["deletion_protection"] == "${var.deletion_protection}"
    for env in ("dev", "staging", "prod"):
        text = (TF / "environments" / env / "main.tf").read_text()
        assert "deletion_protection = true" in text, env
    columns = {
        c["name"] for c in json.loads((ROOT / "shared/auditlog/schema/events.bigquery.json").read_text())
    }
    assert {"partition_date", "tenant_id", "user_id", "event_type", "timestamp"} <= columns


def test_dead_lettering() -> None:
    writer = one("google_pubsub_subscription", "writer")
    (policy,) = writer["dead_letter_policy"]
    assert "dead_letter_topic_id" in policy["dead_letter_topic"]
    assert policy["max_delivery_attempts"] == "${var.max_delivery_attempts}"
    assert one("google_pubsub_topic_iam_member", "dead_letter_publisher")["member"] == "${local.pubsub_agent}"
    assert (
        one("google_pubsub_subscription_iam_member", "agent_subscriber")["role"] == "roles/pubsub.subscriber"
    )
    assert one("google_pubsub_topic", "events")["message_retention_duration"]
    assert one("google_pubsub_subscription", "dead_letter")


def test_one_service_account_per_function_with_least_privilege() -> None:
    sa = one("google_service_account", "fn")
    assert sa["for_each"] == "${local.functions}"
    fn = one("google_cloudfunctions2_function", "fn")
    assert fn["service_config"][0]["service_account_email"] == "${google_service_account.fn[each.key].email}"
    publishers = one("google_pubsub_topic_iam_member", "publisher")
    assert publishers["role"] == "roles/pubsub.publisher" and "writer" not in publishers["for_each"]
    writer = one("google_bigquery_table_iam_member", "writer_append")
    assert writer["role"] == "roles/bigquery.dataEditor" and 'fn["writer"]' in writer["member"]
    jobs = one("google_project_iam_member", "jobs")
    assert jobs["role"] == "roles/bigquery.jobUser" and "writer" not in jobs["for_each"], (
        "the writer cannot run DML"
    )
    reader = one("google_bigquery_table_iam_member", "query_read")
    assert reader["role"] == "roles/bigquery.dataViewer"
    deleter = one("google_bigquery_table_iam_member", "retention_delete")
    assert deleter["role"] == "roles/bigquery.dataEditor" and 'fn["retention"]' in deleter["member"]
    table_editors = [
        b
        for _, b in resources("google_bigquery_table_iam_member")
        if b["role"] != "roles/bigquery.dataViewer"
    ]
    editors = sorted(m["member"] for m in table_editors)
    assert len(editors) == 2 and 'fn["retention"]' in editors[0] and 'fn["writer"]' in editors[1], editors
    assert not resources("google_bigquery_dataset_iam_member"), "no dataset-wide grants"


def test_no_primitive_roles_and_nothing_public() -> None:
    grants = [
        body
        for parsed in PARSED.values()
        for block in parsed.get("resource", [])
        for kind, named in block.items()
        if "iam" in kind
        for body in named.values()
    ]
    assert len(grants) > 10
    for grant in grants:
        assert grant["role"] not in ("roles/owner", "roles/editor", "roles/viewer"), grant
        members = [grant.get("member", ""), *grant.get("members", [])]
        assert not any(m in ("allUsers", "allAuthenticatedUsers") for m in members), grant


def test_environments_size_redis_and_share_the_dataset_as_the_seed_says() -> None:
    dev = (TF / "environments/dev/main.tf").read_text()
    staging = (TF / "environments/staging/main.tf").read_text()
    prod = (TF / "environments/prod/main.tf").read_text()
    assert 'redis_tier          = "BASIC"' in dev and 'redis_tier          = "STANDARD_HA"' in prod
    assert "create_dataset      = false" in staging and 'dataset_id          = "auditlog_prod"' in prod


def test_firestore_native_with_the_integrity_indexes() -> None:
    database = one("google_firestore_database", "state")
    assert database["type"] == "FIRESTORE_NATIVE"
    indexes = [b for _, b in resources("google_firestore_index")]
    collections = sorted(b["collection"] for b in indexes)
    assert (
        collections.count("auditlog_integrity_staged") == 2
        and collections.count("auditlog_integrity_checkpoints") == 2
    )


def test_functions_sources_schedules_secrets_and_gateway() -> None:
    obj = one("google_storage_bucket_object", "source")
    assert "output_md5" in obj["name"], "a code change is a new object"
    jobs = {n: b for n, b in resources("google_cloud_scheduler_job")}
    assert set(jobs) == {"retention", "integrity"}
    assert all(j["http_target"][0]["oidc_token"] for j in jobs.values())
    assert (
        jobs["integrity"]["http_target"][0]["uri"].endswith("/api/v1/audit/integrity/run}")
        or "integrity/run" in jobs["integrity"]["http_target"][0]["uri"]
    )
    secrets = {n for n, _ in resources("google_secret_manager_secret")}
    assert {"cursor", "signing_key", "redis_url"} <= secrets
    assert one("google_api_gateway_api_config", "auditlog")["openapi_documents"]
    assert one("google_redis_instance", "cache")["auth_enabled"] is True
    alerts = {n for n, _ in resources("google_monitoring_alert_policy")}
    assert alerts == {
        "error_rate",
        "ingest_latency",
        "dead_letters",
        "retention_failures",
        "checkpoint_stale",
    }


def test_gateway_spec_is_generated_from_the_openapi_document() -> None:
    sys.path.insert(0, str(ROOT))
    from devtools import gateway_spec

    checked_in = (TF / "modules/gateway/openapi-gateway.yaml").read_text()
    assert gateway_spec.render() == checked_in, "run: python -m devtools.gateway_spec"
    spec = json.loads(checked_in.split("\n", 1)[1])
    assert spec["swagger"] == "2.0"
    listed = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    document = json.loads((ROOT / "openapi/openapi.json").read_text())
    every = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert listed | set(gateway_spec.EXCLUDED) == every and not listed & set(gateway_spec.EXCLUDED)


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    _require_or_skip(terraform is not None, "the terraform binary is not installed")
    done = subprocess.run(
        [str(terraform), "fmt", "-check", "-recursive", str(TF)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _checkov() -> Path | None:
    venv = ROOT / ".stand-ins" / "checkov-venv"
    binary = venv / "bin" / "checkov"
    if not binary.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", "checkov>=3.2,<4"],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.SubprocessError, OSError):
            return None
    return binary


def test_checkov_finds_nothing_unskipped() -> None:
    binary = _checkov()
    _require_or_skip(binary is not None, "checkov could not be installed into .stand-ins/checkov-venv")
    done = subprocess.run(
        [str(binary), "-d", str(TF), "--framework", "terraform", "--skip-download", "--compact", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for line in (p.read_text() for p in FILES):
        for skip in re.findall(r"#checkov:skip=(\S+?):(.*)", line):
            assert len(skip[1].strip()) > 20, f"{skip[0]}: a skip needs a written reason"


@pytest.mark.parametrize("name", ["ingest", "query", "retention", "writer"])
def test_each_bundle_imports_on_its_own(name: str, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from devtools import bundle

    bundle.build(tmp_path)
    folder = tmp_path / name
    assert (folder / "requirements.txt").read_text() == (ROOT / "requirements.txt").read_text()
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "sys.path[:] = [p for p in sys.path if not p.rstrip('/').endswith('/shared')]; "
        "import main, auditlog; "
        "assert auditlog.__file__.startswith(sys.argv[1]), auditlog.__file__; print('ok')"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
