output "alert_policies" {
  value       = { for name, policy in google_monitoring_alert_policy.alert : name => policy.name }
  description = "Alert rule name -> the Cloud Monitoring alert policy."
}
