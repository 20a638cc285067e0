"""Static checks of terraform/ (the terraform binary cannot init offline here).

Every file parses; the properties the deployment promises (terraform/README.md, issue 20) hold in
the parsed configuration; the locals that decide them (profiles, per-function settings, the
alert rules) are evaluated with `terraform console`, which needs no provider; checkov finds
nothing unskipped; `terraform fmt` is clean; the gateway's spec is the one generated from the
OpenAPI document; and each function bundle, with only its own requirements installed in a clean
virtualenv, imports its entry point and the GCP backends. The provider-schema check of every
argument is in test_terraform_schema.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from tests.conftest import ROOT

pytestmark = pytest.mark.unit

TF = ROOT / "terraform"
FILES = sorted(p for p in TF.rglob("*.tf") if ".terraform" not in p.parts)
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
MODULES = ("platform", "functions", "gateway", "monitoring")
ENVIRONMENTS = ("dev", "staging", "prod")
FUNCTIONS = ("ingest", "query", "retention", "streams", "writer")


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


def resources(kind: str, block: str = "resource") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for parsed in PARSED.values():
        for group in parsed.get(block, []):
            for name, body in group.get(kind, {}).items():
                found.append((name, body))
    return found


def one(kind: str, name: str) -> dict[str, Any]:
    matches = [body for n, body in resources(kind) if n == name]
    assert len(matches) == 1, f"{kind}.{name}: {len(matches)} found"
    return matches[0]


def text(relative: str) -> str:
    return (TF / relative).read_text()


def prevent_destroy(body: dict[str, Any]) -> bool:
    return any(block.get("prevent_destroy") is True for block in body.get("lifecycle", []))


# -- terraform console: the locals, evaluated ---------------------------------------------------

SAMPLE = {
    "project_id": "p-1",
    "region": "europe-west1",
    "environment": "dev",
    "jwt_issuer": "https://issuer.example/",
    "jwt_jwks_url": "https://issuer.example/jwks.json",
    "jwt_audience": "auditlog",
}
FUNCTION_VARS = {
    **SAMPLE,
    "repo_root": "/repo",
    "sizing": {
        n: {"memory": "512Mi", "cpu": "1", "min_instances": 0, "max_instances": 1, "concurrency": 1}
        for n in FUNCTIONS
    },
    "dataset_id": "ds",
    "table_id": "events",
    "topic_id": "projects/p-1/topics/auditlog-dev-events",
    "topic_name": "auditlog-dev-events",
    "dead_letter_topic_id": "projects/p-1/topics/auditlog-dev-dead-letter",
    "dead_letter_topic_name": "auditlog-dev-dead-letter",
    "pubsub_agent": "serviceAccount:agent@example",
    "vpc_connector_id": "c",
    "firestore_database": "auditlog-dev",
    "secrets": {
        n: {"secret": f"s-{n}", "version": "latest"}
        for n in ("AUDITLOG_CURSOR_SECRET", "AUDITLOG_SIGNING_KEY", "AUDITLOG_REDIS_URL")
    },
    "redis_ca_cert": "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----",
    "kms_signing_key_id": "projects/p-1/locations/r/keyRings/k/cryptoKeys/checkpoint-signing",
    "kms_signing_key_version": "projects/p-1/locations/r/keyRings/k/cryptoKeys/checkpoint-signing"
    "/cryptoKeyVersions/1",
    "kms_wrapping_key": "projects/p-1/locations/r/keyRings/k/cryptoKeys/key-wrapping",
    "log_origin": "audit.example.com/log",
    "witnesses": [
        {"url": "https://w1.example.org", "vkey": "w1.example.org+01020304+AQ=="},
        {"url": "https://w2.example.net", "vkey": "w2.example.net+05060708+AQ=="},
    ],
    "witness_quorum": 1,
}
MONITORING_VARS = {
    "project_id": "p-1",
    "environment": "dev",
    "function_names": {n: f"auditlog-dev-{n}" for n in FUNCTIONS},
    "writer_subscription": "auditlog-dev-writer",
    "dead_letter_archive_subscription": "auditlog-dev-dead-letter-archive",
}


def tf_eval(files: list[str], variables: dict[str, Any], expression: str, also: tuple[str, ...] = ()) -> Any:
    """Evaluate an expression over locals-only .tf files (paths from the repository root) with
    `terraform console`, in a copy of the repository's layout so file() paths resolve."""
    terraform = shutil.which("terraform")
    _require_or_skip(terraform is not None, "the terraform binary is not installed")
    return _tf_eval(str(terraform), tuple(files), json.dumps(variables, sort_keys=True), expression, also)


