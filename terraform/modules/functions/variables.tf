variable "project_id" {
  type        = string
  description = "Google Cloud project."
}

variable "region" {
  type        = string
  description = "Region of the functions."
}

variable "environment" {
  type        = string
  description = "dev, staging or prod."
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "bundle_dir" {
  type        = string
  description = "Where `make bundle` wrote build/functions/<name>/ (relative to the root module or absolute)."
}

variable "runtime" {
  type        = string
  description = "Cloud Functions Python runtime."
  default     = "python312"
  validation {
    condition     = contains(["python311", "python312", "python313"], var.runtime)
    error_message = "runtime must be python311, python312 or python313."
  }
}

variable "sizing" {
  type = map(object({
    memory        = string
    cpu           = string
    min_instances = number
    max_instances = number
    concurrency   = number
  }))
  description = "Per function (ingest, query, retention, writer): memory (e.g. 512Mi), cpu, instances and request concurrency."
  validation {
    condition     = alltrue([for name in ["ingest", "query", "retention", "writer"] : contains(keys(var.sizing), name)])
    error_message = "sizing needs entries for ingest, query, retention and writer."
  }
}

variable "dataset_id" {
  type        = string
  description = "Dataset of the events table."
}

variable "table_id" {
  type        = string
  description = "The events table."
}

variable "topic_id" {
  type        = string
  description = "The events topic (id)."
}

variable "topic_name" {
  type        = string
  description = "The events topic (short name), AUDITLOG_PUBSUB_TOPIC."
}

variable "dead_letter_topic_id" {
  type        = string
  description = "Dead-letter topic for the writer's subscription."
}

variable "pubsub_agent" {
  type        = string
  description = "The Pub/Sub service agent member."
}

variable "max_delivery_attempts" {
  type        = number
  description = "Deliveries before dead-lettering (5 to 100)."
  default     = 10
  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "vpc_connector_id" {
  type        = string
  description = "Serverless VPC Access connector the functions reach Memorystore through."
}

variable "cursor_secret_id" {
  type        = string
  description = "Secret holding AUDITLOG_CURSOR_SECRET."
}

variable "signing_key_secret_id" {
  type        = string
  description = "Secret holding AUDITLOG_SIGNING_KEY."
}

variable "redis_url_secret_id" {
  type        = string
  description = "Secret holding AUDITLOG_REDIS_URL."
}

variable "jwt_issuer" {
  type        = string
  description = "The OIDC issuer of callers' tokens (AUDITLOG_JWT_ISSUER)."
}

variable "jwt_jwks_url" {
  type        = string
  description = "The issuer's JWKS URL, https (AUDITLOG_JWT_JWKS_URL)."
  validation {
    condition     = startswith(var.jwt_jwks_url, "https://")
    error_message = "jwt_jwks_url must be an https URL."
  }
}

variable "jwt_audience" {
  type        = string
  description = "The audience tokens carry for this API (AUDITLOG_JWT_AUDIENCE)."
}

variable "retention_schedule" {
  type        = string
  description = "Cron of the retention run (Cloud Scheduler, UTC)."
  default     = "17 3 * * *"
}

variable "integrity_schedule" {
  type        = string
  description = "Cron of the integrity run: idle checkpoints and leftover sequencing."
  default     = "* * * * *"
}

variable "kms_key_name" {
  type        = string
  description = "Optional Cloud KMS key for the source bucket."
  default     = null
}
