"""terraform/witness, the witness deployed on its own (issue 23), and the log's side of it in
the main root: what each is told is what the code accepts, evaluated with `terraform console`."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from auditlog.runtime.keys import witness_policy
from auditlog.settings import Settings
from auditlog.witness.service import LogRule
from tests.conftest import ROOT
from tests.unit.test_terraform import (
    FUNCTION_VARS,
    PARSED,
    TF,
    _function_locals,
    one,
    prevent_destroy,
    tf_eval,
)

pytestmark = pytest.mark.unit

WITNESS = TF / "witness"
WITNESS_VARS = {
    "project_id": "w-1",
    "region": "europe-west1",
    "name": "witness.example.org/w1",
    "logs": ["audit.example.com/log/* " + "ab" * 32],
    "repo_root": "/repo",
}


def _settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a function builds from the environment Terraform gives it."""
    monkeypatch.delenv("AUDITLOG_DATA_DIR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def _witness_env() -> dict[str, str]:
    return dict(
        tf_eval(
            ["terraform/witness/settings.tf", "terraform/witness/variables.tf"],
            WITNESS_VARS,
            "local.env",
        )
    )


def test_the_witness_is_a_root_of_its_own_with_its_own_state() -> None:
    files = ("main.tf", "iam.tf", "settings.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
    for name in files:
        assert (WITNESS / name).is_file(), name
    versions = PARSED[WITNESS / "versions.tf"]["terraform"][0]
    assert "gcs" in versions["backend"][0], "its own state, apart from the log's"
    assert not any("module" in parsed for path, parsed in PARSED.items() if path.parent == WITNESS)


def test_the_witness_function_is_told_what_the_code_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _witness_env()
    settings = _settings(env, monkeypatch)
    assert not settings.is_development and settings.backend.value == "gcp"
    assert settings.witness_name == WITNESS_VARS["name"]
    assert [LogRule.parse(spec) for spec in settings.witness_logs], "the logs parse"
    assert settings.witness_kms_key == (
        "projects/w-1/locations/europe-west1/keyRings/auditlog-witness/cryptoKeys/cosigning/cryptoKeyVersions/1"
    )
    fn = one("google_cloudfunctions2_function", "witness")
    assert fn["build_config"][0]["entry_point"] == "witness"
    assert (ROOT / "functions" / "witness" / "main.py").read_text().count("def witness(") == 1
    assert fn["service_config"][0]["environment_variables"] == "${local.env}"
    bundle = [b for p, parsed in PARSED.items() if p.parent == WITNESS for b in parsed.get("data", [])]
    (external,) = [group["external"]["witness_bundle"] for group in bundle]
    assert external["query"]["functions"] == "witness"


def test_the_bundle_protocol_builds_only_the_witness_when_asked(tmp_path: Any) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "devtools/bundle.py"), "--terraform"],
        input=json.dumps({"out": str(tmp_path), "functions": "witness"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"witness_zip", "witness_md5"}
    unknown = subprocess.run(
        [sys.executable, str(ROOT / "devtools/bundle.py"), "--terraform"],
        input=json.dumps({"out": str(tmp_path), "functions": "witness,nope"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode != 0 and "nope" in unknown.stderr


def test_the_witness_key_and_state_outlive_a_mistake_and_only_the_witness_uses_them() -> None:
    key = one("google_kms_crypto_key", "witness")
    assert key["purpose"] == "ASYMMETRIC_SIGN" and prevent_destroy(key)
    assert key["version_template"][0]["algorithm"] == "EC_SIGN_ED25519"
    database = one("google_firestore_database", "witness")
    assert database["delete_protection_state"] == "DELETE_PROTECTION_ENABLED"
    assert database["point_in_time_recovery_enablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    signer = one("google_kms_crypto_key_iam_member", "witness_signer")
    assert signer["crypto_key_id"] == "${google_kms_crypto_key.witness.id}"
    assert signer["role"] == "roles/cloudkms.signerVerifier"
    firestore = one("google_project_iam_member", "witness_firestore")
    assert firestore["role"] == "roles/datastore.user"
    assert "local.database" in firestore["condition"][0]["expression"]
    # Public by default, as a C2SP witness is: the only grant in terraform/ that may be, and only
    # through the variable that says so.
    invoker = one("google_cloud_run_v2_service_iam_member", "witness_invoker")
    assert invoker["for_each"] == "${toset(var.invokers)}" and invoker["member"] == "${each.value}"
    invokers = next(b["invokers"] for b in PARSED[WITNESS / "variables.tf"]["variable"] if "invokers" in b)
    assert invokers["default"] == ["allUsers"]


def test_the_log_signers_know_the_origin_and_the_witnesses(monkeypatch: pytest.MonkeyPatch) -> None:
    evaluated = _function_locals("prod")["env_by_function"]
    for fn in ("ingest", "writer"):
        assert "AUDITLOG_WITNESSES" not in evaluated[fn] and "AUDITLOG_LOG_ORIGIN" not in evaluated[fn]
    for fn in ("query", "retention"):
        env = {k: v for k, v in evaluated[fn].items() if not k.startswith("AUDITLOG_REDIS_CA")}
        settings = _settings(env, monkeypatch)
        assert settings.checkpoint_origin() == FUNCTION_VARS["log_origin"]
        assert settings.witness_quorum == 1
        assert [w["url"] for w in FUNCTION_VARS["witnesses"]] == list(
            json.loads(evaluated[fn]["AUDITLOG_WITNESSES"])[i].split(" ")[0] for i in range(2)
        )
    main = (TF / "main.tf").read_text()
    assert 'coalesce(var.log_origin, "${var.project_id}.auditlog/${var.environment}")' in main
    unquorate = tf_eval(
        ["terraform/modules/functions/settings.tf", "terraform/modules/functions/variables.tf"],
        {**FUNCTION_VARS, "witnesses": [], "witness_quorum": None},
        "local.env_by_function.query",
    )
    assert unquorate["AUDITLOG_WITNESSES"] == "[]" and "AUDITLOG_WITNESS_QUORUM" not in unquorate


def test_witness_policy_parses_what_terraform_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real vkey, as a deployed witness's /healthz prints it, through the log's settings."""
    from auditlog.ledger.checkpoints import Ed25519Signer
    from auditlog.ledger.notes import COSIGNATURE_V1, NoteKey

    vkey = NoteKey("w1.example.org", COSIGNATURE_V1, Ed25519Signer(bytes(32)).public_key).vkey
    env = tf_eval(
        ["terraform/modules/functions/settings.tf", "terraform/modules/functions/variables.tf"],
        {**FUNCTION_VARS, "witnesses": [{"url": "https://w1.example.org", "vkey": vkey}]}
        | {"witness_quorum": None},
        "local.env_by_function.retention",
    )
    settings = _settings({"AUDITLOG_WITNESSES": env["AUDITLOG_WITNESSES"]}, monkeypatch)
    witnesses, quorum = witness_policy(settings)
    assert [w.url for w in witnesses] == ["https://w1.example.org"] and quorum == 1
