"""Administration: legal holds, erasures, retention, tenant policies."""
