# The alert policies are the rules of monitoring/alerts.yml: name, `for`, severity, summary and
# description are read from that file; only the PromQL differs, because Cloud Monitoring has
# Cloud Run's, Pub/Sub's and log-based metrics instead of the service's /metrics. A rule added
# there without its twin here fails the plan (local.promql has no entry). Only locals over
# variables: tests evaluate this file with `terraform console`.

locals {
  prefix = "auditlog-${var.environment}"
  run    = "monitored_resource=\"cloud_run_revision\""
  sub    = "monitored_resource=\"pubsub_subscription\""
  # The API functions: the writer is not one, and answers 500 on purpose to have Pub/Sub
  # redeliver (poison messages count in the dead-letter alert instead).
  api = "service_name=~\"${local.prefix}-(ingest|query|retention)\""
  # Log-based metrics (main.tf) in PromQL: logging.googleapis.com/user/<name>.
  user = "logging_googleapis_com:user_auditlog_${var.environment}"

  rules = {
    for rule in yamldecode(file("${path.module}/../../../monitoring/alerts.yml")).groups[0].rules : rule.alert => rule
  }

  promql = {
    AuditLogHighErrorRate = <<-EOT
      sum(rate(run_googleapis_com:request_count{${local.run},${local.api},response_code_class="5xx"}[5m]))
        / clamp_min(sum(rate(run_googleapis_com:request_count{${local.run},${local.api}}[5m])), 1e-9) > 0.01
    EOT
    # Cloud Run reports latency in milliseconds.
    AuditLogIngestLatencyHigh = <<-EOT
      histogram_quantile(0.99,
        sum by (le) (rate(run_googleapis_com:request_latencies_bucket{${local.run},service_name="${local.prefix}-ingest"}[5m]))
      ) > 1000
    EOT
    # The oldest message the writer has not acknowledged, in seconds. (alerts.yml's second
    # clause, queue depth in events, has no Pub/Sub twin: a message holds a whole batch.)
    AuditLogQueueLagHigh = <<-EOT
      max(pubsub_googleapis_com:subscription_oldest_unacked_message_age{${local.sub},subscription_id="${var.writer_subscription}"}) > 5
    EOT
    # Messages Pub/Sub moved to the dead-letter topic (they are archived in BigQuery).
    AuditLogDeadLetters = <<-EOT
      sum(increase(pubsub_googleapis_com:subscription_dead_letter_message_count{${local.sub},subscription_id="${var.writer_subscription}"}[15m])) > 0
    EOT
    # No checkpoint signed for 5 minutes, in a deployment that has signed one this week (before
    # the first tenant writes there is nothing to sign: alerts.yml's age is -1 then).
    AuditLogCheckpointStale = <<-EOT
      absent_over_time(${local.user}_checkpoints_signed{${local.run}}[5m])
        and on() (count_over_time(${local.user}_checkpoints_signed{${local.run}}[7d]) > 0)
    EOT
    # A witness refused a checkpoint as a fork (the integrity job logs `witness_refused`).
    AuditLogWitnessRefusedFork = <<-EOT
      sum(increase(${local.user}_witness_forks{${local.run}}[15m])) > 0
    EOT
    # A failing stream logs each failed attempt (at most every 5 minutes with the back-off)
    # with its state; `stream_failing` when it turns failing.
    AuditLogStreamFailing = <<-EOT
      sum(increase(${local.user}_streams_failing{${local.run}}[15m])) > 0
    EOT
    # Delivery logs `stream_lagging` at most once a minute per stream while it is 15 min behind.
    AuditLogStreamLagging = <<-EOT
      sum(increase(${local.user}_streams_lagging{${local.run}}[10m])) > 0
    EOT
    # Runs that logged outcome "failed", and runs that never logged because they timed out or
    # crashed (their request answered 5xx).
    AuditLogRetentionFailing = <<-EOT
      sum(increase(${local.user}_retention_failures{${local.run}}[1d])) > 0
    EOT
  }

  seconds = { s = 1, m = 60, h = 3600, d = 86400 }
  from_alerts_yml = {
    for name, rule in local.rules : name => {
      query       = trimspace(local.promql[name])
      duration    = "${try(tonumber(regex("^(\\d+)[smhd]$", rule["for"])[0]) * local.seconds[regex("[smhd]$", rule["for"])], 0)}s"
      severity    = rule.labels.severity
      summary     = rule.annotations.summary
      description = rule.annotations.description
    }
  }

  # Alerts only the GCP deployment needs (what they watch does not exist locally).
  gcp_only = {
    AuditLogRetentionStalled = {
      # Retention runs in steps every 15 minutes; a sweep over all partitions ends with a
      # `complete` line at least daily. 26 h without one: stuck, failing or never finishing.
      query       = "absent_over_time(${local.user}_retention_completed{${local.run}}[26h])"
      duration    = "3600s" # a new deployment completes its first sweep well within the hour
      severity    = "ticket"
      summary     = "No retention sweep completed for 26 hours"
      description = "Expired events are kept past their retention. Look at the retention function's `retention_run` log lines (outcome, the partition it stopped at) and at the Firestore lease."
    }
    AuditLogDeadLetterArchiveStalled = {
      query       = "max(pubsub_googleapis_com:subscription_oldest_unacked_message_age{${local.sub},subscription_id=\"${var.dead_letter_archive_subscription}\"}) > 3600"
      duration    = "600s"
      severity    = "page"
      summary     = "Dead letters are not reaching their BigQuery archive"
      description = "The archive subscription cannot write to the dead_letters table (its state and BigQuery's error are in the subscription's details). Messages wait there for 7 days, then are lost: fix it before."
    }
  }

  alerts = merge(local.from_alerts_yml, local.gcp_only)
}
