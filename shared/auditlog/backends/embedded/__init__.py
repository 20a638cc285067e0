"""Embedded implementations of the ports: DuckDB, SQLite, in-memory."""
