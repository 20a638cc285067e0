# The whole deployment of one environment. One root for all three: `environment` picks the
# profile (environments.tf), environments/<env>.tfvars says where, the state lives under its
# own prefix (deploy.sh). The modules hold the resources.

module "platform" {
  source                  = "./modules/platform"
  project_id              = var.project_id
  region                  = var.region
  environment             = var.environment
  bigquery_location       = var.bigquery_location
  dataset_id              = local.profile.dataset_id
  table_id                = local.profile.table_id
  create_dataset          = local.create_dataset
  firestore_database      = var.firestore_database
  point_in_time_recovery  = local.profile.point_in_time_recovery
  redis_tier              = local.profile.redis_tier
  redis_memory_gb         = local.profile.redis_memory_gb
  connector_max_instances = local.profile.connector_max_instances
  cmek                    = var.cmek
  bigquery_editions       = var.bigquery_editions
}

module "functions" {
  source                  = "./modules/functions"
  project_id              = module.platform.project_id
  region                  = var.region
  environment             = var.environment
  repo_root               = abspath("${path.root}/..")
  sizing                  = local.profile.sizing
  dataset_id              = module.platform.dataset_id
  table_id                = module.platform.table_id
  topic_id                = module.platform.topic_id
  topic_name              = module.platform.topic_name
  dead_letter_topic_id    = module.platform.dead_letter_topic_id
  dead_letter_topic_name  = module.platform.dead_letter_topic_name
  pubsub_agent            = module.platform.pubsub_agent
  vpc_connector_id        = module.platform.vpc_connector_id
  firestore_database      = module.platform.firestore_database
  secrets                 = module.platform.secrets
  redis_ca_cert           = module.platform.redis_ca_cert
  jwt_issuer              = var.jwt_issuer
  jwt_jwks_url            = var.jwt_jwks_url
  jwt_audience            = var.jwt_audience
  kms_key_name            = module.platform.regional_kms_key
  kms_signing_key_id      = module.platform.signing_key_id
  kms_signing_key_version = module.platform.signing_key_version
  kms_wrapping_key        = module.platform.wrapping_key
  log_origin              = coalesce(var.log_origin, "${var.project_id}.auditlog/${var.environment}")
  witnesses               = var.witnesses
  witness_quorum          = var.witness_quorum
}

module "gateway" {
  source                  = "./modules/gateway"
  project_id              = module.platform.project_id
  region                  = var.region
  environment             = var.environment
  function_urls           = module.functions.urls
  backend_service_account = module.functions.gateway_service_account
  jwt_issuer              = var.jwt_issuer
  jwt_jwks_url            = var.jwt_jwks_url
  jwt_audience            = var.jwt_audience
}

module "monitoring" {
  source                           = "./modules/monitoring"
  project_id                       = module.platform.project_id
  environment                      = var.environment
  function_names                   = module.functions.names
  writer_subscription              = module.functions.writer_subscription
  dead_letter_archive_subscription = module.platform.dead_letter_archive_subscription
  notification_channels            = var.notification_channels
}
