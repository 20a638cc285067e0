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

variable "writer_subscription" {
  type        = string
  description = "The writer's push subscription (queue lag, dead-lettering)."
}

variable "dead_letter_archive_subscription" {
  type        = string
  description = "The BigQuery subscription archiving dead letters."
}

variable "notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channel ids to page (empty: alerts only show in the console)."
  default     = []
}
