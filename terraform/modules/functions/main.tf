# The four Cloud Functions (gen2), their sources, the writer's push subscription and the
# scheduler jobs. What each function is told is in settings.tf; identities and grants in iam.tf.

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
  labels = local.labels
}

# The bundles are built by the plan itself, from the working tree: devtools/bundle.py writes
# build/functions/<name>/ and a reproducible zip of it (fixed timestamps and order), and answers
# with each zip's path and MD5. So what is deployed is what the sources are now; a stale build/
# cannot ship. Needs python3 (3.11+, standard library only) where terraform runs.
data "external" "bundle" {
  program = ["python3", "${var.repo_root}/devtools/bundle.py", "--terraform"]
  query = {
    out = "${var.repo_root}/build/functions"
  }
}

# Named by the zip's MD5: any code change is a new object, which redeploys the function.
resource "google_storage_bucket_object" "source" {
  for_each = local.functions
  bucket   = google_storage_bucket.sources.name
  name     = "${each.key}/${data.external.bundle.result["${each.key}_md5"]}.zip"
  source   = data.external.bundle.result["${each.key}_zip"]
}

resource "google_cloudfunctions2_function" "fn" {
  #checkov:skip=CKV_GCP_124:API Gateway and Cloud Scheduler reach ingest, query and retention through Google's front end, which internal ingress would refuse; the writer is internal-only (settings.tf), and only the identities granted run.invoker in iam.tf may call any of them
  for_each    = local.functions
  project     = var.project_id
  location    = var.region
  name        = "${local.prefix}-${each.key}"
  description = "auditlog ${each.key} (${var.environment})"

  build_config {
    runtime     = var.runtime
    entry_point = each.key
    # Our own build identity: organisations that disable the default Cloud Build grants (and
    # projects created since July 2024) fail the build with the default one.
    service_account = google_service_account.build.id
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
    timeout_seconds                  = local.timeout_seconds[each.key]
    ingress_settings                 = local.ingress[each.key]
    all_traffic_on_latest_revision   = true
    environment_variables            = local.env_by_function[each.key]
    # Memorystore is reached through the Serverless VPC Access connector (platform module).
    vpc_connector                 = var.vpc_connector_id
    vpc_connector_egress_settings = "PRIVATE_RANGES_ONLY"

    dynamic "secret_environment_variables" {
      for_each = { for name in local.secret_names[each.key] : name => var.secrets[name] }
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version
      }
    }
  }

  labels = local.labels

  # Deploying checks that the runtime identity can read its secrets and the build identity can
  # build: wait until those grants have propagated.
  depends_on = [time_sleep.grants]
}

# The writer is invoked by a push subscription of our own rather than an Eventarc trigger:
# Eventarc creates its subscription itself, and its dead-letter policy cannot be managed here.
# functions-framework turns the push envelope into the same CloudEvent either way.
resource "google_pubsub_subscription" "writer" {
  project                    = var.project_id
  name                       = "${local.prefix}-writer"
  topic                      = var.topic_id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  labels                     = local.labels
  expiration_policy {
    ttl = ""
  }
  push_config {
    # The run.app address: Pub/Sub push to it counts as internal traffic (ingress, settings.tf).
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
  lifecycle {
    prevent_destroy = true
  }
}

resource "google_cloud_scheduler_job" "retention" {
  project     = var.project_id
  region      = var.region
  name        = "${local.prefix}-retention"
  description = "One bounded step of retention (expired events deleted, legal holds kept); resumes where the last step stopped."
  schedule    = local.retention.schedule
  time_zone   = "Etc/UTC"
  # As long as the function may run, and shorter than the tick; no retries: the next tick is
  # the retry, so two attempts never overlap (the Firestore lease refuses one anyway).
  attempt_deadline = local.retention.attempt_deadline
  retry_config {
    retry_count = 0
  }
  http_target {
    http_method = "POST"
    uri         = "${local.retention_url}/api/v1/audit/retention/run"
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.retention_url
    }
  }
  depends_on = [google_cloudfunctions2_function.fn, google_cloud_run_v2_service_iam_member.invoker]
}

resource "google_cloud_scheduler_job" "integrity" {
  project     = var.project_id
  region      = var.region
  name        = "${local.prefix}-integrity"
  description = "Sequences leftover staged leaves and re-signs idle tenants' checkpoints."
  schedule    = var.integrity_schedule
  time_zone   = "Etc/UTC"
  # Every minute; a failed run is simply the next minute's work.
  attempt_deadline = "120s"
  retry_config {
    retry_count = 0
  }
  http_target {
    http_method = "POST"
    uri         = "${local.retention_url}/api/v1/audit/integrity/run"
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.retention_url
    }
  }
  depends_on = [google_cloudfunctions2_function.fn, google_cloud_run_v2_service_iam_member.invoker]
}

# Log streams: one delivery run a minute (docs/STREAMS.md); each stream is leased by one run at
# a time, so a slow or killed run never makes two deliver the same stream.
resource "google_cloud_scheduler_job" "streams" {
  project          = var.project_id
  region           = var.region
  name             = "${local.prefix}-streams"
  description      = "Delivers every log stream's backlog for up to its budget."
  schedule         = local.streams.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "${local.streams.timeout_seconds}s"
  retry_config {
    retry_count = 0
  }
  http_target {
    http_method = "POST"
    uri         = "${local.streams_url}/api/v1/audit/streams/run"
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.streams_url
    }
  }
  depends_on = [google_cloudfunctions2_function.fn, google_cloud_run_v2_service_iam_member.invoker]
}
