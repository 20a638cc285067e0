locals {
  dataset_id = var.create_dataset ? google_bigquery_dataset.events[0].dataset_id : var.dataset_id
}

resource "google_bigquery_dataset" "events" {
  count       = var.create_dataset ? 1 : 0
  project     = var.project_id
  dataset_id  = var.dataset_id
  location    = var.bigquery_location
  description = "Audit events (auditlog ${var.environment})."
  labels      = local.labels

  dynamic "default_encryption_configuration" {
    for_each = local.bigquery_key == null ? [] : [local.bigquery_key]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }

  depends_on = [time_sleep.apis, google_kms_crypto_key_iam_member.bigquery]
}

resource "google_bigquery_table" "events" {
  project             = var.project_id
  dataset_id          = local.dataset_id
  table_id            = var.table_id
  description         = "One row per audit event; the schema is the code's own (shared/auditlog/schema)."
  deletion_protection = true
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
  labels                   = local.labels

  dynamic "encryption_configuration" {
    for_each = local.bigquery_key == null ? [] : [local.bigquery_key]
    content {
      kms_key_name = encryption_configuration.value
    }
  }

  lifecycle {
    prevent_destroy = true
  }
  depends_on = [time_sleep.apis, google_kms_crypto_key_iam_member.bigquery]
}

# Every dead-lettered message, kept for good: the dead-letter topic's BigQuery subscription
# (pubsub.tf) writes each one here as Pub/Sub delivered it, data as bytes and every attribute
# (the origin's and Pub/Sub's CloudPubSubDeadLetter* ones) as JSON text. No expiration. How to
# find and replay them: terraform/README.md, "Dead letters".
resource "google_bigquery_table" "dead_letters" {
  project             = var.project_id
  dataset_id          = local.dataset_id
  table_id            = "${var.table_id}_dead_letters"
  description         = "Messages the writer could not write, as dead-lettered by Pub/Sub (never expire). Replay: terraform/README.md."
  deletion_protection = true
  # The columns a BigQuery subscription with write_metadata fills.
  schema = file("${path.module}/dead_letters.schema.json")

  time_partitioning {
    type  = "DAY"
    field = "publish_time"
  }
  labels = local.labels

  dynamic "encryption_configuration" {
    for_each = local.bigquery_key == null ? [] : [local.bigquery_key]
    content {
      kms_key_name = encryption_configuration.value
    }
  }

  lifecycle {
    prevent_destroy = true
  }
  depends_on = [time_sleep.apis, google_kms_crypto_key_iam_member.bigquery]
}

# The Pub/Sub service agent writes the archive: BigQuery Data Editor on that one table is what
# Pub/Sub documents for BigQuery subscriptions. No runtime identity is granted anything on it.
resource "google_bigquery_table_iam_member" "dead_letter_archiver" {
  project    = var.project_id
  dataset_id = google_bigquery_table.dead_letters.dataset_id
  table_id   = google_bigquery_table.dead_letters.table_id
  role       = "roles/bigquery.dataEditor"
  member     = google_project_service_identity.pubsub.member
}
