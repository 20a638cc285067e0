output "url" {
  value       = "https://${google_api_gateway_gateway.auditlog.default_hostname}"
  description = "The public API address (what Backstage's proxy points at)."
}
