# Small transactional state: policies, keys, legal holds, erasures, the integrity log and the
# retention progress. A named database per environment, so two environments share a project.
locals {
  firestore_database = coalesce(var.firestore_database, "auditlog-${var.environment}")
}

resource "google_firestore_database" "state" {
  project                 = var.project_id
  name                    = local.firestore_database
  location_id             = var.region
  type                    = "FIRESTORE_NATIVE"
  concurrency_mode        = "OPTIMISTIC"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  # Seven days of point-in-time recovery (reads at any minute) where the data matters.
  point_in_time_recovery_enablement = var.point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  depends_on                        = [time_sleep.apis]
}

# The composite indexes the integrity log queries (backends/firestore_integrity.py).
resource "google_firestore_index" "staged_pending" {
  project    = var.project_id
  database   = google_firestore_database.state.name
  collection = "auditlog_integrity_staged"
  fields {
    field_path = "tenant_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "integrated"
    order      = "ASCENDING"
  }
  fields {
    field_path = "staged_at"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "staged_by_id" {
  project    = var.project_id
  database   = google_firestore_database.state.name
  collection = "auditlog_integrity_staged"
  fields {
    field_path = "tenant_id"
    order      = "ASCENDING"
  }
  fields {
    field_path   = "ids"
    array_config = "CONTAINS"
  }
}

resource "google_firestore_index" "checkpoints_latest" {
  project    = var.project_id
  database   = google_firestore_database.state.name
  collection = "auditlog_integrity_checkpoints"
  fields {
    field_path = "tenant_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "timestamp"
    order      = "DESCENDING"
  }
}

# The newest checkpoint the witness quorum has cosigned (latest_checkpoint(final=True)).
resource "google_firestore_index" "checkpoints_final" {
  project    = var.project_id
  database   = google_firestore_database.state.name
  collection = "auditlog_integrity_checkpoints"
  fields {
    field_path = "tenant_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "final"
    order      = "ASCENDING"
  }
  fields {
    field_path = "timestamp"
    order      = "DESCENDING"
  }
}

resource "google_firestore_index" "checkpoints_by_size" {
  project    = var.project_id
  database   = google_firestore_database.state.name
  collection = "auditlog_integrity_checkpoints"
  fields {
    field_path = "tenant_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "tree_size"
    order      = "ASCENDING"
  }
  fields {
    field_path = "timestamp"
    order      = "DESCENDING"
  }
}

# Claims of client-chosen audit_ids (backends/gcp/firestore_claims.py) expire by themselves after
# the idempotency window: Firestore's TTL deletes a claim once its expire_at has passed (within
# about a day), so their storage does not grow with the log.
resource "google_firestore_field" "claims_ttl" {
  project    = var.project_id
  database   = google_firestore_database.state.name
  collection = "auditlog_claims"
  field      = "expire_at"
  ttl_config {}
  # A TTL field needs no index: leaving the single-field indexes off saves a write per claim.
  index_config {}
}
