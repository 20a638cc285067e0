# The four Cloud Functions (gen2), their sources, the writer's push subscription and the
# scheduler jobs. Identities and their grants are in iam.tf.

locals {
  prefix    = "auditlog-${var.environment}"
  functions = toset(["ingest", "query", "retention", "writer"])
  entry_points = {
    ingest    = "ingest"
    query     = "query"
    retention = "retention"
    writer    = "writer"
  }
  env = {
    AUDITLOG_ENVIRONMENT      = "production"
    AUDITLOG_BACKEND          = "gcp"
    AUDITLOG_GCP_PROJECT      = var.project_id
    AUDITLOG_PUBSUB_TOPIC     = var.topic_name
    AUDITLOG_BIGQUERY_DATASET = var.dataset_id
    AUDITLOG_BIGQUERY_TABLE   = var.table_id
    AUDITLOG_JWT_ISSUER       = var.jwt_issuer
    AUDITLOG_JWT_JWKS_URL     = var.jwt_jwks_url
    AUDITLOG_JWT_AUDIENCE     = var.jwt_audience
    # Behind API Gateway and Google's front end: the caller is two hops from the right.
    AUDITLOG_TRUSTED_PROXY_HOPS = "2"
    # Cloud Scheduler's Google ID tokens act as system_admin (retention and integrity jobs).
    AUDITLOG_SCHEDULER_SERVICE_ACCOUNT = google_service_account.scheduler.email
    AUDITLOG_SCHEDULER_AUDIENCE        = local.retention_url
  }
  # The retention function's cloudfunctions.net address: known before the function exists, so
  # it can be both the scheduler's target and audience and the function's own setting.
  retention_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.prefix}-retention"
  secrets = {
    AUDITLOG_CURSOR_SECRET = var.cursor_secret_id
    AUDITLOG_SIGNING_KEY   = var.signing_key_secret_id
    AUDITLOG_REDIS_URL     = var.redis_url_secret_id
  }
}

resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:holds only the functions' code bundles; Cloud Audit Logs record data access
  project                     = var.project_id
  name                        = "${var.project_id}-${local.prefix}-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      num_newer_versions = 5
    }
    action {
      type = "Delete"
    }
  }
  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }
  labels = { app = "auditlog", environment = var.environment }
}

data "archive_file" "source" {
  for_each    = local.functions
  type        = "zip"
  source_dir  = "${var.bundle_dir}/${each.key}"
  output_path = "${path.root}/.terraform/bundles/${each.key}.zip"
}

# Named by the zip's MD5: any code change is a new object, which redeploys the function.
resource "google_storage_bucket_object" "source" {
  for_each = local.functions
  bucket   = google_storage_bucket.sources.name
  name     = "${each.key}/${data.archive_file.source[each.key].output_md5}.zip"
  source   = data.archive_file.source[each.key].output_path
}

resource "google_cloudfunctions2_function" "fn" {
  #checkov:skip=CKV_GCP_124:API Gateway, Cloud Scheduler and Pub/Sub push reach the functions through Google's front end, which internal ingress would refuse; only the identities granted run.invoker in iam.tf may call
  for_each    = local.functions
  project     = var.project_id
  location    = var.region
  name        = "${local.prefix}-${each.key}"
  description = "auditlog ${each.key} (${var.environment})"

  build_config {
    runtime     = var.runtime
    entry_point = local.entry_points[each.key]
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.source[each.key].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.fn[each.key].email
    available_memory                 = var.sizing[each.key].memory
    available_cpu                    = var.sizing[each.key].cpu
    min_instance_count               = var.sizing[each.key].min_instances
    max_instance_count               = var.sizing[each.key].max_instances
    max_instance_request_concurrency = var.sizing[each.key].concurrency
    timeout_seconds                  = each.key == "query" ? 300 : 60
    # Only API Gateway (ingest, query), Cloud Scheduler (retention) and the Pub/Sub push
    # subscription (writer) call these, each with an identity allowed in iam.tf.
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    environment_variables          = local.env
    # Memorystore is reached through the Serverless VPC Access connector (platform module).
    vpc_connector                 = var.vpc_connector_id
    vpc_connector_egress_settings = "PRIVATE_RANGES_ONLY"

    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  labels = { app = "auditlog", environment = var.environment }

  depends_on = [google_secret_manager_secret_iam_member.accessor]
}

# The writer is invoked by a push subscription of our own rather than an Eventarc trigger:
# Eventarc creates its subscription itself, and its dead-letter policy cannot be managed here.
# functions-framework turns the push envelope into the same CloudEvent either way.
resource "google_pubsub_subscription" "writer" {
  project                    = var.project_id
  name                       = "audit-events-writer"
  topic                      = var.topic_id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
  push_config {
    push_endpoint = google_cloudfunctions2_function.fn["writer"].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.pusher.email
      audience              = google_cloudfunctions2_function.fn["writer"].service_config[0].uri
    }
  }
  dead_letter_policy {
    dead_letter_topic     = var.dead_letter_topic_id
    max_delivery_attempts = var.max_delivery_attempts
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

resource "google_cloud_scheduler_job" "retention" {
  project     = var.project_id
  region      = var.region
  name        = "${local.prefix}-retention"
  description = "Deletes events past their retention (legal holds kept)."
  schedule    = var.retention_schedule
  time_zone   = "Etc/UTC"
  http_target {
    http_method = "POST"
    uri         = "${local.retention_url}/api/v1/audit/retention/run"
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.retention_url
    }
  }
  retry_config {
    retry_count = 3
  }
  depends_on = [google_cloudfunctions2_function.fn]
}

resource "google_cloud_scheduler_job" "integrity" {
  project     = var.project_id
  region      = var.region
  name        = "${local.prefix}-integrity"
  description = "Sequences leftover staged leaves and re-signs idle tenants' checkpoints."
  schedule    = var.integrity_schedule
  time_zone   = "Etc/UTC"
  http_target {
    http_method = "POST"
    uri         = "${local.retention_url}/api/v1/audit/integrity/run"
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.retention_url
    }
  }
  depends_on = [google_cloudfunctions2_function.fn]
}
