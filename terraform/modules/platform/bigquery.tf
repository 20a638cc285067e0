resource "google_bigquery_dataset" "events" {
  count       = var.create_dataset ? 1 : 0
  project     = var.project_id
  dataset_id  = var.dataset_id
  location    = var.bigquery_location
  description = "Audit events (auditlog ${var.environment})."
  labels      = { app = "auditlog", environment = var.environment }

  dynamic "default_encryption_configuration" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_bigquery_table" "events" {
  project             = var.project_id
  dataset_id          = var.dataset_id
  table_id            = var.table_id
  description         = "One row per audit event; the schema is the code's own (shared/auditlog/schema)."
  deletion_protection = var.deletion_protection
  # The one schema file the service also uses (BigQueryEventStore, the contract tests).
  schema = file("${path.module}/../../../shared/auditlog/schema/events.bigquery.json")

  time_partitioning {
    type  = "DAY"
    field = "partition_date"
    # A safety net just above the longest retention (7 years = 2555 days): retention deletes
    # each event on time; this only catches what it would miss.
    expiration_ms = 2560 * 24 * 60 * 60 * 1000
  }
  require_partition_filter = true
  clustering               = ["tenant_id", "user_id", "event_type", "timestamp"]
  labels                   = { app = "auditlog", environment = var.environment }

  dynamic "encryption_configuration" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = encryption_configuration.value
    }
  }

  depends_on = [google_bigquery_dataset.events]
}
