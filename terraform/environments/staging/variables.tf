variable "project_id" {
  type        = string
  description = "Google Cloud project to deploy into."
}

variable "region" {
  type        = string
  description = "Region of the functions, gateway, Memorystore and Firestore."
  default     = "europe-west1"
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

variable "kms_key_name" {
  type        = string
  description = "Optional Cloud KMS key (CMEK) for data at rest; null for Google-managed keys."
  default     = null
}
