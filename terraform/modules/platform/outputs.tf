output "project_id" {
  value       = var.project_id
  description = "The project, once its APIs are enabled: whatever takes it from here waits for them."
  depends_on  = [time_sleep.apis]
}

output "dataset_id" {
  value       = google_bigquery_table.events.dataset_id
  description = "Dataset of the events table."
}

output "table_id" {
  value       = google_bigquery_table.events.table_id
  description = "The events table."
}

output "dead_letters_table" {
  value       = "${google_bigquery_table.dead_letters.project}.${google_bigquery_table.dead_letters.dataset_id}.${google_bigquery_table.dead_letters.table_id}"
  description = "The dead-letter archive table (project.dataset.table)."
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

output "dead_letter_topic_name" {
  value       = google_pubsub_topic.dead_letter.name
  description = "The dead-letter topic's short name."
}

output "dead_letter_archive_subscription" {
  value       = google_pubsub_subscription.dead_letter_archive.name
  description = "The BigQuery subscription that archives dead letters."
}

output "pubsub_agent" {
  value       = google_project_service_identity.pubsub.member
  description = "The Pub/Sub service agent (dead-lettering, push tokens), as an IAM member."
}

output "firestore_database" {
  value       = google_firestore_database.state.name
  description = "The Firestore database (AUDITLOG_FIRESTORE_DATABASE)."
}

output "secrets" {
  value = {
    AUDITLOG_CURSOR_SECRET = { secret = google_secret_manager_secret.cursor.secret_id, version = "latest" }
    AUDITLOG_SIGNING_KEY   = { secret = google_secret_manager_secret.signing_key.secret_id, version = "latest" }
    # Pinned: a new Memorystore AUTH string is a new version, which redeploys the functions.
    AUDITLOG_REDIS_URL = { secret = google_secret_manager_secret.redis_url.secret_id, version = google_secret_manager_secret_version.redis_url.version }
  }
  description = "Each secret setting -> its Secret Manager secret and the version the functions read. Every secret has a version once this is known."
  depends_on  = [google_secret_manager_secret_version.cursor, google_secret_manager_secret_version.signing_key]
}

output "redis_ca_cert" {
  value       = join("\n", [for ca in google_redis_instance.cache.server_ca_certs : trimspace(ca.cert)])
  description = "PEM of Memorystore's server CAs (AUDITLOG_REDIS_CA_CERT): the client verifies the server against them."
}

output "vpc_connector_id" {
  value       = google_vpc_access_connector.functions.id
  description = "Serverless VPC Access connector of the functions."
}

output "regional_kms_key" {
  value       = local.regional_key
  description = "The regional CMEK key (source bucket), or null."
  depends_on  = [google_kms_crypto_key_iam_member.regional]
}

output "signing_key_version" {
  description = "The Cloud KMS key version (EC_SIGN_ED25519) checkpoints are signed with."
  value       = "${google_kms_crypto_key.signing.id}/cryptoKeyVersions/1"
}

output "signing_key_id" {
  value = google_kms_crypto_key.signing.id
}

output "wrapping_key" {
  description = "The Cloud KMS key that wraps tenant HMAC keys and per-subject keys."
  value       = google_kms_crypto_key.wrapping.id
}
