# Names carry the environment, so two environments can share a project.

resource "google_pubsub_topic" "events" {
  project                    = var.project_id
  name                       = "${local.prefix}-events"
  message_retention_duration = var.message_retention
  kms_key_name               = local.regional_key
  labels                     = local.labels
  # Messages stay in the deployment's region (and so can use a key of that region).
  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }
  lifecycle {
    prevent_destroy = true
  }
  depends_on = [time_sleep.apis, google_kms_crypto_key_iam_member.regional]
}

# Messages the writer can never write land here after max_delivery_attempts, and from here in
# the dead_letters table (no silent loss); an alert pages when it happens.
resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project_id
  name                       = "${local.prefix}-dead-letter"
  message_retention_duration = var.message_retention
  kms_key_name               = local.regional_key
  labels                     = local.labels
  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }
  lifecycle {
    prevent_destroy = true
  }
  depends_on = [time_sleep.apis, google_kms_crypto_key_iam_member.regional]
}

# The durable copy: a BigQuery subscription writes every dead-lettered message into the
# dead_letters table. A pull subscription would drop them after 7 days.
resource "google_pubsub_subscription" "dead_letter_archive" {
  project                    = var.project_id
  name                       = "${local.prefix}-dead-letter-archive"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = "604800s"
  labels                     = local.labels
  expiration_policy {
    ttl = ""
  }
  bigquery_config {
    table          = "${google_bigquery_table.dead_letters.project}.${google_bigquery_table.dead_letters.dataset_id}.${google_bigquery_table.dead_letters.table_id}"
    write_metadata = true
  }
  # While BigQuery refuses (permissions, quota), messages wait here; an alert fires after an hour.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
  lifecycle {
    prevent_destroy = true
  }
  depends_on = [google_bigquery_table_iam_member.dead_letter_archiver]
}

# The Pub/Sub service agent moves messages to the dead-letter topic: it must publish there and
# acknowledge on the source subscription (granted in the functions module, which owns it).
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = google_project_service_identity.pubsub.member
}
