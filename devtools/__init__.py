"""Development tooling: local stand-ins for the GCP services, used by tests and `make run-gcp-local`."""
