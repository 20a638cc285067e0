"""Reproducible benchmark of the audit log service: ``python -m bench`` (see bench/README.md)."""
