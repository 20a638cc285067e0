"""The composition root: builds each backend from settings and wires the services.

This is the only place that chooses implementations; the code above it sees interfaces.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from auditlog import metrics
from auditlog.admin.erasures import ErasureBook
from auditlog.admin.holds import HoldBook
from auditlog.admin.policies import PolicyBook
from auditlog.admin.retention import RetentionService, SweepLimits
from auditlog.auth.identity import TokenVerifier
from auditlog.auth.limits import RequestLimits
from auditlog.auth.verifiers import build_verifier
from auditlog.errors import ConfigurationError
from auditlog.ingest.pii import PiiProtector, TenantSecrets
from auditlog.ingest.service import IngestRules, IngestService
from auditlog.ingest.subjects import SubjectKeys, Unsealer
from auditlog.ledger.checkpoints import CheckpointSigner, key_id_of
from auditlog.ledger.proofs import IntegrityReader
from auditlog.ledger.sequencer import Sequencer, SequencerLoop
from auditlog.model.cursor import CursorCodec
from auditlog.model.policy import TenantPolicy
from auditlog.ports.cache import QueryCache
from auditlog.ports.integrity import IntegrityStore
from auditlog.ports.limiter import RateLimiter
from auditlog.ports.queue import EventQueue
from auditlog.ports.state import StateStore
from auditlog.ports.store import EventStore
from auditlog.read.query import ReadLimits
from auditlog.read.reader import EventReader
from auditlog.read.self_audit import SelfAudit
from auditlog.settings import Backend, Settings, get_settings
from auditlog.write.writer import EventWriter, WriterLoop

CURSOR_KEY_FILE = "cursor-key"
SIGNING_KEY_FILE = "signing-key"


@dataclass
class Backends:
    queue: EventQueue
    store: EventStore
    cache: QueryCache
    state: StateStore
    limiter: RateLimiter
    integrity: IntegrityStore
    writer_loop: WriterLoop | None = None


@dataclass
class Runtime:
    settings: Settings
    backends: Backends
    verifier: TokenVerifier
    policies: PolicyBook
    protector: PiiProtector
    ingest: IngestService
    reader: EventReader
    retention: RetentionService
    holds: HoldBook
    erasures: ErasureBook
    self_audit: SelfAudit
    limits: RequestLimits
    signer: CheckpointSigner | None
    sequencer: Sequencer
    proofs: IntegrityReader
    # The GCP writer function's entry point; locally the writer loop owns one.
    writer: EventWriter
    sequencer_loop: SequencerLoop | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def queue(self) -> EventQueue:
        return self.backends.queue

    @property
    def store(self) -> EventStore:
        return self.backends.store

    @property
    def writer_loop(self) -> WriterLoop | None:
        return self.backends.writer_loop

    def probes(self) -> dict[str, Callable[[], object]]:
        """One cheap call per backend, each raising when the backend cannot answer."""
        backends = self.backends
        return {
            "store": backends.store.ping,
            "queue": backends.queue.depth,
            "cache": backends.cache.ping,
            "state": lambda: backends.state.get("readyz", "probe"),
            "integrity": lambda: backends.integrity.latest_checkpoint("auditlog-readyz"),
        }

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # The writer drains what was accepted; anything committed after that stays in the
        # journal and is written at the next start.
        if self.backends.writer_loop is not None:
            self.backends.writer_loop.stop()
        if self.sequencer_loop is not None:
            self.sequencer_loop.stop()
        self.backends.queue.close()
        self.backends.store.close()
        self.backends.cache.close()
        self.backends.state.close()
        self.backends.limiter.close()
        self.backends.integrity.close()


def private_files(data_dir: Path) -> None:
    """Every file this process creates is its user's alone (umask 077: files 0600, folders
    0700), from the start rather than by a chmod after writing; the data dir too. The embedded
    stores hold every event, the tenants' HMAC keys and the per-subject keys."""
    os.umask(0o077)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def _secret_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(secrets.token_bytes(32))
        tmp.replace(path)
    return path.read_bytes()


