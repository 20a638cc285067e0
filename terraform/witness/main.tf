# A C2SP witness (tlog-witness) for audit logs, deployed on its own: one Cloud Function
# (functions/witness), its Ed25519 key in Cloud KMS (not exportable), and what it cosigned in a
# Firestore database of its own. Meant for another project or organisation than the log's: the
# witness is the party that holds the log to one history (docs/INTEGRITY.md, "Witnesses").

locals {
  labels = { app = "auditlog-witness" }
  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudkms.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each           = toset(local.apis)
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# A newly enabled API refuses calls for a short while after the operation completes.
resource "time_sleep" "apis" {
  create_duration = "60s"
  triggers        = { apis = join(",", sort(local.apis)) }
  depends_on      = [google_project_service.apis]
}

# The witness's key: its public half is the vkey every log and auditor trusts, so it must
# outlive any mistake; a new key is a new witness to them.
resource "google_kms_key_ring" "witness" {
  project    = var.project_id
  name       = local.key_ring
  location   = var.region
  depends_on = [time_sleep.apis]
}

resource "google_kms_crypto_key" "witness" {
  name     = local.key
  key_ring = google_kms_key_ring.witness.id
  purpose  = "ASYMMETRIC_SIGN"
  version_template {
    algorithm        = "EC_SIGN_ED25519"
    protection_level = var.kms_protection_level
  }
  lifecycle {
    prevent_destroy = true
  }
}

# What the witness cosigned, per log origin: losing it would let it cosign a fork.
resource "google_firestore_database" "witness" {
  project                           = var.project_id
  name                              = var.firestore_database
  location_id                       = var.region
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  depends_on                        = [time_sleep.apis]
}

resource "google_storage_bucket" "witness_sources" {
  #checkov:skip=CKV_GCP_62:holds only the witness's code bundles; Cloud Audit Logs record data access
  project                     = var.project_id
  name                        = "${var.project_id}-auditlog-witness-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      num_newer_versions = 5
    }
    action {
      type = "Delete"
    }
  }
  labels     = local.labels
  depends_on = [time_sleep.apis]
}

# Built by the plan from the working tree, as the log's functions are (devtools/bundle.py).
data "external" "witness_bundle" {
  program = ["python3", "${var.repo_root}/devtools/bundle.py", "--terraform"]
  query = {
    out       = "${var.repo_root}/build/witness"
    functions = "witness"
  }
}

resource "google_storage_bucket_object" "witness_source" {
  bucket = google_storage_bucket.witness_sources.name
  name   = "witness/${data.external.witness_bundle.result["witness_md5"]}.zip"
  source = data.external.witness_bundle.result["witness_zip"]
}

resource "google_cloudfunctions2_function" "witness" {
  #checkov:skip=CKV_GCP_124:the logs that submit checkpoints run in other projects and organisations, so the witness takes traffic from the internet; it authenticates submissions by the log's signature (var.invokers)
  project     = var.project_id
  location    = var.region
  name        = "auditlog-witness"
  description = "C2SP tlog-witness ${var.name}"

  build_config {
    runtime         = var.runtime
    entry_point     = "witness"
    service_account = google_service_account.witness_build.id
    source {
      storage_source {
        bucket = google_storage_bucket.witness_sources.name
        object = google_storage_bucket_object.witness_source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.witness.email
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    min_instance_count               = 0
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = 8
    timeout_seconds                  = 30
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    environment_variables            = local.env
  }

  labels     = local.labels
  depends_on = [time_sleep.grants]
}
