variable "project_id" {
  type        = string
  description = "The witness's Google Cloud project: another project than the log's, ideally another organisation's."
}

variable "region" {
  type        = string
  description = "Region of the function, its key and its Firestore database."
  default     = "europe-west1"
}

variable "name" {
  type        = string
  description = "The witness's key name in cosignatures, a schema-less URL such as witness.example.org/w1 (AUDITLOG_WITNESS_NAME)."
  validation {
    condition     = can(regex("^[^\\s+/][^\\s+]*[^\\s+/]$", var.name))
    error_message = "name: a schema-less URL without spaces, '+' or a leading or trailing slash."
  }
}

variable "logs" {
  type        = list(string)
  description = "The logs the witness accepts, each \"<origin> <key>\": an exact origin, or <prefix>/* for every tenant of a log; the key is the log's vkey or its raw Ed25519 key in hex (AUDITLOG_WITNESS_LOGS)."
  validation {
    condition     = length(var.logs) > 0 && alltrue([for log in var.logs : length(split(" ", log)) == 2])
    error_message = "logs: at least one \"<origin> <key>\", origin and key separated by one space."
  }
}

variable "repo_root" {
  type        = string
  description = "The repository's root (absolute): devtools/bundle.py builds the function's source from it during the plan."
}

variable "invokers" {
  type        = list(string)
  description = "Who may call the witness (roles/run.invoker). A C2SP witness is public: submissions are authenticated by the log's signature and accepted only from the configured logs, and anyone may read the checkpoints it cosigned. Narrow it to principals (e.g. serviceAccount:...) only if every log that submits sends a Google ID token."
  default     = ["allUsers"]
  validation {
    condition     = length(var.invokers) > 0
    error_message = "invokers: at least one member, or the log cannot reach the witness."
  }
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

variable "max_instances" {
  type        = number
  description = "Instances at most. A witness answers one small request per checkpoint per log; Firestore's transaction keeps concurrent submissions apart."
  default     = 3
}

variable "firestore_database" {
  type        = string
  description = "The Firestore database that holds what the witness cosigned (created here)."
  default     = "auditlog-witness"
}

variable "kms_protection_level" {
  type        = string
  description = "SOFTWARE or HSM: where the witness's Ed25519 key lives in Cloud KMS."
  default     = "SOFTWARE"
  validation {
    condition     = contains(["SOFTWARE", "HSM"], var.kms_protection_level)
    error_message = "kms_protection_level must be SOFTWARE or HSM."
  }
}