@cache
def _tf_eval(
    terraform: str, files: tuple[str, ...], variables: str, expression: str, also: tuple[str, ...]
) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        for relative in (*files, *also):
            target = Path(tmp) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, target)
        module = (Path(tmp) / files[0]).parent
        (module / "terraform.tfvars.json").write_text(variables)
        done = subprocess.run(
            [terraform, "console"],
            input=f"jsonencode({expression})\n",
            cwd=module,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"},
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(json.loads(done.stdout))


def _function_locals(environment: str) -> dict[str, Any]:
    names = ("retention", "timeout_seconds", "ingress", "secret_names", "env_by_function", "retention_url")
    expression = "{" + ", ".join(f"{n} = local.{n}" for n in names) + "}"
    return dict(
        tf_eval(
            ["terraform/modules/functions/settings.tf", "terraform/modules/functions/variables.tf"],
            {**FUNCTION_VARS, "environment": environment},
            expression,
        )
    )


def alert_locals() -> dict[str, Any]:
    return dict(
        tf_eval(
            ["terraform/modules/monitoring/alerts.tf", "terraform/modules/monitoring/variables.tf"],
            MONITORING_VARS,
            "{ alerts = local.alerts, rules = local.rules }",
            also=("monitoring/alerts.yml",),
        )
    )


# -- layout and conventions ---------------------------------------------------------------------


def test_one_root_for_every_environment_and_the_modules() -> None:
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "environments.tf", "deploy.sh"):
        assert (TF / name).is_file(), name
    for module in MODULES:
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (TF / "modules" / module / name).is_file(), f"{module}/{name}"
    for env in ENVIRONMENTS:
        example = (TF / "environments" / f"{env}.tfvars.example").read_text()
        assert f'environment  = "{env}"' in example, env
    versions = PARSED[TF / "versions.tf"]["terraform"][0]
    assert "gcs" in versions["backend"][0], "state in GCS, a prefix per environment"
    assert not (TF / "environments" / "dev").exists(), "no per-environment roots repeating the wiring"
    main = text("main.tf")
    assert len(main.splitlines()) < 90 and main.count('module "') == 4


