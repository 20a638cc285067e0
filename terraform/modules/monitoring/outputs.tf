output "alert_policies" {
  value = [
    google_monitoring_alert_policy.error_rate.name,
    google_monitoring_alert_policy.ingest_latency.name,
    google_monitoring_alert_policy.dead_letters.name,
    google_monitoring_alert_policy.retention_failures.name,
    google_monitoring_alert_policy.checkpoint_stale.name,
  ]
  description = "The alert policies created."
}
