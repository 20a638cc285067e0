output "api_url" {
  value       = module.gateway.url
  description = "The API through API Gateway."
}

output "function_urls" {
  value       = module.functions.urls
  description = "The functions' own addresses (invokable only by the gateway, scheduler and Pub/Sub)."
}

output "dead_letters_table" {
  value       = module.platform.dead_letters_table
  description = "Where dead-lettered messages are kept (replay: terraform/README.md)."
}

output "alert_policies" {
  value       = module.monitoring.alert_policies
  description = "Alert rule -> Cloud Monitoring alert policy."
}
