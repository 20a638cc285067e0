# One service account per function, each with only what its code does. No primitive roles,
# nothing granted to allUsers or allAuthenticatedUsers.
#
#   ingest    publishes to the events topic; Firestore (tenant policies); Redis URL.
#   query     reads the events table and runs query jobs; Firestore (policies, integrity log);
#             publishes its own audit records of reads; all three secrets.
#   retention deletes expired rows (DML: read + updateData on the table, query jobs);
#             Firestore (holds, erasures, integrity, retention progress and lease); publishes
#             its audit records; all three secrets.
#   writer    appends to the events table through the Storage Write API (updateData, no
#             bigquery.jobUser: it can run no DML, so it can only append); Firestore
#             (integrity staging); Redis URL.
#
# No runtime identity can delete the events table, change its schema, expiration or policy:
# every role bound to it is one of the custom roles below (a test checks their permissions).

resource "google_service_account" "fn" {
  for_each     = local.functions
  project      = var.project_id
  account_id   = "al-${var.environment}-${each.key}"
  display_name = "auditlog ${each.key} (${var.environment})"
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = split("@", local.scheduler_email)[0]
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

# Cloud Build runs the functions' builds as this account: build logs, the images in Artifact
# Registry (gcf-artifacts), and the uploaded sources (the roles Cloud Run documents for a
# user-specified build service account).
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "al-${var.environment}-build"
  display_name = "auditlog function builds (${var.environment})"
}

resource "google_project_iam_member" "build" {
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectAdmin"])
  project  = var.project_id
  role     = each.value
  member   = google_service_account.build.member
}

# Publishing: ingest (events), query and retention (their own audit records).
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = toset(["ingest", "query", "retention"])
  project  = var.project_id
  topic    = var.topic_name
  role     = "roles/pubsub.publisher"
  member   = google_service_account.fn[each.key].member
}

# BigQuery, on the events table only, through custom roles that hold table-data permissions and
# nothing else (bigquery.tables.update, .delete, .setIamPolicy ... are in no role here).
locals {
  table_roles = {
    appender = {
      title = "auditlog events appender (${var.environment})"
      # updateData: Storage Write API appends; get: table metadata (readiness ping).
      permissions = ["bigquery.tables.get", "bigquery.tables.updateData"]
      functions   = ["writer"]
    }
    reader = {
      title       = "auditlog events reader (${var.environment})"
      permissions = ["bigquery.tables.get", "bigquery.tables.getData"]
      functions   = ["query", "streams"] # streams: the records of the leaves it delivers
    }
    retention = {
      title = "auditlog events retention (${var.environment})"
      # What DELETE ... WHERE needs: read the rows it tests, change the table's data.
      permissions = ["bigquery.tables.get", "bigquery.tables.getData", "bigquery.tables.updateData"]
      functions   = ["retention"]
    }
  }
  table_grants = merge([
    for role, spec in local.table_roles : { for fn in spec.functions : "${role}-${fn}" => { role = role, function = fn } }
  ]...)
}

resource "google_project_iam_custom_role" "table" {
  for_each    = local.table_roles
  project     = var.project_id
  role_id     = "auditlog_${var.environment}_events_${each.key}"
  title       = each.value.title
  description = "Granted on the events table only; table data, never the table itself."
  permissions = each.value.permissions
}

resource "google_bigquery_table_iam_member" "events" {
  for_each   = local.table_grants
  project    = var.project_id
  dataset_id = var.dataset_id
  table_id   = var.table_id
  role       = google_project_iam_custom_role.table[each.value.role].name
  member     = google_service_account.fn[each.value.function].member
}

# Running query jobs: query, retention and streams. The writer has none, so it cannot run DML.
resource "google_project_iam_member" "jobs" {
  for_each = toset(["query", "retention", "streams"])
  project  = var.project_id
  role     = "roles/bigquery.jobUser"
  member   = google_service_account.fn[each.key].member
}

# Firestore has project-level IAM only; the condition keeps each environment's functions to
# their own database when environments share a project.
resource "google_project_iam_member" "firestore" {
  for_each = local.functions
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = google_service_account.fn[each.key].member
  condition {
    title       = "auditlog-${var.environment} database only"
    description = "The ${var.firestore_database} Firestore database."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${var.firestore_database}\" || resource.name.startsWith(\"projects/${var.project_id}/databases/${var.firestore_database}/\")"
  }
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = merge([
    for fn in local.functions : { for name in local.secret_names[fn] : "${fn}-${name}" => { function = fn, secret = var.secrets[name].secret } }
  ]...)
  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.fn[each.value.function].member
}

# IAM grants take a while to be seen everywhere; a function deploy checks its identity's
# secret access and runs its build as the build account right away.
resource "time_sleep" "grants" {
  create_duration = "60s"
  triggers = {
    accessors = join(",", sort(keys(google_secret_manager_secret_iam_member.accessor)))
    build     = join(",", sort(keys(google_project_iam_member.build)))
  }
  depends_on = [
    google_project_iam_member.firestore,
    google_project_iam_member.jobs,
    google_bigquery_table_iam_member.events,
    google_pubsub_topic_iam_member.publisher,
  ]
}

# Who may invoke which function (their Cloud Run services).
locals {
  invokers = {
    "ingest-gateway"      = { function = "ingest", member = google_service_account.gateway.member }
    "query-gateway"       = { function = "query", member = google_service_account.gateway.member }
    "retention-gateway"   = { function = "retention", member = google_service_account.gateway.member }
    "retention-scheduler" = { function = "retention", member = google_service_account.scheduler.member }
    "streams-scheduler"   = { function = "streams", member = google_service_account.scheduler.member }
    "writer-pusher"       = { function = "writer", member = google_service_account.pusher.member }
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

# Cloud KMS: the functions that sign checkpoints (the same that hold AUDITLOG_SIGNING_KEY) may
# sign with the log's key and read its public half, nothing else; every function may wrap and
# unwrap tenant and subject keys. No identity here may destroy, export or re-import a key.
resource "google_kms_crypto_key_iam_member" "signing" {
  for_each      = toset([for fn in local.functions : fn if contains(local.secret_names[fn], "AUDITLOG_SIGNING_KEY")])
  crypto_key_id = var.kms_signing_key_id
  role          = "roles/cloudkms.signerVerifier"
  member        = google_service_account.fn[each.key].member
}

resource "google_kms_crypto_key_iam_member" "wrapping" {
  for_each      = local.functions
  crypto_key_id = var.kms_wrapping_key
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = google_service_account.fn[each.key].member
}
