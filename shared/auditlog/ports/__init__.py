"""The backend interfaces (Protocols only); implementations live under ``backends/``."""
