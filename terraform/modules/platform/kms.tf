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
