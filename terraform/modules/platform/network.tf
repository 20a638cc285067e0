# Functions reach Memorystore through a Serverless VPC Access connector on this network.
resource "google_compute_network" "vpc" {
  project                 = var.project_id
  name                    = "${local.prefix}-vpc"
  auto_create_subnetworks = false
  depends_on              = [time_sleep.apis]
}

# Nothing may reach into this network; the functions and Memorystore talk inside it.
resource "google_compute_firewall" "deny_ingress" {
  project   = var.project_id
  name      = "${local.prefix}-deny-ingress"
  network   = google_compute_network.vpc.name
  direction = "INGRESS"
  priority  = 65534
  deny {
    protocol = "all"
  }
  source_ranges = ["0.0.0.0/0"]
  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_subnetwork" "functions" {
  project                  = var.project_id
  name                     = "${local.prefix}-functions"
  region                   = var.region
  network                  = google_compute_network.vpc.id
  ip_cidr_range            = "10.20.0.0/22"
  private_ip_google_access = true
  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_vpc_access_connector" "functions" {
  project       = var.project_id
  name          = local.prefix
  region        = var.region
  network       = google_compute_network.vpc.name
  ip_cidr_range = "10.20.8.0/28"
  min_instances = 2
  max_instances = var.connector_max_instances
  depends_on    = [time_sleep.apis]
}

resource "google_redis_instance" "cache" {
  project                 = var.project_id
  name                    = "${local.prefix}-cache"
  region                  = var.region
  tier                    = var.redis_tier
  memory_size_gb          = var.redis_memory_gb
  authorized_network      = google_compute_network.vpc.id
  connect_mode            = "DIRECT_PEERING"
  redis_version           = "REDIS_7_2"
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"
  labels                  = local.labels
  depends_on              = [time_sleep.apis]
}
