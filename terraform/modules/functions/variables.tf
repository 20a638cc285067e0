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

variable "repo_root" {
  type        = string
  description = "The repository's root (absolute): devtools/bundle.py builds the function sources from it during the plan."
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
  description = "Per function (ingest, query, retention, streams, writer): memory (e.g. 512Mi), cpu, instances and request concurrency."
  validation {
    condition     = alltrue([for name in ["ingest", "query", "retention", "streams", "writer"] : contains(keys(var.sizing), name)])
    error_message = "sizing needs entries for ingest, query, retention, streams and writer."
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

variable "dead_letter_topic_name" {
  type        = string
  description = "Dead-letter topic (short name), AUDITLOG_PUBSUB_DEAD_LETTER_TOPIC."
}

variable "pubsub_agent" {
  type        = string
  description = "The Pub/Sub service agent, as an IAM member."
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

variable "firestore_database" {
  type        = string
  description = "Firestore database id (AUDITLOG_FIRESTORE_DATABASE)."
}

variable "secrets" {
  type = map(object({
    secret  = string
    version = string
  }))
  description = "Secret setting (AUDITLOG_CURSOR_SECRET, AUDITLOG_SIGNING_KEY, AUDITLOG_REDIS_URL) -> Secret Manager secret id and version."
  validation {
    condition     = alltrue([for name in ["AUDITLOG_CURSOR_SECRET", "AUDITLOG_SIGNING_KEY", "AUDITLOG_REDIS_URL"] : contains(keys(var.secrets), name)])
    error_message = "secrets needs AUDITLOG_CURSOR_SECRET, AUDITLOG_SIGNING_KEY and AUDITLOG_REDIS_URL."
  }
}

variable "redis_ca_cert" {
  type        = string
  description = "PEM of Memorystore's server CAs (AUDITLOG_REDIS_CA_CERT)."
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
  description = "Cron of the retention steps (Cloud Scheduler, UTC). Each step is bounded; a sweep of all partitions takes several."
  default     = "*/15 * * * *"
  validation {
    condition     = can(regex("^\\*/(15|20|30) \\* \\* \\* \\*$", var.retention_schedule))
    error_message = "retention_schedule must be every 15, 20 or 30 minutes: each step may run 14 minutes, and a sweep must finish within a day."
  }
}

variable "retention_partitions_per_step" {
  type        = number
  description = "Most partition days one retention step deletes from (AUDITLOG_RETENTION_PARTITIONS_PER_STEP)."
  default     = 31
  validation {
    condition     = var.retention_partitions_per_step >= 1 && var.retention_partitions_per_step <= 366
    error_message = "retention_partitions_per_step must be between 1 and 366."
  }
}

variable "integrity_schedule" {
  type        = string
  description = "Cron of the integrity run: idle checkpoints and leftover sequencing."
  default     = "* * * * *"
}

variable "kms_key_name" {
  type        = string
  description = "Optional Cloud KMS key (in var.region) for the source bucket; null for Google-managed."
  default     = null
}

variable "kms_signing_key_id" {
  description = "The Cloud KMS key (EC_SIGN_ED25519) that signs checkpoints."
  type        = string
}

variable "kms_signing_key_version" {
  description = "Its version in use (AUDITLOG_KMS_SIGNING_KEY)."
  type        = string
}

variable "kms_wrapping_key" {
  description = "The Cloud KMS key that wraps tenant and subject keys (AUDITLOG_KMS_WRAPPING_KEY)."
  type        = string
}

variable "log_origin" {
  description = "The log's origin in its checkpoints (AUDITLOG_LOG_ORIGIN); each tenant's log is <origin>/<tenant>. Witnesses and auditors pin it: never change it."
  type        = string
}

variable "witnesses" {
  description = "Witnesses that cosign the checkpoints (AUDITLOG_WITNESSES): each one's URL (the log POSTs to <url>/add-checkpoint) and vkey. Empty: checkpoints are final when signed."
  type = list(object({
    url  = string
    vkey = string
  }))
  default = []
}

variable "witness_quorum" {
  description = "Cosignatures a checkpoint needs to be final (AUDITLOG_WITNESS_QUORUM); null: every witness."
  type        = number
  default     = null
}
