# One service account per function, each with only what its code does. No primitive roles,
# nothing granted to allUsers or allAuthenticatedUsers.
#
#   ingest    publishes to the events topic; reads tenant policies (Firestore).
#   query     reads the events table and runs query jobs; reads Firestore (policies, integrity
#             log); publishes its own audit records of reads.
#   retention deletes expired rows (table dataEditor + jobs); Firestore (holds, erasures,
#             integrity sequencing); publishes its audit records.
#   writer    appends to the events table through the Storage Write API (table dataEditor, and
#             no bigquery.jobUser, so it cannot run DML: appends only); Firestore (integrity
#             staging and sequencing).

resource "google_service_account" "fn" {
  for_each     = local.functions
  project      = var.project_id
  account_id   = "al-${var.environment}-${each.key}"
  display_name = "auditlog ${each.key} (${var.environment})"
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "al-${var.environment}-scheduler"
  display_name = "auditlog Cloud Scheduler caller (${var.environment})"
}

resource "google_service_account" "pusher" {
  project      = var.project_id
  account_id   = "al-${var.environment}-pusher"
  display_name = "auditlog Pub/Sub push to the writer (${var.environment})"
}

resource "google_service_account" "gateway" {
  project      = var.project_id
  account_id   = "al-${var.environment}-gateway"
  display_name = "auditlog API Gateway backend caller (${var.environment})"
}

# Publishing: ingest (events), query and retention (their own audit records).
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = toset(["ingest", "query", "retention"])
  project  = var.project_id
  topic    = var.topic_name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.fn[each.key].email}"
}

# BigQuery, on the table only.
resource "google_bigquery_table_iam_member" "writer_append" {
  project    = var.project_id
  dataset_id = var.dataset_id
  table_id   = var.table_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.fn["writer"].email}"
}

resource "google_bigquery_table_iam_member" "query_read" {
  project    = var.project_id
  dataset_id = var.dataset_id
  table_id   = var.table_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.fn["query"].email}"
}

resource "google_bigquery_table_iam_member" "retention_delete" {
  project    = var.project_id
  dataset_id = var.dataset_id
  table_id   = var.table_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.fn["retention"].email}"
}

# Running query jobs (and reading results through the Storage Read API): query and retention.
resource "google_project_iam_member" "jobs" {
  for_each = toset(["query", "retention"])
  project  = var.project_id
  role     = "roles/bigquery.jobUser"
  member   = "serviceAccount:${google_service_account.fn[each.key].email}"
}

resource "google_project_iam_member" "read_sessions" {
  project = var.project_id
  role    = "roles/bigquery.readSessionUser"
  member  = "serviceAccount:${google_service_account.fn["query"].email}"
}

# Firestore has project-level IAM only.
resource "google_project_iam_member" "firestore" {
  for_each = local.functions
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = "serviceAccount:${google_service_account.fn[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = {
    for pair in setproduct(tolist(local.functions), keys(local.secrets)) :
    "${pair[0]}-${pair[1]}" => { function = pair[0], secret = local.secrets[pair[1]] }
  }
  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.fn[each.value.function].email}"
}

# Who may invoke which function (their Cloud Run services).
locals {
  invokers = {
    "ingest-gateway"      = { function = "ingest", member = "serviceAccount:${google_service_account.gateway.email}" }
    "query-gateway"       = { function = "query", member = "serviceAccount:${google_service_account.gateway.email}" }
    "retention-gateway"   = { function = "retention", member = "serviceAccount:${google_service_account.gateway.email}" }
    "retention-scheduler" = { function = "retention", member = "serviceAccount:${google_service_account.scheduler.email}" }
    "writer-pusher"       = { function = "writer", member = "serviceAccount:${google_service_account.pusher.email}" }
  }
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.invokers
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

# Dead-lettering: the Pub/Sub service agent acknowledges on the writer's subscription (and
# publishes to the dead-letter topic, granted in the platform module); it also mints the push
# subscription's OIDC tokens as the pusher account.
resource "google_pubsub_subscription_iam_member" "agent_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.writer.name
  role         = "roles/pubsub.subscriber"
  member       = var.pubsub_agent
}

resource "google_service_account_iam_member" "agent_token_creator" {
  service_account_id = google_service_account.pusher.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = var.pubsub_agent
}