def test_git_ignores_state_provider_downloads_and_tfvars() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for pattern in (".terraform/", "*.tfvars", "*.tfstate"):
        assert pattern in ignored, pattern
    tracked = subprocess.run(
        ["git", "ls-files", "terraform"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert not re.search(r"\.tfvars$|\.tfstate|/\.terraform/", tracked, re.M), tracked
    assert ".terraform.lock.hcl" in text("README.md"), "the README says to commit the lock file"


def test_every_variable_is_typed_and_described_and_providers_bounded() -> None:
    for path, parsed in PARSED.items():
        for block in parsed.get("variable", []):
            for name, body in block.items():
                assert body.get("type") and body.get("description"), f"{path}: variable {name}"
        for block in parsed.get("terraform", []):
            assert block["required_version"] == ">= 1.11, < 2.0", f"{path}: write-only arguments need 1.11"
            for providers in block.get("required_providers", []):
                for name, spec in providers.items():
                    if name.startswith("__"):  # the parser's comment marker
                        continue
                    assert "<" in spec["version"] and ">=" in spec["version"], f"{path}: {name} unbounded"
    for module, name in (
        ("platform", "environment"),
        ("platform", "redis_tier"),
        ("platform", "cmek"),
        ("platform", "firestore_database"),
        ("functions", "runtime"),
        ("functions", "retention_schedule"),
    ):
        assert "validation" in one_variable(f"modules/{module}/variables.tf", name), (
            f"{module}.{name} is guarded"
        )


def one_variable(relative: str, name: str) -> dict[str, Any]:
    for block in PARSED[TF / relative]["variable"]:
        if name in block:
            return dict(block[name])
    raise AssertionError(name)


def test_the_data_that_must_outlive_a_mistake_cannot_be_destroyed() -> None:
    for kind in ("google_bigquery_table", "google_pubsub_topic", "google_pubsub_subscription"):
        found = resources(kind)
        assert found, kind
        for name, body in found:
            assert prevent_destroy(body), f"{kind}.{name} needs lifecycle.prevent_destroy"
    for name, body in resources("google_bigquery_table"):
        assert body["deletion_protection"] is True, name
    database = one("google_firestore_database", "state")
    assert database["delete_protection_state"] == "DELETE_PROTECTION_ENABLED"


# -- item 1, 9: monitoring -----------------------------------------------------------------------


def test_alert_policies_are_the_rules_of_alerts_yml_in_promql() -> None:
    evaluated = alert_locals()
    alerts: dict[str, Any] = evaluated["alerts"]
    # alerts.yml as Terraform's yamldecode reads it: the rule names, `for`, labels, annotations.
    rules: dict[str, Any] = evaluated["rules"]
    listed = re.findall(r"^      - alert: (\w+)$", (ROOT / "monitoring/alerts.yml").read_text(), re.M)
    assert sorted(listed) == sorted(rules) and len(rules) == 9
    assert set(alerts) - set(rules) == {"AuditLogRetentionStalled", "AuditLogDeadLetterArchiveStalled"}, (
        "GCP-only alerts are listed in terraform/README.md"
    )
    units = {"s": 1, "m": 60, "h": 3600}
    for name, rule in rules.items():
        alert = alerts[name]
        wanted = int(rule["for"][:-1]) * units[rule["for"][-1]] if "for" in rule else 0
        assert alert["duration"] == f"{wanted}s", name
        assert alert["severity"] == rule["labels"]["severity"], name
        assert (alert["summary"], alert["description"]) == (
            rule["annotations"]["summary"],
            rule["annotations"]["description"],
        )
    # The same thresholds, in Cloud Monitoring's units.
    same = {
        "AuditLogHighErrorRate": ("> 0.01", "> 0.01"),
        "AuditLogIngestLatencyHigh": (") > 1", ") > 1000"),  # seconds / Cloud Run's milliseconds
        "AuditLogQueueLagHigh": ("> 5", "> 5"),
        "AuditLogDeadLetters": ("[15m]) > 0", "[15m])) > 0"),
        "AuditLogCheckpointStale": ("> 300", "[5m]"),
        "AuditLogRetentionFailing": ("[1d]) > 0", "[1d])) > 0"),
        "AuditLogWitnessRefusedFork": ('{reason="fork"}[15m]) > 0', "witness_forks{"),
        "AuditLogStreamFailing": ("(auditlog_streams_failing) > 0", "streams_failing{"),
        "AuditLogStreamLagging": ("(auditlog_stream_lag_seconds) > 900", "streams_lagging{"),
    }
    assert set(same) == set(rules)
    for name, (local, gcp) in same.items():
        assert local in rules[name]["expr"], name
        assert gcp in alerts[name]["query"], name
    # What the issue found misleading.
    assert (
        'service_name=~"auditlog-dev-(ingest|query|retention)"' in alerts["AuditLogHighErrorRate"]["query"]
    ), "the writer's deliberate 500s for poison messages are not API errors"
    lag = alerts["AuditLogQueueLagHigh"]["query"]
    assert "subscription_oldest_unacked_message_age" in lag and 'subscription_id="auditlog-dev-writer"' in lag
    stalled = alerts["AuditLogRetentionStalled"]
    assert "absent_over_time(" in stalled["query"] and "retention_completed" in stalled["query"]
    assert "[26h]" in stalled["query"]


def test_alert_policies_use_promql_and_survive_new_log_metrics() -> None:
    policy = one("google_monitoring_alert_policy", "alert")
    assert policy["for_each"] == "${local.alerts}"
    (condition,) = policy["conditions"]
    assert set(condition) >= {"condition_prometheus_query_language"}
    promql = condition["condition_prometheus_query_language"][0]
    assert promql["disable_metric_validation"] is True, "hashicorp/terraform-provider-google#11102"
    assert promql["alert_rule"] == "${each.key}"
    metrics = {f"google_logging_metric.{n}" for n, _ in resources("google_logging_metric")}
    assert (
        set(policy["depends_on"]) >= {"${" + m + "}" for m in metrics} or set(policy["depends_on"]) >= metrics
    )
    everything = "\n".join(p.read_text() for p in FILES)
    assert "condition_monitoring_query_language" not in everything, "MQL is deprecated"
    assert "ALIGN_RATE" not in everything
    for name, body in resources("google_logging_metric"):
        assert (
            'resource.labels.service_name=~\\"^${local.prefix}-\\"' in text("modules/monitoring/main.tf")
            and "${local.runs}" in body["filter"]
        ), f"{name}: this environment's functions only"


def test_the_dashboard_never_takes_the_rate_of_a_gauge() -> None:
    widgets = re.findall(r'\["([^"]+)", "((?:[^"\\]|\\.)*)"\]', text("modules/monitoring/main.tf"))
    assert len(widgets) >= 8
    for title, query in widgets:
        for gauge in ("num_undelivered_messages", "oldest_unacked_message_age"):
            if gauge in query:
                assert not re.search(r"(rate|increase)\([^()]*" + gauge, query), title
        for counter in (
            "request_count",
            "checkpoints_signed",
            "poison_messages",
            "dead_letter_message_count",
        ):
            if counter in query:
                assert re.search(r"(rate|increase)\([^()]*" + counter, query), f"{title}: counters as rates"


def test_retention_failure_and_completion_metrics_follow_the_log_contract() -> None:
    failures = one("google_logging_metric", "retention_failures")["filter"]
    assert (
        'jsonPayload.event=\\"retention_run\\"' in failures or 'jsonPayload.event="retention_run"' in failures
    )
    assert 'outcome=\\"failed\\"' in failures or 'outcome="failed"' in failures
    assert "httpRequest.status>=500" in failures, "a timed-out run logs no outcome; its request does"
    completed = one("google_logging_metric", "retention_completed")["filter"]
    assert "complete" in completed and "retention_run" in completed


# -- item 2, 10: secrets and settings ------------------------------------------------------------


def test_every_secret_has_a_version_created_in_the_same_apply_and_none_in_state() -> None:
    for name in ("cursor", "signing_key"):
        version = one("google_secret_manager_secret_version", name)
        assert version["secret_data_wo"] == f"${{ephemeral.random_password.{name}.result}}"
        assert "secret_data" not in version, "write-only: never in the state"
        assert version["secret_data_wo_version"] == 1
    ephemeral = dict(resources("random_password", "ephemeral"))
    signing = ephemeral["signing_key"]
    assert signing["length"] == 64 and signing["override_special"] == "abcdef"
    assert signing["upper"] is False and signing["lower"] is False, "64 hex characters: an Ed25519 seed"
    assert ephemeral["cursor"]["length"] >= 32
    outputs = PARSED[TF / "modules/platform/outputs.tf"]["output"]
    secrets = next(o["secrets"] for o in outputs if "secrets" in o)
    assert {
        "${google_secret_manager_secret_version.cursor}",
        "${google_secret_manager_secret_version.signing_key}",
    } <= set(secrets["depends_on"]) or {
        "google_secret_manager_secret_version.cursor",
        "google_secret_manager_secret_version.signing_key",
    } <= set(secrets["depends_on"]), "functions reading `latest` wait for the first versions"
    assert "google_secret_manager_secret_version.redis_url.version" in text("modules/platform/outputs.tf")
    redis_url = one("google_secret_manager_secret_version", "redis_url")["secret_data"]
    assert redis_url.startswith("rediss://") and "ssl_cert_reqs" not in redis_url, "the server is verified"
    assert "server_ca_certs" in text("modules/platform/outputs.tf")


def test_each_function_gets_only_its_own_secrets_and_settings() -> None:
    settings = _function_locals("dev")
    names = settings["secret_names"]
    assert names["ingest"] == names["writer"] == names["streams"] == ["AUDITLOG_REDIS_URL"]
    every = ["AUDITLOG_CURSOR_SECRET", "AUDITLOG_REDIS_URL", "AUDITLOG_SIGNING_KEY"]
    assert names["query"] == every and names["retention"] == every
    env = settings["env_by_function"]
    for function in FUNCTIONS:
        assert env[function]["AUDITLOG_ENVIRONMENT"] == "production", "development enables the local issuer"
        assert env[function]["AUDITLOG_REDIS_CA_CERT"].startswith("-----BEGIN CERTIFICATE-----")
        assert env[function]["AUDITLOG_FIRESTORE_DATABASE"] == "auditlog-dev"
        assert env[function]["AUDITLOG_PUBSUB_TOPIC"] == "auditlog-dev-events"
        scheduled = function in ("retention", "streams")
        assert ("AUDITLOG_SCHEDULER_SERVICE_ACCOUNT" in env[function]) == scheduled
        assert not set(env[function]) & set(every), "secrets only through Secret Manager"
    accessor = one("google_secret_manager_secret_iam_member", "accessor")
    assert "local.secret_names[fn]" in accessor["for_each"]
    fn = one("google_cloudfunctions2_function", "fn")
    (dynamic,) = fn["service_config"][0]["dynamic"]
    assert "local.secret_names[each.key]" in dynamic["secret_environment_variables"]["for_each"]
    assert fn["depends_on"] == ["${time_sleep.grants}"], "deploy after the grants have propagated"


# -- item 3: fresh projects and organisations ----------------------------------------------------


def test_a_fresh_project_gets_its_apis_build_identity_and_pubsub_agent() -> None:
    apis = PARSED[TF / "modules/platform/main.tf"]["locals"][0]["apis"]
    assert {"iam.googleapis.com", "cloudresourcemanager.googleapis.com"} <= set(apis)
    fn = one("google_cloudfunctions2_function", "fn")
    assert fn["build_config"][0]["service_account"] == "${google_service_account.build.id}"
    build_roles = one("google_project_iam_member", "build")["for_each"]
    assert "roles/cloudbuild.builds.builder" not in build_roles and "roles/logging.logWriter" in build_roles
    identity = one("google_project_service_identity", "pubsub")
    assert identity["service"] == "pubsub.googleapis.com" and "google-beta" in identity["provider"]
    everything = "\n".join(p.read_text() for p in FILES)
    assert "gcp-sa-pubsub" not in everything, "the agent comes from google_project_service_identity"
    assert not resources("google_project", "data"), (
        "no project lookup at plan time (needs cloudresourcemanager)"
    )
    # Everything downstream takes the project id from the platform, which waits for the APIs.
    main = text("main.tf")
    assert (
        main.count("project_id              = module.platform.project_id")
        + main.count("project_id                       = module.platform.project_id")
        + main.count("project_id             = module.platform.project_id")
        == 3
    )
    outputs = PARSED[TF / "modules/platform/outputs.tf"]["output"]
    project = next(o["project_id"] for o in outputs if "project_id" in o)
    assert "time_sleep.apis" in str(project["depends_on"])


# -- item 4: CMEK per location -------------------------------------------------------------------


def test_customer_managed_keys_sit_where_their_data_is_and_the_agents_may_use_them() -> None:
    kms = text("modules/platform/kms.tf")
    assert 'lookup({ EU = "europe", US = "us" }' in kms
    bigquery = one("google_kms_crypto_key_iam_member", "bigquery")
    regional = one("google_kms_crypto_key_iam_member", "regional")
    assert (
        bigquery["crypto_key_id"] == "${local.bigquery_key}"
        and regional["crypto_key_id"] == "${local.regional_key}"
    )
    assert (
        "/locations/${local.bigquery_kms_location}/"
        in bigquery["lifecycle"][0]["precondition"][0]["condition"]
    )
    assert "/locations/${var.region}/" in regional["lifecycle"][0]["precondition"][0]["condition"]
    assert "pubsub" in regional["for_each"] and "storage" in regional["for_each"]
    assert "google_bigquery_default_service_account" in bigquery["member"]
    for name in ("events", "dead_letters"):
        table = one("google_bigquery_table", name)
        assert "${google_kms_crypto_key_iam_member.bigquery}" in table["depends_on"]
        assert "local.bigquery_key" in table["dynamic"][0]["encryption_configuration"]["for_each"]
    for name in ("events", "dead_letter"):
        topic = one("google_pubsub_topic", name)
        assert topic["kms_key_name"] == "${local.regional_key}"
        assert "${google_kms_crypto_key_iam_member.regional}" in topic["depends_on"]
        assert topic["message_storage_policy"][0]["allowed_persistence_regions"] == ["${var.region}"]
    assert "module.platform.regional_kms_key" in text("main.tf"), "the source bucket uses the regional key"


# -- item 5: two environments in one project -----------------------------------------------------


def test_every_name_carries_the_environment() -> None:
    for kind in ("google_pubsub_topic", "google_pubsub_subscription", "google_cloud_scheduler_job"):
        for name, body in resources(kind):
            assert body["name"].startswith("${local.prefix}-"), f"{kind}.{name}"
    for name, body in resources("google_secret_manager_secret"):
        assert body["secret_id"].startswith("${local.prefix}-"), name
    assert "${local.prefix}" in one("google_storage_bucket", "sources")["name"]
    assert one("google_firestore_database", "state")["name"] == "${local.firestore_database}"
    assert 'coalesce(var.firestore_database, "auditlog-${var.environment}")' in text(
        "modules/platform/firestore.tf"
    )
    for _, body in resources("google_firestore_index"):
        assert body["database"] == "${google_firestore_database.state.name}"
    for name, body in resources("google_project_iam_custom_role"):
        assert "${var.environment}" in body["role_id"], name
    for name, body in resources("google_logging_metric"):
        assert "${var.environment}" in body["name"], name
    firestore = one("google_project_iam_member", "firestore")
    assert "databases/${var.firestore_database}" in firestore["condition"][0]["expression"]


# -- item 6: retention in bounded steps ----------------------------------------------------------


def test_retention_steps_fit_their_timeout_attempt_deadline_and_schedule() -> None:
    settings = _function_locals("dev")
    retention = settings["retention"]
    timeout = retention["timeout_seconds"]
    assert settings["timeout_seconds"]["retention"] == timeout
    assert retention["attempt_deadline"] == f"{timeout}s", (
        "the scheduler waits as long as the function may run"
    )
    assert timeout <= 1800, "HTTP targets allow attempt deadlines up to 30 minutes"
    assert retention["budget_seconds"] < timeout < 15 * 60, "a step ends before the next tick"
    assert retention["lease_seconds"] > timeout, "a killed step's lease outlives it"
    assert retention["schedule"] == "*/15 * * * *"
    env = settings["env_by_function"]["retention"]
    assert env["AUDITLOG_RETENTION_RUN_BUDGET_SECONDS"] == str(retention["budget_seconds"])
    assert env["AUDITLOG_RETENTION_LEASE_SECONDS"] == str(retention["lease_seconds"])
    job = one("google_cloud_scheduler_job", "retention")
    assert job["attempt_deadline"] == "${local.retention.attempt_deadline}"
    assert job["retry_config"][0]["retry_count"] == 0, "the next tick is the retry: attempts never overlap"
    fn = one("google_cloudfunctions2_function", "fn")
    assert fn["service_config"][0]["timeout_seconds"] == "${local.timeout_seconds[each.key]}"


# -- item 7: the table is append-only for the runtime ----------------------------------------------

ALLOWED_TABLE_PERMISSIONS = {"bigquery.tables.get", "bigquery.tables.getData", "bigquery.tables.updateData"}


def test_no_runtime_identity_can_delete_or_alter_the_events_table() -> None:
    iam = PARSED[TF / "modules/functions/iam.tf"]
    table_roles = next(group["table_roles"] for group in iam["locals"] if "table_roles" in group)
    bindings = [
        (n, b)
        for kind in ("google_bigquery_table_iam_member", "google_bigquery_table_iam_binding")
        for n, b in resources(kind)
        if b.get("table_id") == "${var.table_id}"
    ]
    assert [n for n, _ in bindings] == ["events"]
    (binding,) = [b for _, b in bindings]
    assert binding["role"] == "${google_project_iam_custom_role.table[each.value.role].name}", (
        "every role bound to the table is one of ours, so its permissions are checked here"
    )
    roles = one("google_project_iam_custom_role", "table")
    assert roles["for_each"] == "${local.table_roles}" and roles["permissions"] == "${each.value.permissions}"
    granted: dict[str, set[str]] = {}
    for role, spec in table_roles.items():
        permissions = set(spec["permissions"])
        assert permissions <= ALLOWED_TABLE_PERMISSIONS, f"{role}: {permissions - ALLOWED_TABLE_PERMISSIONS}"
        for function in spec["functions"]:
            granted.setdefault(function, set()).update(permissions)
    assert granted["writer"] == {"bigquery.tables.get", "bigquery.tables.updateData"}, "appends only"
    assert granted["query"] == {"bigquery.tables.get", "bigquery.tables.getData"}
    assert granted["retention"] == ALLOWED_TABLE_PERMISSIONS, "DELETE ... WHERE reads and changes data"
    assert "ingest" not in granted
    jobs = one("google_project_iam_member", "jobs")
    assert "writer" not in jobs["for_each"], "without jobs the writer runs no DML: Storage Write appends only"
    assert not resources("google_bigquery_dataset_iam_member") and not resources(
        "google_bigquery_dataset_iam_binding"
    )
    # No project-wide BigQuery data role for any identity of ours.
    for name, body in resources("google_project_iam_member"):
        role = str(body.get("role", "")) + str(body.get("for_each", ""))
        assert not re.search(r"bigquery\.(data|admin|user)", role), name


def test_no_primitive_roles_and_nothing_public() -> None:
    grants = [
        body
        for parsed in PARSED.values()
        for block in parsed.get("resource", [])
        for kind, named in block.items()
        if "iam_member" in kind or "iam_binding" in kind
        for body in named.values()
    ]
    assert len(grants) > 10
    for grant in grants:
        role = str(grant.get("role", "")) + str(grant.get("for_each", ""))
        assert not re.search(r"roles/(owner|editor|viewer)\b", role), grant
        members = [str(grant.get("member", "")), *map(str, grant.get("members", []))]
        assert not any(m in ("allUsers", "allAuthenticatedUsers") for m in members), grant


# -- item 8: dead letters kept for good ----------------------------------------------------------


def test_dead_letters_are_archived_durably_in_bigquery() -> None:
    writer = one("google_pubsub_subscription", "writer")
    (policy,) = writer["dead_letter_policy"]
    assert policy["dead_letter_topic"] == "${var.dead_letter_topic_id}"
    archive = one("google_pubsub_subscription", "dead_letter_archive")
    assert archive["topic"] == "${google_pubsub_topic.dead_letter.id}"
    (config,) = archive["bigquery_config"]
    assert config["write_metadata"] is True and "google_bigquery_table.dead_letters" in config["table"]
    subscriptions_on_dead_letters = [
        n
        for n, b in resources("google_pubsub_subscription")
        if "dead_letter" in b["topic"] and "dead_letter_policy" not in b
    ]
    assert subscriptions_on_dead_letters == ["dead_letter_archive"], (
        "no pull subscription that drops after 7 days"
    )
    table = one("google_bigquery_table", "dead_letters")
    assert "expiration_ms" not in table["time_partitioning"][0] and "expiration_time" not in table
    columns = {
        c["name"]: c["type"]
        for c in json.loads((TF / "modules/platform/dead_letters.schema.json").read_text())
    }
    assert columns == {
        "subscription_name": "STRING",
        "message_id": "STRING",
        "publish_time": "TIMESTAMP",
        "data": "BYTES",
        "attributes": "STRING",
    }, "the columns a BigQuery subscription with write_metadata fills"
    archiver = one("google_bigquery_table_iam_member", "dead_letter_archiver")
    assert archiver["member"] == "${google_project_service_identity.pubsub.member}"
    assert one("google_pubsub_topic_iam_member", "dead_letter_publisher")["member"] == archiver["member"]
    assert (
        one("google_pubsub_subscription_iam_member", "agent_subscriber")["role"] == "roles/pubsub.subscriber"
    )
    readme = text("README.md")
    assert "## Dead letters" in readme and "gcloud pubsub topics publish" in readme


# -- conventions, environments, Firestore ----------------------------------------------------------


def test_environment_profiles_as_the_seed_says() -> None:
    profiles = tf_eval(
        ["terraform/environments.tf", "terraform/variables.tf"], SAMPLE, "local.profiles", also=()
    )
    assert set(profiles) == set(ENVIRONMENTS)
    assert profiles["dev"]["redis_tier"] == "BASIC" and profiles["prod"]["redis_tier"] == "STANDARD_HA"
    assert (
        profiles["staging"]["create_dataset"] is False and profiles["prod"]["dataset_id"] == "auditlog_prod"
    )
    assert [profiles[e]["point_in_time_recovery"] for e in ENVIRONMENTS] == [False, False, True], (
        "Firestore point-in-time recovery in prod"
    )
    for env in ENVIRONMENTS:
        assert set(profiles[env]["sizing"]) == set(FUNCTIONS)
    override = tf_eval(
        ["terraform/environments.tf", "terraform/variables.tf"],
        {**SAMPLE, "environment": "staging", "create_dataset": True},
        "local.create_dataset",
    )
    assert override is True, "staging in an empty project creates its dataset"


def test_firestore_native_with_the_integrity_indexes() -> None:
    database = one("google_firestore_database", "state")
    assert database["type"] == "FIRESTORE_NATIVE"
    assert "var.point_in_time_recovery" in database["point_in_time_recovery_enablement"]
    collections = sorted(b["collection"] for _, b in resources("google_firestore_index"))
    assert collections.count("auditlog_integrity_staged") == 2
    assert collections.count("auditlog_integrity_checkpoints") == 3, "newest, newest final, by size"


def test_the_writer_takes_internal_traffic_only() -> None:
    settings = _function_locals("dev")
    assert settings["ingress"] == {
        "ingest": "ALLOW_ALL",
        "query": "ALLOW_ALL",
        "retention": "ALLOW_ALL",
        "streams": "ALLOW_ALL",
        "writer": "ALLOW_INTERNAL_ONLY",
    }
    writer = one("google_pubsub_subscription", "writer")
    assert "service_config[0].uri" in writer["push_config"][0]["push_endpoint"], "the run.app address"


def test_functions_schedules_and_gateway() -> None:
    jobs = {n: b for n, b in resources("google_cloud_scheduler_job")}
    assert set(jobs) == {"retention", "integrity", "streams"}
    assert all(j["http_target"][0]["oidc_token"] for j in jobs.values())
    assert "integrity/run" in jobs["integrity"]["http_target"][0]["uri"]
    assert jobs["streams"]["http_target"][0]["uri"] == "${local.streams_url}/api/v1/audit/streams/run"
    evaluated = _function_locals("prod")
    budget = evaluated["env_by_function"]["streams"]["AUDITLOG_STREAM_RUN_BUDGET_SECONDS"]
    assert float(budget) + 30 <= evaluated["timeout_seconds"]["streams"] <= 120, (
        "a run ends, its last batch included, within the timeout; the stream lease (120 s) outlives it"
    )
    assert one("google_api_gateway_api_config", "auditlog")["openapi_documents"]
    assert (
        one("google_project_service", "api")["service"]
        == "${google_api_gateway_api.auditlog.managed_service}"
    )
    assert one("google_redis_instance", "cache")["auth_enabled"] is True


# -- item 11: the bundle is part of the plan -------------------------------------------------------


def test_the_plan_builds_the_bundles_it_deploys() -> None:
    (external,) = [b for n, b in resources("external", "data") if n == "bundle"]
    assert external["program"] == ["python3", "${var.repo_root}/devtools/bundle.py", "--terraform"]
    assert not resources("archive_file", "data"), "no zip of whatever build/ happens to hold"
    obj = one("google_storage_bucket_object", "source")
    assert obj["name"] == '${each.key}/${data.external.bundle.result["${each.key}_md5"]}.zip'
    assert obj["source"] == '${data.external.bundle.result["${each.key}_zip"]}'


def test_bundle_protocol_answers_terraform_with_reproducible_zips(tmp_path: Path) -> None:
    query = json.dumps({"out": str(tmp_path / "a")})
    answers = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(ROOT / "devtools/bundle.py"), "--terraform"],
            input=query,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        answers.append(json.loads(done.stdout))
    assert answers[0] == answers[1], "the same sources give the same MD5s: no spurious redeploys"
    assert set(answers[0]) == {f"{n}_{k}" for n in FUNCTIONS for k in ("zip", "md5")}, "the log's five"
    for name in FUNCTIONS:
        archive = Path(answers[0][f"{name}_zip"])
        assert hashlib.md5(archive.read_bytes()).hexdigest() == answers[0][f"{name}_md5"]
        assert all(isinstance(v, str) for v in answers[0].values()), "external data sources take strings only"
    sys.path.insert(0, str(ROOT))
    from devtools import bundle

    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "main.py").write_text("x = 1\n")
    first = bundle.zip_folder(folder, tmp_path / "b1.zip")
    (folder / "main.py").write_text("x = 2\n")
    assert bundle.zip_folder(folder, tmp_path / "b2.zip") != first, "a code change is a new object"


