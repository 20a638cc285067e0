"""Accepting events: validation, PII protection, per-subject encryption."""
