# What each function is told and given: only locals over variables, so tests evaluate this file
# with `terraform console` (tests/unit/test_terraform.py).

locals {
  prefix    = "auditlog-${var.environment}"
  functions = toset(["ingest", "query", "retention", "streams", "writer"])
  labels    = { app = "auditlog", environment = var.environment }

  # Retention runs in bounded steps (one range of partitions each, progress and a lease in
  # Firestore): Cloud Scheduler calls it every 15 minutes, each call stops taking new work after
  # its budget and ends within the function's timeout, which is also the scheduler's attempt
  # deadline; the next tick is the retry (retry_count 0), so attempts never overlap, and the
  # lease outlives a killed call. HANDOFF: the code's side of this contract.
  retention = {
    schedule         = var.retention_schedule
    timeout_seconds  = 840 # < the 15-minute tick; HTTP targets allow attempt deadlines up to 30 min
    budget_seconds   = 600 # stop starting BigQuery jobs after this; a job gets the rest as its timeout
    lease_seconds    = 900 # > timeout_seconds: a killed call's lease expires before the next tick after it
    attempt_deadline = "840s"
  }

  timeout_seconds = {
    ingest    = 60
    query     = 300 # exports stream up to the gateway's 300 s deadline
    retention = local.retention.timeout_seconds
    streams   = local.streams.timeout_seconds
    writer    = 60 # within the push subscription's 60 s ack deadline
  }

  # Log streams are delivered by a run every minute: each delivers for its budget, then stops
  # starting batches (one may take up to its destination's 30 s timeout); a stream's lease
  # (120 s, in the code) outlives a killed run, so two runs never deliver the same stream.
  streams = {
    schedule        = "* * * * *"
    budget_seconds  = 50
    timeout_seconds = 90
  }

  # Only API Gateway and Cloud Scheduler call ingest, query and retention from outside Google's
  # network; Pub/Sub push counts as internal (same project, run.app address), so the writer
  # takes internal traffic only. Every caller still needs run.invoker (iam.tf).
  ingress = {
    ingest    = "ALLOW_ALL"
    query     = "ALLOW_ALL"
    retention = "ALLOW_ALL"
    streams   = "ALLOW_ALL" # Cloud Scheduler, as for retention
    writer    = "ALLOW_INTERNAL_ONLY"
  }

  # Secrets each function's code reads, and nothing else: ingest and the writer need only
  # Redis; query signs cursors, retention runs the integrity job and signs checkpoints.
  secret_names = {
    ingest    = ["AUDITLOG_REDIS_URL"]
    query     = ["AUDITLOG_CURSOR_SECRET", "AUDITLOG_REDIS_URL", "AUDITLOG_SIGNING_KEY"]
    retention = ["AUDITLOG_CURSOR_SECRET", "AUDITLOG_REDIS_URL", "AUDITLOG_SIGNING_KEY"]
    streams   = ["AUDITLOG_REDIS_URL"]
    writer    = ["AUDITLOG_REDIS_URL"]
  }

  # The retention function's cloudfunctions.net address: known before the function exists, so
  # it can be both the scheduler's target and audience and the function's own setting.
  retention_url   = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.prefix}-retention"
  streams_url     = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.prefix}-streams"
  scheduler_email = "al-${var.environment}-scheduler@${var.project_id}.iam.gserviceaccount.com"

  env = {
    # "production" in every deployed environment: the code knows only development and
    # production, and development turns on the local token issuer and HS256 secrets, which a
    # deployment reachable through API Gateway must never have. Which deployment a log line
    # comes from is in its resource labels (service name auditlog-<env>-<function>).
    AUDITLOG_ENVIRONMENT              = "production"
    AUDITLOG_BACKEND                  = "gcp"
    AUDITLOG_GCP_PROJECT              = var.project_id
    AUDITLOG_PUBSUB_TOPIC             = var.topic_name
    AUDITLOG_PUBSUB_DEAD_LETTER_TOPIC = var.dead_letter_topic_name
    AUDITLOG_BIGQUERY_DATASET         = var.dataset_id
    AUDITLOG_BIGQUERY_TABLE           = var.table_id
    AUDITLOG_FIRESTORE_DATABASE       = var.firestore_database
    # PEM of Memorystore's server CAs (not a secret): the Redis client verifies the server.
    AUDITLOG_REDIS_CA_CERT = var.redis_ca_cert
    AUDITLOG_JWT_ISSUER    = var.jwt_issuer
    AUDITLOG_JWT_JWKS_URL  = var.jwt_jwks_url
    AUDITLOG_JWT_AUDIENCE  = var.jwt_audience
    # Behind API Gateway and Google's front end: the caller is two hops from the right.
    AUDITLOG_TRUSTED_PROXY_HOPS = "2"
    # Cloud KMS (iam.tf): tenant and subject keys wrapped, so a copy of Firestore alone
    # reveals none. The signing key: below, for the functions that sign checkpoints.
    AUDITLOG_KMS_WRAPPING_KEY = var.kms_wrapping_key
  }
  # Checkpoints are signed with a KMS key that cannot be exported, by the functions that hold
  # the signing secret today (query and retention); the others sign nothing.
  kms_signing = { AUDITLOG_KMS_SIGNING_KEY = var.kms_signing_key_version }
  # Who signs a checkpoint also says whether it is final: the signers know the log's origin and
  # its witnesses (the integrity job, in retention, submits to them; query serves their keys).
  integrity = merge(
    {
      AUDITLOG_LOG_ORIGIN = var.log_origin
      AUDITLOG_WITNESSES  = jsonencode([for w in var.witnesses : "${w.url} ${w.vkey}"])
    },
    var.witness_quorum == null ? {} : { AUDITLOG_WITNESS_QUORUM = tostring(var.witness_quorum) },
  )

  env_by_function = {
    ingest = local.env
    query  = merge(local.env, local.kms_signing, local.integrity)
    writer = local.env
    # Stream secrets are wrapped by the KMS key (every function may unwrap), not Secret Manager.
    streams = merge(local.env, {
      AUDITLOG_SCHEDULER_SERVICE_ACCOUNT = local.scheduler_email
      AUDITLOG_SCHEDULER_AUDIENCE        = local.streams_url
      AUDITLOG_STREAM_RUN_BUDGET_SECONDS = tostring(local.streams.budget_seconds)
    })
    retention = merge(local.env, local.kms_signing, local.integrity, {
      # Cloud Scheduler's Google ID tokens act as system_admin (retention and integrity jobs).
      AUDITLOG_SCHEDULER_SERVICE_ACCOUNT     = local.scheduler_email
      AUDITLOG_SCHEDULER_AUDIENCE            = local.retention_url
      AUDITLOG_RETENTION_RUN_BUDGET_SECONDS  = tostring(local.retention.budget_seconds)
      AUDITLOG_RETENTION_LEASE_SECONDS       = tostring(local.retention.lease_seconds)
      AUDITLOG_RETENTION_PARTITIONS_PER_STEP = tostring(var.retention_partitions_per_step)
    })
  }
}
