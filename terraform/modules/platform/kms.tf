# Optional customer-managed keys (var.cmek). Each key must sit where the data it protects is:
# the BigQuery key in the dataset's location (KMS spells the EU and US multi-regions "europe"
# and "us"), the regional key in var.region for the Pub/Sub topics (their messages are kept in
# that region, pubsub.tf) and the functions' source bucket. The service agent of each product
# gets Encrypter/Decrypter on the key it uses, before anything encrypted is created.
# Not covered: Firestore, Memorystore, Secret Manager and Cloud Build's artifacts (Google-managed
# keys).

locals {
  bigquery_key          = var.cmek == null ? null : var.cmek.bigquery_key
  regional_key          = var.cmek == null ? null : var.cmek.regional_key
  bigquery_kms_location = lookup({ EU = "europe", US = "us" }, upper(var.bigquery_location), lower(var.bigquery_location))
}

data "google_bigquery_default_service_account" "this" {
  count      = var.cmek == null ? 0 : 1
  project    = var.project_id
  depends_on = [time_sleep.apis]
}

data "google_storage_project_service_account" "this" {
  count      = var.cmek == null ? 0 : 1
  project    = var.project_id
  depends_on = [time_sleep.apis]
}

resource "google_kms_crypto_key_iam_member" "bigquery" {
  count         = var.cmek == null ? 0 : 1
  crypto_key_id = local.bigquery_key
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = data.google_bigquery_default_service_account.this[0].member
  lifecycle {
    precondition {
      condition     = strcontains(local.bigquery_key, "/locations/${local.bigquery_kms_location}/")
      error_message = "cmek.bigquery_key must be in KMS location ${local.bigquery_kms_location} (the dataset is in ${var.bigquery_location})."
    }
  }
}

resource "google_kms_crypto_key_iam_member" "regional" {
  for_each = var.cmek == null ? {} : {
    pubsub  = google_project_service_identity.pubsub.member
    storage = data.google_storage_project_service_account.this[0].member
  }
  crypto_key_id = local.regional_key
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
  lifecycle {
    precondition {
      condition     = strcontains(local.regional_key, "/locations/${var.region}/")
      error_message = "cmek.regional_key must be in ${var.region}, the region of the topics' messages and of the source bucket."
    }
  }
}

# The log's own keys (docs/INTEGRITY.md, "Keys"): checkpoints are signed in Cloud KMS with an
# Ed25519 key that cannot be exported, and the tenant HMAC keys and per-subject keys are
# wrapped by a symmetric key (envelope encryption), so a copy of Firestore alone reveals none
# of them. Both are kept on `terraform destroy`: losing the wrapping key loses every tenant's
# keys, and a signing key's public half must outlive the checkpoints it signed.
resource "google_kms_key_ring" "log" {
  project    = var.project_id
  name       = "auditlog-${var.environment}-log"
  location   = var.region
  depends_on = [time_sleep.apis]
}

resource "google_kms_crypto_key" "signing" {
  name     = "checkpoint-signing"
  key_ring = google_kms_key_ring.log.id
  purpose  = "ASYMMETRIC_SIGN"
  version_template {
    algorithm        = "EC_SIGN_ED25519"
    protection_level = var.kms_protection_level
  }
  lifecycle {
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key" "wrapping" {
  name            = "key-wrapping"
  key_ring        = google_kms_key_ring.log.id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = "7776000s" # 90 days; older versions keep unwrapping what they wrapped
  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = var.kms_protection_level
  }
  lifecycle {
    prevent_destroy = true
  }
}
