output "dataset_id" {
  value       = var.dataset_id
  description = "Dataset of the events table."
}

output "table_id" {
  value       = google_bigquery_table.events.table_id
  description = "The events table."
}

output "topic_id" {
  value       = google_pubsub_topic.events.id
  description = "The events topic."
}

output "topic_name" {
  value       = google_pubsub_topic.events.name
  description = "The events topic's short name."
}

output "dead_letter_topic_id" {
  value       = google_pubsub_topic.dead_letter.id
  description = "The dead-letter topic."
}

output "dead_letter_subscription" {
  value       = google_pubsub_subscription.dead_letter.name
  description = "Subscription holding dead-lettered messages."
}

output "pubsub_agent" {
  value       = local.pubsub_agent
  description = "The Pub/Sub service agent (dead-lettering)."
}

output "cursor_secret_id" {
  value       = google_secret_manager_secret.cursor.secret_id
  description = "Secret with AUDITLOG_CURSOR_SECRET."
}

output "signing_key_secret_id" {
  value       = google_secret_manager_secret.signing_key.secret_id
  description = "Secret with AUDITLOG_SIGNING_KEY."
}

output "network_id" {
  value       = google_compute_network.vpc.id
  description = "VPC of the functions' egress."
}

output "vpc_connector_id" {
  value       = google_vpc_access_connector.functions.id
  description = "Serverless VPC Access connector of the functions."
}

output "redis_url_secret_id" {
  value       = google_secret_manager_secret.redis_url.secret_id
  description = "Secret with AUDITLOG_REDIS_URL (Memorystore, TLS, AUTH)."
}
