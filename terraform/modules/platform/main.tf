# The data plane: APIs and service agents, the events table, the topics and the dead-letter
# archive, Firestore, secrets, network and Redis. One file per concern.

locals {
  prefix = "auditlog-${var.environment}"
  labels = { app = "auditlog", environment = var.environment }
  # Everything the deployment calls, enabled before anything else is created. iam and
  # cloudresourcemanager are not on by default in every new project: service accounts, custom
  # roles and project IAM need them.
  apis = [
    "apigateway.googleapis.com",
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "bigqueryreservation.googleapis.com",
    "bigquerystorage.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudkms.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "redis.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicecontrol.googleapis.com",
    "servicemanagement.googleapis.com",
    "serviceusage.googleapis.com",
    "vpcaccess.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each           = toset(local.apis)
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# An enabled API answers 403 "has not been used in project ... or it is disabled" for a short
# while after the operation completes; everything else waits for this (via output project_id).
resource "time_sleep" "apis" {
  create_duration = "60s"
  triggers        = { apis = join(",", sort(local.apis)) }
  depends_on      = [google_project_service.apis]
}

# The Pub/Sub service agent exists only once Pub/Sub first needs it; this creates it now, so
# the dead-letter, push-token, archive and CMEK grants below have a principal to name.
resource "google_project_service_identity" "pubsub" {
  provider   = google-beta
  project    = var.project_id
  service    = "pubsub.googleapis.com"
  depends_on = [time_sleep.apis]
}