def _embedded(settings: Settings) -> Backends:
    from auditlog.backends.embedded.duckdb_store import DuckDBEventStore
    from auditlog.backends.embedded.memory_cache import MemoryQueryCache
    from auditlog.backends.embedded.memory_ratelimit import MemoryRateLimiter
    from auditlog.backends.embedded.sqlite_integrity import SqliteIntegrityStore
    from auditlog.backends.embedded.sqlite_journal import SqliteJournalQueue
    from auditlog.backends.embedded.sqlite_state import SqliteStateStore

    data = settings.data_dir
    store = DuckDBEventStore(data / "events.duckdb", checkpoint_mib=settings.duckdb_checkpoint_mib)
    queue = SqliteJournalQueue(data / "queue.sqlite3")
    queue.ensure_position_after(store.applied_position())
    cache = MemoryQueryCache()
    integrity = SqliteIntegrityStore(data / "integrity.sqlite3")
    loop = WriterLoop(
        queue,
        store,
        cache,
        integrity,
        max_events=settings.writer_batch_max_events,
        poll_seconds=settings.writer_poll_seconds,
        min_interval_seconds=settings.writer_min_interval_seconds,
    )
    loop.start()
    return Backends(
        queue=queue,
        store=store,
        cache=cache,
        state=SqliteStateStore(data / "state.sqlite3"),
        limiter=MemoryRateLimiter(max_keys=settings.rate_limit_max_keys),
        integrity=integrity,
        writer_loop=loop,
    )


def _gcp(settings: Settings) -> Backends:
    from auditlog.backends.gcp.bigquery_store import BigQueryEventStore, storage_write_client
    from auditlog.backends.gcp.clients import bigquery_client, firestore_client
    from auditlog.backends.gcp.firestore_claims import FirestoreClaimStore
    from auditlog.backends.gcp.firestore_integrity import FirestoreIntegrityStore
    from auditlog.backends.gcp.firestore_state import FirestoreStateStore
    from auditlog.backends.gcp.pubsub_queue import PubSubEventQueue, publisher_for_throughput
    from auditlog.backends.gcp.redis_cache import RedisQueryCache, connect
    from auditlog.backends.gcp.redis_ratelimit import RedisRateLimiter
    from auditlog.backends.gcp.redis_registry import RedisIdempotencyRegistry, redis_client

    if not settings.redis_url:
        raise ConfigurationError("AUDITLOG_REDIS_URL is required with AUDITLOG_BACKEND=gcp")
    firestore = firestore_client(settings)
    publisher = publisher_for_throughput()
    topic = publisher.topic_path(settings.gcp_project, settings.pubsub_topic)
    # Two clients on purpose: the registry sends 1000-key scripts and may wait longer than the
    # cache, whose reads must give up within milliseconds.
    registry = RedisIdempotencyRegistry(
        redis_client(settings.redis_url, ca_cert=settings.redis_ca_cert),
        # A cache in front of the claims: a day of receipts keeps Memorystore small.
        ttl_seconds=min(settings.idempotency_ttl_days, 1) * 86400,
    )
    return Backends(
        queue=PubSubEventQueue(
            publisher,
            topic,
            registry,
            FirestoreClaimStore(firestore, ttl_days=settings.idempotency_ttl_days),
        ),
        store=BigQueryEventStore(
            bigquery_client(settings),
            settings.bigquery_dataset,
            settings.bigquery_table,
            write_client=storage_write_client(settings.bigquery_storage_endpoint),
        ),
        cache=RedisQueryCache(connect(settings.redis_url, ca_cert=settings.redis_ca_cert)),
        # A client of its own, so limiter calls never wait behind the registry's scripts.
        limiter=RedisRateLimiter(connect(settings.redis_url, ca_cert=settings.redis_ca_cert)),
        state=FirestoreStateStore(firestore),
        integrity=FirestoreIntegrityStore(firestore),
    )


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


def open_for_verification(settings: Settings, public_key: bytes | None = None) -> VerificationSources:
    """The event store read-only and the integrity store. The trusted key is ``public_key`` if
    given, else the one of the configured signing key."""
    if public_key is None:
        seed = (
            bytes.fromhex(settings.signing_key.get_secret_value())
            if settings.signing_key
            else (settings.data_dir / SIGNING_KEY_FILE).read_bytes()
        )
        public_key = CheckpointSigner(seed).public_key
    keys = {key_id_of(public_key): public_key}
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


