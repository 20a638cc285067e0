# The prod environment: thin; the modules hold the resources.

locals {
  environment = "prod"
  sizing = {
    ingest    = { memory = "2Gi", cpu = "2", min_instances = 1, max_instances = 100, concurrency = 80 }
    query     = { memory = "2Gi", cpu = "2", min_instances = 1, max_instances = 100, concurrency = 40 }
    retention = { memory = "2Gi", cpu = "2", min_instances = 0, max_instances = 2, concurrency = 4 }
    writer    = { memory = "2Gi", cpu = "2", min_instances = 1, max_instances = 100, concurrency = 8 }
  }
}

module "platform" {
  source              = "../../modules/platform"
  project_id          = var.project_id
  region              = var.region
  environment         = local.environment
  dataset_id          = "auditlog_prod"
  create_dataset      = true
  deletion_protection = true
  redis_tier          = "STANDARD_HA"
  redis_memory_gb     = 5
  kms_key_name        = var.kms_key_name
}

module "functions" {
  source                = "../../modules/functions"
  project_id            = var.project_id
  region                = var.region
  environment           = local.environment
  bundle_dir            = "${path.root}/../../../build/functions"
  sizing                = local.sizing
  dataset_id            = module.platform.dataset_id
  table_id              = module.platform.table_id
  topic_id              = module.platform.topic_id
  topic_name            = module.platform.topic_name
  dead_letter_topic_id  = module.platform.dead_letter_topic_id
  pubsub_agent          = module.platform.pubsub_agent
  vpc_connector_id      = module.platform.vpc_connector_id
  cursor_secret_id      = module.platform.cursor_secret_id
  signing_key_secret_id = module.platform.signing_key_secret_id
  redis_url_secret_id   = module.platform.redis_url_secret_id
  jwt_issuer            = var.jwt_issuer
  jwt_jwks_url          = var.jwt_jwks_url
  jwt_audience          = var.jwt_audience
  kms_key_name          = var.kms_key_name
}

module "gateway" {
  source                  = "../../modules/gateway"
  project_id              = var.project_id
  region                  = var.region
  environment             = local.environment
  function_urls           = module.functions.urls
  backend_service_account = module.functions.gateway_service_account
  jwt_issuer              = var.jwt_issuer
  jwt_jwks_url            = var.jwt_jwks_url
  jwt_audience            = var.jwt_audience
}

module "monitoring" {
  source                   = "../../modules/monitoring"
  project_id               = var.project_id
  environment              = local.environment
  function_names           = { for name in ["ingest", "query", "retention", "writer"] : name => "auditlog-${local.environment}-${name}" }
  dead_letter_subscription = module.platform.dead_letter_subscription
  notification_channels    = var.notification_channels
}
