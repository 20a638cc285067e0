"""Moving queued batches into the event store."""