def _signer(settings: Settings, data: Path) -> CheckpointSigner | None:
    """The checkpoint key: the configured one; in development, one kept in the data dir; else
    none (a function that signs nothing, such as the writer, is not given it)."""
    if settings.signing_key:
        return CheckpointSigner(bytes.fromhex(settings.signing_key.get_secret_value()))
    if settings.is_development:
        return CheckpointSigner(_secret_file(data / SIGNING_KEY_FILE))
    return None


def _reader(
    settings: Settings, backends: Backends, unsealer: Unsealer, policies: PolicyBook, protector: PiiProtector
) -> EventReader:
    key: bytes | None = None  # without it, a function that pages refuses (CursorCodec)
    if settings.cursor_secret:
        key = settings.cursor_secret.get_secret_value().encode()
    elif settings.is_development:
        key = _secret_file(settings.data_dir / CURSOR_KEY_FILE)
    codec = CursorCodec(key)
    skew = timedelta(seconds=settings.max_future_skew_seconds)
    default = timedelta(days=settings.default_window_days)
    return EventReader(
        backends.store,
        codec,
        ReadLimits(default, timedelta(days=settings.max_window_days), skew),
        ReadLimits(default, timedelta(days=settings.export_max_window_days), skew),
        cache=backends.cache,
        live_ttl_seconds=settings.cache_ttl_seconds,
        closed_ttl_seconds=settings.cache_closed_ttl_seconds,
        unsealer=unsealer,
        policies=policies,
        protector=protector,
    )


def build_runtime(settings: Settings) -> Runtime:
    data = settings.data_dir
    private_files(data)
    # First, so that identity settings that cannot work stop start-up before any backend starts.
    verifier = build_verifier(settings, data)
    backends = _gcp(settings) if settings.backend is Backend.GCP else _embedded(settings)
    signer = _signer(settings, data)
    sequencer = Sequencer(
        backends.integrity,
        signer,
        checkpoint_min_seconds=settings.checkpoint_min_seconds,
        idle_checkpoint_seconds=settings.idle_checkpoint_seconds,
    )
    sequencer_loop = None
    if backends.writer_loop is not None:
        sequencer_loop = SequencerLoop(sequencer, settings.integrate_interval_seconds)
        sequencer_loop.start()
    metrics.watch_queue_depth(backends.queue.depth)
    subject_keys = SubjectKeys(backends.state)
    policies = PolicyBook(
        backends.state, TenantPolicy(default_retention_days=settings.default_retention_days)
    )
    protector = PiiProtector(TenantSecrets(backends.state), subject_keys)
    holds = HoldBook(backends.state, policies)
    skew = timedelta(seconds=settings.max_future_skew_seconds)
    return Runtime(
        settings=settings,
        backends=backends,
        verifier=verifier,
        policies=policies,
        ingest=IngestService(backends.queue, IngestRules(skew), policies, protector),
        reader=_reader(settings, backends, Unsealer(subject_keys), policies, protector),
        protector=protector,
        retention=RetentionService(
            backends.store,
            holds,
            backends.cache,
            policies,
            protector,
            backends.state,
            SweepLimits(
                settings.retention_run_budget_seconds,
                settings.retention_lease_seconds,
                settings.retention_partitions_per_step,
            ),
        ),
        erasures=ErasureBook(backends.state, subject_keys, backends.cache),
        holds=holds,
        self_audit=SelfAudit(backends.queue),
        limits=RequestLimits(backends.limiter),
        signer=signer,
        sequencer=sequencer,
        proofs=IntegrityReader(backends.integrity, backends.store, signer, sequencer),
        writer=EventWriter(backends.store, backends.cache, backends.integrity, sequencer),
        sequencer_loop=sequencer_loop,
    )


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process's runtime, built on first use (warm Cloud Function instances reuse it)."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = build_runtime(get_settings())
        return _runtime
