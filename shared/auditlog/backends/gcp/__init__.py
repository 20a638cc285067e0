"""Google Cloud implementations of the ports: BigQuery, Pub/Sub, Firestore, Redis."""
