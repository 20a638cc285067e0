resource "google_pubsub_topic" "events" {
  project                    = var.project_id
  name                       = "audit-events"
  message_retention_duration = var.message_retention
  kms_key_name               = var.kms_key_name
  labels                     = { app = "auditlog", environment = var.environment }
  depends_on                 = [google_project_service.apis]
}

# Messages the writer can never write land here intact (no silent loss), after
# max_delivery_attempts; an alert pages on its backlog.
resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project_id
  name                       = "audit-events-dead-letter"
  message_retention_duration = var.message_retention
  kms_key_name               = var.kms_key_name
  labels                     = { app = "auditlog", environment = var.environment }
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "audit-events-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = var.message_retention
  retain_acked_messages      = true
  ack_deadline_seconds       = 60
  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent moves messages to the dead-letter topic: it must publish there and
# acknowledge on the source subscription (granted in the functions module, which owns it).
locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}
