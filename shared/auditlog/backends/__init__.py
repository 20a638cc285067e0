"""Backend implementations, one module each. ``auditlog.runtime`` picks them from settings."""
