"""Audit log platform: tamper-evident, multi-tenant audit events on GCP or a laptop."""

__version__ = "0.1.0"