# -- bundles: each imports with only its own requirements -----------------------------------------


def _clean_venv(requirements: str) -> Path | None:
    """A virtualenv with exactly these requirements (cached in .stand-ins/ by their hash)."""
    key = hashlib.sha256(f"{sys.version}\n{requirements}".encode()).hexdigest()[:12]
    venv = ROOT / ".stand-ins" / f"bundle-venv-{key}"
    python = venv / "bin" / "python"
    if (venv / ".installed").exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        (venv / "requirements.txt").write_text(requirements)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(venv / "requirements.txt")],
            check=True,
            capture_output=True,
            timeout=1200,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    (venv / ".installed").touch()
    return python


# Imports the entry point, then every module of the bundled package except the embedded
# backends that import an excluded package themselves (the GCP runtime loads its backends
# lazily, so importing them all covers it); then checks that no excluded package was loaded
# and none is installed.
_IMPORT_ALL = """
import importlib, pathlib, re, sys
root, absent = pathlib.Path(sys.argv[1]), sys.argv[2:]
sys.path.insert(0, str(root))
import main, auditlog
assert auditlog.__file__.startswith(str(root)), auditlog.__file__
imported, embedded = 0, []
for path in sorted((root / "auditlog").rglob("*.py")):
    name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
    if any(re.search(r"^\\s*(import|from) " + pkg + r"\\b", path.read_text(), re.M) for pkg in absent):
        embedded.append(name)
        continue
    importlib.import_module(name)
    imported += 1
for pkg in absent:
    assert pkg not in sys.modules, pkg + " was imported"
    try:
        importlib.import_module(pkg)
    except ModuleNotFoundError:
        pass
    else:
        raise AssertionError(pkg + " is installed")
assert imported > 20, imported
print("ok", *embedded)
"""


