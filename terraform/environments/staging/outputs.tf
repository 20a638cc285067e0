output "api_url" {
  value       = module.gateway.url
  description = "The API through API Gateway."
}

output "function_urls" {
  value       = module.functions.urls
  description = "The functions' own addresses (invokable only by the gateway, scheduler and Pub/Sub)."
}

output "cursor_secret" {
  value       = module.platform.cursor_secret_id
  description = "Add a version: 32+ random characters."
}

output "signing_key_secret" {
  value       = module.platform.signing_key_secret_id
  description = "Add a version: 64 hex characters (an Ed25519 seed)."
}
