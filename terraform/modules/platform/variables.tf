variable "project_id" {
  type        = string
  description = "Google Cloud project to deploy into."
}

variable "region" {
  type        = string
  description = "Region of the functions, Memorystore and the network (e.g. europe-west1)."
}

variable "environment" {
  type        = string
  description = "dev, staging or prod: names resources and picks sizes."
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
  default     = "auditlog"
  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1023}$", var.dataset_id))
    error_message = "dataset_id must be a valid BigQuery dataset id."
  }
}

variable "table_id" {
  type        = string
  description = "The events table."
  default     = "events"
}

variable "create_dataset" {
  type        = bool
  description = "false when the dataset is shared and created elsewhere (staging)."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the events table from terraform destroy."
  default     = true
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

variable "message_retention" {
  type        = string
  description = "How long Pub/Sub keeps undelivered messages (max 7 days)."
  default     = "604800s"
}

variable "max_delivery_attempts" {
  type        = number
  description = "Deliveries before a message goes to the dead-letter topic (5 to 100)."
  default     = 10
  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "kms_key_name" {
  type        = string
  description = "Optional Cloud KMS key for the dataset, topics and secrets (CMEK); null for Google-managed keys."
  default     = null
}
