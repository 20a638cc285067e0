# The witness's identities, each with only what it does. The runtime signs with its one key and
# reads and writes its one Firestore database; the build identity builds.

resource "google_service_account" "witness" {
  project      = var.project_id
  account_id   = "auditlog-witness"
  display_name = "auditlog witness ${var.name}"
  depends_on   = [time_sleep.apis]
}

resource "google_service_account" "witness_build" {
  project      = var.project_id
  account_id   = "auditlog-witness-build"
  display_name = "auditlog witness builds"
  depends_on   = [time_sleep.apis]
}

resource "google_project_iam_member" "witness_build" {
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectAdmin"])
  project  = var.project_id
  role     = each.value
  member   = google_service_account.witness_build.member
}

# signerVerifier: asymmetricSign and the public key (viewPublicKey), on this key only.
resource "google_kms_crypto_key_iam_member" "witness_signer" {
  crypto_key_id = google_kms_crypto_key.witness.id
  role          = "roles/cloudkms.signerVerifier"
  member        = google_service_account.witness.member
}

resource "google_project_iam_member" "witness_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.witness.member
  condition {
    title       = "the witness's database only"
    description = "The ${var.firestore_database} Firestore database."
    expression  = "resource.name == \"${local.database}\" || resource.name.startsWith(\"${local.database}/\")"
  }
}

# Deploying checks that the build identity can build: wait until the grants have propagated.
resource "time_sleep" "grants" {
  create_duration = "60s"
  triggers = {
    build = join(",", sort(keys(google_project_iam_member.witness_build)))
  }
  depends_on = [
    google_project_iam_member.witness_build,
    google_project_iam_member.witness_firestore,
    google_kms_crypto_key_iam_member.witness_signer,
  ]
}

# var.invokers: public by default (a C2SP witness is); see its description.
resource "google_cloud_run_v2_service_iam_member" "witness_invoker" {
  for_each = toset(var.invokers)
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.witness.name
  role     = "roles/run.invoker"
  member   = each.value
}
