# Cloud Monitoring: log-based metrics over the service's JSON log lines (terraform/README.md
# lists the log contracts), the alert policies of alerts.tf, a dashboard. Everything in PromQL
# (MQL is deprecated).

locals {
  # This environment's functions only: environments may share a project.
  runs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=~\"^${local.prefix}-\""
}

resource "google_logging_metric" "checkpoints_signed" {
  project     = var.project_id
  name        = "auditlog_${var.environment}_checkpoints_signed"
  description = "Integrity checkpoints signed (log line `checkpoint signed`)."
  filter      = "${local.runs} AND jsonPayload.event=\"checkpoint_signed\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_logging_metric" "witness_forks" {
  project     = var.project_id
  name        = "auditlog_${var.environment}_witness_forks"
  description = "Checkpoints a witness refused as inconsistent with what it cosigned before (log line `witness_refused` with fork true): the log's history changed."
  filter      = "${local.runs} AND jsonPayload.event=\"witness_refused\" AND jsonPayload.fork=true"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_logging_metric" "streams_failing" {
  project     = var.project_id
  name        = "auditlog_${var.environment}_streams_failing"
  description = "Failed deliveries of streams in state failing, and streams turning failing (log lines `stream_delivery_failed` with state failing, `stream_failing`)."
  filter      = "${local.runs} AND (jsonPayload.event=\"stream_failing\" OR (jsonPayload.event=\"stream_delivery_failed\" AND jsonPayload.state=\"failing\"))"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_logging_metric" "streams_lagging" {
  project     = var.project_id
  name        = "auditlog_${var.environment}_streams_lagging"
  description = "Streams more than 15 minutes behind (log line `stream_lagging`, at most once a minute per stream)."
  filter      = "${local.runs} AND jsonPayload.event=\"stream_lagging\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_logging_metric" "retention_failures" {
  project     = var.project_id
  name        = "auditlog_${var.environment}_retention_failures"
  description = "Retention steps that failed: logged outcome \"failed\", or the request ended 5xx (a timeout or crash logs no outcome)."
  filter      = "${local.runs} AND resource.labels.service_name=\"${var.function_names["retention"]}\" AND ((jsonPayload.event=\"retention_run\" AND jsonPayload.outcome=\"failed\") OR (log_id(\"run.googleapis.com/requests\") AND httpRequest.requestUrl:\"/api/v1/audit/retention/run\" AND httpRequest.status>=500))"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_logging_metric" "retention_completed" {
  project     = var.project_id
  name        = "auditlog_${var.environment}_retention_completed"
  description = "Retention sweeps that reached the end of the partitions (outcome \"complete\")."
  filter      = "${local.runs} AND resource.labels.service_name=\"${var.function_names["retention"]}\" AND jsonPayload.event=\"retention_run\" AND jsonPayload.outcome=\"complete\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_logging_metric" "poison_messages" {
  project     = var.project_id
  name        = "auditlog_${var.environment}_poison_messages"
  description = "Deliveries the writer refused as undecodable (log line `poison message`); after max_delivery_attempts the message dead-letters."
  filter      = "${local.runs} AND jsonPayload.event=\"poison_message\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_monitoring_alert_policy" "alert" {
  for_each     = local.alerts
  project      = var.project_id
  display_name = "auditlog ${var.environment}: ${each.value.summary}"
  combiner     = "OR"
  severity     = each.value.severity == "page" ? "CRITICAL" : "WARNING"
  user_labels  = { app = "auditlog", environment = var.environment, severity = each.value.severity }
  conditions {
    display_name = each.key
    condition_prometheus_query_language {
      query               = each.value.query
      duration            = each.value.duration
      evaluation_interval = "60s"
      rule_group          = "auditlog"
      alert_rule          = each.key
      labels              = { severity = each.value.severity }
      # Log-based metrics have no time series until their first matching line, and Cloud
      # Monitoring answers 404 for a new metric for up to 10 minutes
      # (hashicorp/terraform-provider-google#11102): do not validate the metric at creation.
      disable_metric_validation = true
    }
  }
  notification_channels = var.notification_channels
  documentation {
    subject   = each.value.summary
    content   = each.value.description
    mime_type = "text/markdown"
  }
  # And create the metrics first, so even a validating API finds them as soon as it can.
  depends_on = [
    google_logging_metric.checkpoints_signed,
    google_logging_metric.witness_forks,
    google_logging_metric.streams_failing,
    google_logging_metric.streams_lagging,
    google_logging_metric.retention_failures,
    google_logging_metric.retention_completed,
    google_logging_metric.poison_messages,
  ]
}

locals {
  # Counters (DELTA) as rates, gauges as they are, distributions as quantiles.
  widgets = [
    ["Requests per second by function and status class", "sum by (service_name, response_code_class) (rate(run_googleapis_com:request_count{${local.run},service_name=~\"${local.prefix}-.*\"}[5m]))"],
    ["p99 latency by function (ms)", "histogram_quantile(0.99, sum by (service_name, le) (rate(run_googleapis_com:request_latencies_bucket{${local.run},service_name=~\"${local.prefix}-.*\"}[5m])))"],
    ["Writer backlog (messages)", "sum(pubsub_googleapis_com:subscription_num_undelivered_messages{${local.sub},subscription_id=\"${var.writer_subscription}\"})"],
    ["Writer queue lag: oldest unacknowledged message (s)", "max(pubsub_googleapis_com:subscription_oldest_unacked_message_age{${local.sub},subscription_id=\"${var.writer_subscription}\"})"],
    ["Dead-lettered messages per 15 min", "sum(increase(pubsub_googleapis_com:subscription_dead_letter_message_count{${local.sub},subscription_id=\"${var.writer_subscription}\"}[15m]))"],
    ["Dead-letter archive backlog (messages)", "sum(pubsub_googleapis_com:subscription_num_undelivered_messages{${local.sub},subscription_id=\"${var.dead_letter_archive_subscription}\"})"],
    ["Checkpoints signed per minute", "sum(rate(${local.user}_checkpoints_signed{${local.run}}[5m])) * 60"],
    ["Poison deliveries per minute", "sum(rate(${local.user}_poison_messages{${local.run}}[5m])) * 60"],
    ["Retention: failed steps per day", "sum(increase(${local.user}_retention_failures{${local.run}}[1d]))"],
    ["Log streams: failed deliveries of failing streams per 15 min", "sum(increase(${local.user}_streams_failing{${local.run}}[15m]))"],
    ["Log streams: lagging more than 15 min (lines per 10 min)", "sum(increase(${local.user}_streams_lagging{${local.run}}[10m]))"],
    ["Retention: completed sweeps per day", "sum(increase(${local.user}_retention_completed{${local.run}}[1d]))"],
  ]
}

resource "google_monitoring_dashboard" "auditlog" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "auditlog ${var.environment}"
    gridLayout = {
      columns = 2
      widgets = [
        for w in local.widgets : {
          title   = w[0]
          xyChart = { dataSets = [{ timeSeriesQuery = { prometheusQuery = w[1] }, plotType = "LINE" }] }
        }
      ]
    }
  })
}
