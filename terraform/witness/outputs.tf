output "url" {
  description = "The witness's URL: the log's `witnesses` entry is { url = <this>, vkey = <what vkey_url answers> }."
  value       = google_cloudfunctions2_function.witness.service_config[0].uri
}

output "vkey_url" {
  description = "GET it for the witness's verifier key (the vkey to give the log, auditors and the Backstage plugin)."
  value       = "${google_cloudfunctions2_function.witness.service_config[0].uri}/healthz"
}

output "key_version" {
  description = "The Cloud KMS key version (EC_SIGN_ED25519) the witness cosigns with."
  value       = local.key_version
}
