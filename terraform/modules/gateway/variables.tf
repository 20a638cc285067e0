variable "project_id" {
  type        = string
  description = "Google Cloud project."
}

variable "region" {
  type        = string
  description = "Region of the gateway."
}

variable "environment" {
  type        = string
  description = "dev, staging or prod."
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "function_urls" {
  type        = map(string)
  description = "HTTPS address of each function (ingest, query, retention)."
}

variable "backend_service_account" {
  type        = string
  description = "Identity the gateway calls the functions with."
}

variable "jwt_issuer" {
  type        = string
  description = "Issuer whose JWTs the gateway accepts (x-google-issuer)."
}

variable "jwt_jwks_url" {
  type        = string
  description = "The issuer's JWKS URL (x-google-jwks_uri)."
}

variable "jwt_audience" {
  type        = string
  description = "Audience the tokens must carry (x-google-audiences)."
}
