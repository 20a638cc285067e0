variable "project_id" {
  type        = string
  description = "Google Cloud project to deploy into (with billing)."
}

variable "environment" {
  type        = string
  description = "dev, staging or prod: picks the profile in environments.tf and prefixes every name, so environments can share a project."
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "region" {
  type        = string
  description = "Region of the functions, gateway, Memorystore, Firestore and the topics' messages."
  default     = "europe-west1"
}

variable "bigquery_location" {
  type        = string
  description = "BigQuery dataset location (EU, US or a region)."
  default     = "EU"
}

variable "create_dataset" {
  type        = bool
  description = "Override the profile: create the events dataset (true) or use an existing one (false). null keeps the profile's (staging shares one)."
  default     = null
}

variable "firestore_database" {
  type        = string
  description = "Firestore database id; null for auditlog-<environment>."
  default     = null
}

variable "jwt_issuer" {
  type        = string
  description = "OIDC issuer of the tokens callers send."
}

variable "jwt_jwks_url" {
  type        = string
  description = "That issuer's JWKS URL (https)."
}

variable "jwt_audience" {
  type        = string
  description = "Audience the tokens carry for this API."
  default     = "auditlog"
}

variable "notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channels to page."
  default     = []
}

variable "cmek" {
  type = object({
    bigquery_key = string
    regional_key = string
  })
  description = "Optional customer-managed keys: bigquery_key in the dataset's KMS location (europe for EU), regional_key in var.region. null for Google-managed keys."
  default     = null
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

variable "log_origin" {
  type        = string
  description = "The log's origin in its checkpoints, a schema-less URL such as audit.example.com/log (each tenant's log is <origin>/<tenant>); null: <project>.auditlog/<environment>. Witnesses and auditors pin it: choose it once."
  default     = null
}

variable "witnesses" {
  type = list(object({
    url  = string
    vkey = string
  }))
  description = "Witnesses that cosign the checkpoints (terraform/witness deploys one): each one's URL (its `url` output; the log POSTs to <url>/add-checkpoint) and its vkey. Empty: checkpoints are final when signed."
  default     = []
  validation {
    condition     = alltrue([for w in var.witnesses : startswith(w.url, "https://") && length(split("+", w.vkey)) == 3])
    error_message = "witnesses: each url an https URL, each vkey <name>+<key id>+<key> as the witness's /healthz prints it."
  }
}

variable "witness_quorum" {
  type        = number
  description = "Cosignatures a checkpoint needs to be final; null: every witness."
  default     = null
  validation {
    condition     = var.witness_quorum == null || (try(var.witness_quorum >= 1, false) && try(var.witness_quorum <= length(var.witnesses), false))
    error_message = "witness_quorum: between 1 and the number of witnesses."
  }
}
