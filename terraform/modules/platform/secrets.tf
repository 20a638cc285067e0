# Three secrets, each with a first version created in the same apply, so the functions (which
# read them at start) can be deployed at once.
#
# The cursor key and the signing key are generated here by ephemeral resources and written
# through write-only arguments: their values are never in a plan or in the Terraform state.
# They are created once (secret_data_wo_version); rotate with `gcloud secrets versions add`
# (the functions read `latest` when an instance starts).

resource "google_secret_manager_secret" "cursor" {
  project   = var.project_id
  secret_id = "${local.prefix}-cursor-secret"
  labels    = local.labels
  replication {
    auto {}
  }
  depends_on = [time_sleep.apis]
}

resource "google_secret_manager_secret" "signing_key" {
  project   = var.project_id
  secret_id = "${local.prefix}-signing-key"
  labels    = local.labels
  replication {
    auto {}
  }
  depends_on = [time_sleep.apis]
}

# AUDITLOG_CURSOR_SECRET: HMAC key of page cursors, 48 random letters and digits (~285 bits).
ephemeral "random_password" "cursor" {
  length  = 48
  special = false
}

# AUDITLOG_SIGNING_KEY: an Ed25519 seed as 64 hex characters (256 bits). random_password draws
# each character uniformly from the enabled sets: digits plus "abcdef" as the special set.
ephemeral "random_password" "signing_key" {
  length           = 64
  upper            = false
  lower            = false
  numeric          = true
  special          = true
  override_special = "abcdef"
}

resource "google_secret_manager_secret_version" "cursor" {
  secret                 = google_secret_manager_secret.cursor.id
  secret_data_wo         = ephemeral.random_password.cursor.result
  secret_data_wo_version = 1
}

resource "google_secret_manager_secret_version" "signing_key" {
  secret                 = google_secret_manager_secret.signing_key.id
  secret_data_wo         = ephemeral.random_password.signing_key.result
  secret_data_wo_version = 1
}

# The Redis URL holds Memorystore's AUTH string, so it travels as a secret too. Its value comes
# from the instance (already in Terraform state as the instance's attribute). The server is
# verified against the instance's own CA (AUDITLOG_REDIS_CA_CERT, outputs.tf), not skipped.
resource "google_secret_manager_secret" "redis_url" {
  project   = var.project_id
  secret_id = "${local.prefix}-redis-url"
  labels    = local.labels
  replication {
    auto {}
  }
  depends_on = [time_sleep.apis]
}

resource "google_secret_manager_secret_version" "redis_url" {
  secret      = google_secret_manager_secret.redis_url.id
  secret_data = "rediss://:${google_redis_instance.cache.auth_string}@${google_redis_instance.cache.host}:${google_redis_instance.cache.port}/0"
}
