# What the witness is told (functions/witness reads it through auditlog.settings), and the names
# its resources take. Locals only, so a test evaluates them with `terraform console`.

locals {
  key_ring    = "auditlog-witness"
  key         = "cosigning"
  key_version = "projects/${var.project_id}/locations/${var.region}/keyRings/${local.key_ring}/cryptoKeys/${local.key}/cryptoKeyVersions/1"
  database    = "projects/${var.project_id}/databases/${var.firestore_database}"

  env = {
    AUDITLOG_ENVIRONMENT        = "production"
    AUDITLOG_BACKEND            = "gcp"
    AUDITLOG_GCP_PROJECT        = var.project_id
    AUDITLOG_FIRESTORE_DATABASE = var.firestore_database
    AUDITLOG_WITNESS_NAME       = var.name
    AUDITLOG_WITNESS_LOGS       = jsonencode(var.logs)
    # The key's first version: created with the key, and the function waits for its grant.
    AUDITLOG_WITNESS_KMS_KEY = local.key_version
  }
}
