# API Gateway in front of ingest, query and the admin routes; Backstage calls this.
# The config is openapi-gateway.yaml, generated from openapi/openapi.json by
# devtools/gateway_spec.py (a test keeps it in step), with the addresses filled in here.

resource "google_api_gateway_api" "auditlog" {
  provider     = google-beta
  project      = var.project_id
  api_id       = "auditlog-${var.environment}"
  display_name = "Audit log (${var.environment})"
}

# The API's own managed service must be enabled in the project before the gateway serves it
# ("Enabling your API" in the API Gateway quickstart).
resource "google_project_service" "api" {
  project            = var.project_id
  service            = google_api_gateway_api.auditlog.managed_service
  disable_on_destroy = false
}

resource "google_api_gateway_api_config" "auditlog" {
  provider             = google-beta
  project              = var.project_id
  api                  = google_api_gateway_api.auditlog.api_id
  api_config_id_prefix = "auditlog-${var.environment}-"
  display_name         = "Audit log (${var.environment})"

  openapi_documents {
    document {
      path = "openapi-gateway.yaml"
      contents = base64encode(templatefile("${path.module}/openapi-gateway.yaml", {
        api_title     = "Audit log (${var.environment})"
        ingest_url    = var.function_urls["ingest"]
        query_url     = var.function_urls["query"]
        retention_url = var.function_urls["retention"]
        jwt_issuer    = var.jwt_issuer
        jwt_jwks_uri  = var.jwt_jwks_url
        jwt_audience  = var.jwt_audience
      }))
    }
  }

  gateway_config {
    backend_config {
      google_service_account = var.backend_service_account
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_api_gateway_gateway" "auditlog" {
  provider     = google-beta
  project      = var.project_id
  region       = var.region
  api_config   = google_api_gateway_api_config.auditlog.id
  gateway_id   = "auditlog-${var.environment}"
  display_name = "Audit log (${var.environment})"
  depends_on   = [google_project_service.api]
}
