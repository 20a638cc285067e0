output "urls" {
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.service_config[0].uri }
  description = "Each function's HTTPS address."
}

output "names" {
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.name }
  description = "Each function's (and its Cloud Run service's) name."
}

output "service_accounts" {
  value       = { for name, sa in google_service_account.fn : name => sa.email }
  description = "Each function's identity."
}

output "gateway_service_account" {
  value       = google_service_account.gateway.email
  description = "Identity API Gateway calls the functions with."
}

output "writer_subscription" {
  value       = google_pubsub_subscription.writer.name
  description = "The writer's push subscription."
}
