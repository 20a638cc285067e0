# The Cloud Monitoring side of monitoring/alerts.yml (same alerts, same thresholds), on Cloud Run's
# built-in request metrics, Pub/Sub's subscription metrics, and log-based metrics over the
# service's JSON log lines (terraform/README.md lists the log contracts they rely on).

locals {
  run = "resource.type = \"cloud_run_revision\""
}

resource "google_logging_metric" "checkpoints_signed" {
  project     = var.project_id
  name        = "auditlog_${var.environment}_checkpoints_signed"
  description = "Integrity checkpoints signed (log line `checkpoint signed`)."
  filter      = "${local.run} AND jsonPayload.event=\"checkpoint_signed\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_logging_metric" "retention_failures" {
  project     = var.project_id
  name        = "auditlog_${var.environment}_retention_failures"
  description = "Retention runs answered with 5xx (request log line of runRetention)."
  filter      = "${local.run} AND resource.labels.service_name=\"${var.function_names["retention"]}\" AND jsonPayload.route=\"runRetention\" AND jsonPayload.status>=500"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_logging_metric" "poison_messages" {
  project     = var.project_id
  name        = "auditlog_${var.environment}_poison_messages"
  description = "Messages the writer cannot decode (log line `poison message`); they dead-letter."
  filter      = "${local.run} AND jsonPayload.event=\"poison_message\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_monitoring_alert_policy" "error_rate" {
  project      = var.project_id
  display_name = "auditlog ${var.environment}: 5xx ratio above ${var.error_rate_threshold * 100}%"
  combiner     = "OR"
  conditions {
    display_name = "5xx ratio"
    condition_monitoring_query_language {
      duration = "300s"
      query    = <<-MQL
        fetch cloud_run_revision
        | metric 'run.googleapis.com/request_count'
        | filter resource.service_name =~ 'auditlog-${var.environment}-.*'
        | align rate(5m)
        | group_by [], [errors: sum(if(metric.response_code_class == '5xx', val(), 0.0)), all: sum(val())]
        | value [ratio: errors / all]
        | condition ratio > ${var.error_rate_threshold}
      MQL
    }
  }
  notification_channels = var.notification_channels
  documentation {
    content = "More than ${var.error_rate_threshold * 100}% of API requests fail. Find `unhandled error` log lines by request_id; check /readyz. See README, Operating it."
  }
}

resource "google_monitoring_alert_policy" "ingest_latency" {
  project      = var.project_id
  display_name = "auditlog ${var.environment}: ingest p99 above ${var.ingest_latency_p99_ms} ms"
  combiner     = "OR"
  conditions {
    display_name = "ingest p99 latency"
    condition_threshold {
      filter          = "${local.run} AND resource.labels.service_name=\"${var.function_names["ingest"]}\" AND metric.type=\"run.googleapis.com/request_latencies\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.ingest_latency_p99_ms
      duration        = "600s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_PERCENTILE_99"
      }
    }
  }
  notification_channels = var.notification_channels
  documentation {
    content = "Writers block on the audit log. Look at the writer's backlog and Pub/Sub publish latency."
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project      = var.project_id
  display_name = "auditlog ${var.environment}: messages in the dead-letter subscription"
  combiner     = "OR"
  conditions {
    display_name = "dead-letter backlog"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${var.dead_letter_subscription}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "60s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
  notification_channels = var.notification_channels
  documentation {
    content = "Nothing is lost: the messages wait intact in the dead-letter subscription. Find them by message_id in `poison message` log lines, fix the cause, republish."
  }
}

resource "google_monitoring_alert_policy" "retention_failures" {
  project      = var.project_id
  display_name = "auditlog ${var.environment}: retention run failed"
  combiner     = "OR"
  conditions {
    display_name = "retention failures"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.retention_failures.name}\" AND ${local.run}"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "3600s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
  notification_channels = var.notification_channels
  documentation {
    content = "Expired events stay longer than their retention until a run succeeds. Look at the retention function's logs."
  }
}

resource "google_monitoring_alert_policy" "checkpoint_stale" {
  project      = var.project_id
  display_name = "auditlog ${var.environment}: no integrity checkpoint signed for 10 minutes"
  combiner     = "OR"
  conditions {
    display_name = "checkpoints stopped"
    condition_absent {
      filter   = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.checkpoints_signed.name}\" AND ${local.run}"
      duration = "600s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
  notification_channels = var.notification_channels
  documentation {
    content = "Idle tenants are re-signed every minute by the integrity scheduler job, so sequencing stopped: new events are not provable. Check the integrity job and the writer's logs."
  }
}

resource "google_monitoring_dashboard" "auditlog" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "auditlog ${var.environment}"
    gridLayout = {
      columns = 2
      widgets = [
        for w in [
          ["Requests by function", "metric.type=\"run.googleapis.com/request_count\" AND ${local.run}"],
          ["Request latency", "metric.type=\"run.googleapis.com/request_latencies\" AND ${local.run}"],
          ["Writer backlog", "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\""],
          ["Dead-letter backlog", "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id=\"${var.dead_letter_subscription}\""],
          ["Checkpoints signed", "metric.type=\"logging.googleapis.com/user/${google_logging_metric.checkpoints_signed.name}\""],
          ["Poison messages", "metric.type=\"logging.googleapis.com/user/${google_logging_metric.poison_messages.name}\""],
          ] : {
          title = w[0]
          xyChart = {
            dataSets = [{ timeSeriesQuery = { timeSeriesFilter = { filter = w[1], aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE" } } } }]
          }
        }
      ]
    }
  })
}
