# What differs between the environments, in one place (the seed's strategy). Everything a
# deployment must say for itself (project, region, issuer) is in environments/<env>.tfvars.

locals {
  profiles = {
    dev = {
      dataset_id              = "auditlog_dev"
      table_id                = "events"
      create_dataset          = true
      redis_tier              = "BASIC"
      redis_memory_gb         = 1
      connector_max_instances = 3
      point_in_time_recovery  = false
      sizing = {
        ingest    = { memory = "512Mi", cpu = "1", min_instances = 0, max_instances = 3, concurrency = 80 }
        query     = { memory = "512Mi", cpu = "1", min_instances = 0, max_instances = 3, concurrency = 40 }
        retention = { memory = "512Mi", cpu = "1", min_instances = 0, max_instances = 2, concurrency = 4 }
        streams   = { memory = "512Mi", cpu = "1", min_instances = 0, max_instances = 2, concurrency = 1 }
        writer    = { memory = "512Mi", cpu = "1", min_instances = 0, max_instances = 3, concurrency = 8 }
      }
    }
    # Shares a dataset created beforehand (the seed's strategy); in an empty project set
    # create_dataset = true in staging.tfvars.
    staging = {
      dataset_id              = "auditlog_shared"
      table_id                = "events_staging"
      create_dataset          = false
      redis_tier              = "BASIC"
      redis_memory_gb         = 1
      connector_max_instances = 3
      point_in_time_recovery  = false
      sizing = {
        ingest    = { memory = "1Gi", cpu = "1", min_instances = 0, max_instances = 10, concurrency = 80 }
        query     = { memory = "1Gi", cpu = "1", min_instances = 0, max_instances = 10, concurrency = 40 }
        retention = { memory = "1Gi", cpu = "1", min_instances = 0, max_instances = 2, concurrency = 4 }
        streams   = { memory = "1Gi", cpu = "1", min_instances = 0, max_instances = 2, concurrency = 1 }
        writer    = { memory = "1Gi", cpu = "1", min_instances = 0, max_instances = 10, concurrency = 8 }
      }
    }
    prod = {
      dataset_id              = "auditlog_prod"
      table_id                = "events"
      create_dataset          = true
      redis_tier              = "STANDARD_HA"
      redis_memory_gb         = 5
      connector_max_instances = 10
      point_in_time_recovery  = true
      sizing = {
        ingest    = { memory = "2Gi", cpu = "2", min_instances = 1, max_instances = 100, concurrency = 80 }
        query     = { memory = "2Gi", cpu = "2", min_instances = 1, max_instances = 100, concurrency = 40 }
        retention = { memory = "2Gi", cpu = "2", min_instances = 0, max_instances = 2, concurrency = 4 }
        streams   = { memory = "2Gi", cpu = "2", min_instances = 0, max_instances = 2, concurrency = 1 }
        writer    = { memory = "2Gi", cpu = "2", min_instances = 1, max_instances = 100, concurrency = 8 }
      }
    }
  }
  profile        = local.profiles[var.environment]
  create_dataset = var.create_dataset == null ? local.profile.create_dataset : var.create_dataset
}
