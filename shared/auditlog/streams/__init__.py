"""Log streams: each tenant's events delivered to its SIEM in leaf order, verifiably (docs/STREAMS.md)."""
