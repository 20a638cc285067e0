# Values are added out of band (README "Deploy to GCP"): Terraform state never holds them.
resource "google_secret_manager_secret" "cursor" {
  project   = var.project_id
  secret_id = "${local.prefix}-cursor-secret"
  labels    = { app = "auditlog", environment = var.environment }
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "signing_key" {
  project   = var.project_id
  secret_id = "${local.prefix}-signing-key"
  labels    = { app = "auditlog", environment = var.environment }
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

# The Redis URL holds Memorystore's AUTH string, so it travels as a secret too. Its value comes
# from the instance (already in Terraform state as the instance's attribute).
resource "google_secret_manager_secret" "redis_url" {
  project   = var.project_id
  secret_id = "${local.prefix}-redis-url"
  labels    = { app = "auditlog", environment = var.environment }
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "redis_url" {
  secret = google_secret_manager_secret.redis_url.id
  # TLS inside the VPC; Memorystore's server CA is not in the runtime's trust store.
  secret_data = "rediss://:${google_redis_instance.cache.auth_string}@${google_redis_instance.cache.host}:${google_redis_instance.cache.port}/0?ssl_cert_reqs=none"
}