@pytest.mark.parametrize("name", (*FUNCTIONS, "witness"))
def test_each_bundle_imports_with_only_its_own_requirements(name: str, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from devtools import bundle

    bundle.build(tmp_path)
    folder = tmp_path / name
    requirements = (folder / "requirements.txt").read_text()
    listed = {bundle.requirement_name(line) for line in requirements.splitlines()} - {None}
    assert not listed & {"duckdb", "pyarrow"}, "no DuckDB or Arrow in a GCP bundle"
    assert {"functions-framework", "google-cloud-bigquery", "google-cloud-firestore", "redis"} <= listed
    python = _clean_venv(requirements)
    _require_or_skip(python is not None, "could not install the bundle's requirements into a virtualenv")
    done = subprocess.run(
        [str(python), "-c", _IMPORT_ALL, str(folder), *sorted(bundle.EXCLUDED[name])],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ok, *embedded = done.stdout.split()
    assert ok == "ok" and all("duckdb" in m or "embedded" in m for m in embedded), embedded


# -- generated spec, formatting, policy scan ----------------------------------------------------------


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


def test_deploy_script_is_one_command_per_environment() -> None:
    script = TF / "deploy.sh"
    assert os.access(script, os.X_OK)
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    body = script.read_text()
    assert "-backend-config=prefix=auditlog/$environment" in body
    assert '-var-file="$vars"' in body


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


# -- issue 25: the events table's layout is the code's, and capacity pricing is one variable -----


def test_the_events_table_layout_and_search_index_are_the_codes() -> None:
    from auditlog.backends.gcp import bigquery_sql

    events = one("google_bigquery_table", "events")
    assert events["clustering"] == list(bigquery_sql.CLUSTERING_FIELDS)
    assert events["time_partitioning"][0]["field"] == bigquery_sql.PARTITION_FIELD
    job = one("google_bigquery_job", "search_index")
    (query,) = job["query"]
    table = "${var.project_id}.${local.dataset_id}.${google_bigquery_table.events.table_id}"
    assert query["query"] == bigquery_sql.search_index_ddl(table)
    assert query["use_legacy_sql"] is False
    # A DDL job takes no dispositions (the provider's defaults would be refused).
    assert query["create_disposition"] == "" and query["write_disposition"] == ""
    assert "${var.environment}" in job["job_id"] and job["location"] == "${var.bigquery_location}"


def test_capacity_pricing_is_switched_by_one_validated_variable() -> None:
    for relative in ("variables.tf", "modules/platform/variables.tf"):
        variable = one_variable(relative, "bigquery_editions")
        assert variable["default"] is None and "validation" in variable, relative
    assert "bigquery_editions = var.bigquery_editions" in text("main.tf").replace("  ", "")
    reservation = one("google_bigquery_reservation", "queries")
    assignment = one("google_bigquery_reservation_assignment", "queries")
    for body in (reservation, assignment):
        assert body["count"] == "${var.bigquery_editions == null ? 0 : 1}"
    assert assignment["job_type"] == "QUERY" and assignment["assignee"] == "projects/${var.project_id}"
    assert "bigqueryreservation.googleapis.com" in text("modules/platform/main.tf")


# -- issue 23: keys the operator cannot copy -------------------------------------------------------


def test_the_log_signs_in_kms_and_wraps_tenant_keys_with_a_key_that_outlives_a_destroy() -> None:
    signing = one("google_kms_crypto_key", "signing")
    assert signing["purpose"] == "ASYMMETRIC_SIGN"
    assert signing["version_template"][0]["algorithm"] == "EC_SIGN_ED25519"
    wrapping = one("google_kms_crypto_key", "wrapping")
    assert wrapping["purpose"] == "ENCRYPT_DECRYPT"
    assert wrapping["rotation_period"] == f"{90 * 86400}s", "terraform/README.md says 90 days"
    for name, body in resources("google_kms_crypto_key"):
        assert prevent_destroy(body), f"google_kms_crypto_key.{name} needs lifecycle.prevent_destroy"
    # Every function wraps; only those that sign checkpoints find the signing key and may sign.
    evaluated = _function_locals("prod")
    signers = {fn for fn, names in evaluated["secret_names"].items() if "AUDITLOG_SIGNING_KEY" in names}
    assert signers == {"query", "retention"}
    for fn, env in evaluated["env_by_function"].items():
        assert env["AUDITLOG_KMS_WRAPPING_KEY"] == FUNCTION_VARS["kms_wrapping_key"], fn
        signs = env.get("AUDITLOG_KMS_SIGNING_KEY")
        assert signs == (FUNCTION_VARS["kms_signing_key_version"] if fn in signers else None), fn
    grant = one("google_kms_crypto_key_iam_member", "signing")
    assert grant["role"] == "roles/cloudkms.signerVerifier" and "AUDITLOG_SIGNING_KEY" in grant["for_each"]
    assert one("google_kms_crypto_key_iam_member", "wrapping")["role"] == (
        "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    )
