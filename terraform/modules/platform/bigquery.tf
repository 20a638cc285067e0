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
  # Tenant, then time: every read names its tenants and a time range, newest first
  # (shared/auditlog/backends/gcp/bigquery_sql.py, docs/CAPACITY.md section 3). Changed in place
  # from the seed's (tenant_id, user_id, event_type, timestamp); existing partitions keep the old
  # order until `python -m devtools.bq_migrate` rewrites them (terraform/README.md).
  clustering = ["tenant_id", "timestamp"]
  labels     = local.labels

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

# The search index over the id-like columns: get by id and filters on rare users, resources,
# correlation and session ids read only the blocks holding the value. DDL, so a query job; its
# text is the code's own (bigquery_sql.search_index_ddl, checked by tests/unit/test_terraform.py).
# A job is immutable: a changed index needs a new job_id (bump the suffix).
resource "google_bigquery_job" "search_index" {
  project  = var.project_id
  job_id   = "auditlog-${var.environment}-${var.table_id}-search-index-v1"
  location = var.bigquery_location
  labels   = local.labels

  query {
    query              = "CREATE SEARCH INDEX IF NOT EXISTS `events_ids` ON `${var.project_id}.${local.dataset_id}.${google_bigquery_table.events.table_id}` (audit_id, user_id, resource_id, correlation_id, session_id) OPTIONS (analyzer = 'NO_OP_ANALYZER')"
    use_legacy_sql     = false
    create_disposition = ""
    write_disposition  = ""
  }
}

# Capacity pricing (BigQuery editions) instead of on-demand bytes, when var.bigquery_editions is
# set: a reservation in the dataset's location and the project's query jobs assigned to it. It
# pays once the on-demand query bill passes baseline_slots x 24 x the slot-hour price a day
# (docs/CAPACITY.md section 3 gives the break-even from the model).
resource "google_bigquery_reservation" "queries" {
  count             = var.bigquery_editions == null ? 0 : 1
  project           = var.project_id
  name              = "auditlog-${var.environment}"
  location          = var.bigquery_location
  edition           = try(var.bigquery_editions.edition, null)
  slot_capacity     = try(var.bigquery_editions.baseline_slots, 0)
  ignore_idle_slots = false

  autoscale {
    max_slots = try(var.bigquery_editions.max_slots - var.bigquery_editions.baseline_slots, 0)
  }
  depends_on = [time_sleep.apis]
}

resource "google_bigquery_reservation_assignment" "queries" {
  count       = var.bigquery_editions == null ? 0 : 1
  project     = var.project_id
  location    = var.bigquery_location
  reservation = google_bigquery_reservation.queries[0].id
  assignee    = "projects/${var.project_id}"
  job_type    = "QUERY"
}
