"""Operators' tools that open the backends without a running service: creating the GCP topology
and table, replaying dead letters, and the stores the verifier reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from auditlog.errors import ConfigurationError
from auditlog.ledger.checkpoints import Ed25519Signer, key_id_of
from auditlog.ports.integrity import IntegrityStore
from auditlog.ports.store import EventStore
from auditlog.runtime.keys import SIGNING_KEY_FILE, retired_public_keys, signing_key
from auditlog.settings import Backend, Settings


def bootstrap_gcp(
    settings: Settings,
    *,
    push_endpoint: str | None,
    writer_subscription: str,
    max_delivery_attempts: int,
    minimum_backoff_seconds: float | None = 10.0,
) -> None:
    """Create the topic, subscriptions and events table (dev and emulator projects; Terraform
    creates them in real ones)."""
    from auditlog.backends.gcp.bigquery_store import ensure_events_table
    from auditlog.backends.gcp.clients import bigquery_client
    from auditlog.backends.gcp.pubsub_topology import ensure_topology

    ensure_events_table(bigquery_client(settings), settings.bigquery_dataset, settings.bigquery_table)
    ensure_topology(
        settings.gcp_project,
        settings.pubsub_topic,
        settings.pubsub_dead_letter_topic,
        writer_subscription,
        push_endpoint,
        max_delivery_attempts,
        minimum_backoff_seconds=minimum_backoff_seconds,
    )


def replay_dead_letters(
    settings: Settings,
    table: str,
    topic: str,
    *,
    since: datetime,
    message_ids: list[str] | None,
    dry_run: bool,
) -> list[tuple[str, str | None]]:
    """The archived dead letters (``table``, ``PROJECT.DATASET.TABLE``) published again to
    ``topic``; (archived id, new id or None in a dry run) for each (backends/gcp/dead_letters.py)."""
    from auditlog.backends.gcp.clients import bigquery_client
    from auditlog.backends.gcp.dead_letters import dead_letters, replay
    from auditlog.backends.gcp.pubsub_queue import publisher_for_throughput

    letters = dead_letters(bigquery_client(settings), table, since=since, message_ids=message_ids)
    if dry_run:
        return [(d.message_id, None) for d in letters]
    publisher = publisher_for_throughput()
    try:
        path = topic if topic.startswith("projects/") else publisher.topic_path(settings.gcp_project, topic)
        return [(old, new) for old, new in replay(publisher, path, letters)]
    finally:
        publisher.stop()


@dataclass
class VerificationSources:
    """What the verifier reads, opened directly (not through a running server)."""

    store: EventStore
    integrity: IntegrityStore
    public_keys: dict[str, bytes]

    def close(self) -> None:
        self.store.close()
        self.integrity.close()


def open_for_verification(settings: Settings, public_keys: list[bytes] | None = None) -> VerificationSources:
    """The event store read-only and the integrity store. The trusted keys are ``public_keys``
    if given, else the configured signing key's (a seed, the development key file, or Cloud KMS)
    and the retired keys still published."""
    if not public_keys:
        signer = signing_key(settings)
        if signer is None and (settings.data_dir / SIGNING_KEY_FILE).is_file():
            signer = Ed25519Signer((settings.data_dir / SIGNING_KEY_FILE).read_bytes())
        if signer is None:
            raise ConfigurationError(
                "no signing key is configured here: give the log's public key(s) with --public-key"
            )
        public_keys = [signer.public_key, *retired_public_keys(settings)]
    keys = {key_id_of(k): k for k in public_keys}
    if settings.backend is Backend.GCP:
        from auditlog.backends.gcp.bigquery_store import BigQueryEventStore
        from auditlog.backends.gcp.clients import bigquery_client, firestore_client
        from auditlog.backends.gcp.firestore_integrity import FirestoreIntegrityStore

        store: EventStore = BigQueryEventStore(
            bigquery_client(settings), settings.bigquery_dataset, settings.bigquery_table
        )
        return VerificationSources(store, FirestoreIntegrityStore(firestore_client(settings)), keys)
    from auditlog.backends.embedded.duckdb_store import DuckDBEventStore
    from auditlog.backends.embedded.sqlite_integrity import SqliteIntegrityStore

    data = settings.data_dir
    return VerificationSources(
        DuckDBEventStore(data / "events.duckdb", read_only=True),
        SqliteIntegrityStore(data / "integrity.sqlite3"),
        keys,
    )
