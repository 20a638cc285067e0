variable "project_id" {
  type        = string
  description = "Google Cloud project."
}

variable "environment" {
  type        = string
  description = "dev, staging or prod."
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "function_names" {
  type        = map(string)
  description = "Cloud Function (Cloud Run service) name of ingest, query, retention and writer."
}

variable "dead_letter_subscription" {
  type        = string
  description = "Subscription holding dead-lettered messages."
}

variable "notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channel ids to page (empty: alerts only show in the console)."
  default     = []
}

variable "error_rate_threshold" {
  type        = number
  description = "Share of 5xx answers that pages (monitoring/alerts.yml uses 0.01)."
  default     = 0.01
  validation {
    condition     = var.error_rate_threshold > 0 && var.error_rate_threshold < 1
    error_message = "error_rate_threshold must be between 0 and 1."
  }
}

variable "ingest_latency_p99_ms" {
  type        = number
  description = "Ingest p99 latency that pages, in ms (monitoring/alerts.yml uses 1000)."
  default     = 1000
}
