variable "project_id" {
  type        = string
  description = "Google Cloud project to deploy into."
}

variable "region" {
  type        = string
  description = "Region of the functions, Memorystore, Firestore, the network and the topics' messages (e.g. europe-west1)."
}

variable "environment" {
  type        = string
  description = "dev, staging or prod: names resources, so environments can share a project."
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "bigquery_location" {
  type        = string
  description = "BigQuery dataset location (EU, US or a region)."
  default     = "EU"
}

variable "dataset_id" {
  type        = string
  description = "Dataset of the events table; staging may share one, prod gets its own."
  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1023}$", var.dataset_id))
    error_message = "dataset_id must be a valid BigQuery dataset id."
  }
}

variable "table_id" {
  type        = string
  description = "The events table; the dead-letter archive is <table_id>_dead_letters beside it."
  default     = "events"
}

variable "create_dataset" {
  type        = bool
  description = "false when the dataset is shared and created elsewhere (staging)."
  default     = true
}

variable "firestore_database" {
  type        = string
  description = "Firestore database id; null for auditlog-<environment>. \"(default)\" works too, for one environment per project."
  default     = null
  validation {
    condition     = var.firestore_database == null || can(regex("^(\\(default\\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$", var.firestore_database))
    error_message = "firestore_database must be (default) or 4-63 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "point_in_time_recovery" {
  type        = bool
  description = "Firestore point-in-time recovery (7 days of versions; billed as storage)."
  default     = false
}

variable "redis_tier" {
  type        = string
  description = "Memorystore tier: BASIC (dev) or STANDARD_HA (prod, multi-zone)."
  default     = "BASIC"
  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.redis_tier)
    error_message = "redis_tier must be BASIC or STANDARD_HA."
  }
}

variable "redis_memory_gb" {
  type        = number
  description = "Memorystore size in GiB."
  default     = 1
  validation {
    condition     = var.redis_memory_gb >= 1 && var.redis_memory_gb <= 300
    error_message = "redis_memory_gb must be between 1 and 300."
  }
}

variable "connector_max_instances" {
  type        = number
  description = "Serverless VPC Access connector: most instances (3 to 10)."
  default     = 3
  validation {
    condition     = var.connector_max_instances >= 3 && var.connector_max_instances <= 10
    error_message = "connector_max_instances must be between 3 and 10."
  }
}

variable "message_retention" {
  type        = string
  description = "How long the topics keep messages (max 31 days; 7 days lets a subscription be replayed with seek)."
  default     = "604800s"
}

variable "cmek" {
  type = object({
    bigquery_key = string
    regional_key = string
  })
  description = "Optional customer-managed keys: bigquery_key in the dataset's KMS location (europe for EU), regional_key in var.region (topics, source bucket). null for Google-managed keys."
  default     = null
  validation {
    condition = var.cmek == null || alltrue([
      for key in [try(var.cmek.bigquery_key, ""), try(var.cmek.regional_key, "")] :
      can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", key))
    ])
    error_message = "cmek keys must be full Cloud KMS key names: projects/P/locations/L/keyRings/R/cryptoKeys/K."
  }
}

variable "bigquery_editions" {
  type = object({
    edition        = string
    baseline_slots = number
    max_slots      = number
  })
  description = "null: on-demand query pricing (per TiB scanned). Set to move the project's queries to a BigQuery editions reservation (STANDARD, ENTERPRISE or ENTERPRISE_PLUS) of baseline_slots, autoscaling up to max_slots (multiples of 50); docs/CAPACITY.md section 3 says when it pays."
  default     = null
  validation {
    condition = var.bigquery_editions == null || (
      contains(["STANDARD", "ENTERPRISE", "ENTERPRISE_PLUS"], try(var.bigquery_editions.edition, "")) &&
      try(var.bigquery_editions.baseline_slots, -1) >= 0 &&
      try(var.bigquery_editions.max_slots, 0) >= try(var.bigquery_editions.baseline_slots, 0) &&
      try(var.bigquery_editions.max_slots, 0) > 0 &&
      try(var.bigquery_editions.max_slots % 50, 1) == 0 && try(var.bigquery_editions.baseline_slots % 50, 1) == 0
    )
    error_message = "bigquery_editions: edition STANDARD, ENTERPRISE or ENTERPRISE_PLUS; 0 <= baseline_slots <= max_slots, max_slots > 0, both multiples of 50."
  }
}

variable "kms_protection_level" {
  description = "Where the log's signing and wrapping keys live: SOFTWARE or HSM."
  type        = string
  default     = "SOFTWARE"
  validation {
    condition     = contains(["SOFTWARE", "HSM"], var.kms_protection_level)
    error_message = "kms_protection_level is SOFTWARE or HSM."
  }
}
