"""The composition root: builds each backend from settings and wires the services.

This is the only place that chooses implementations; the code above it sees interfaces.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

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
from auditlog.ledger.checkpoints import Checkpoint, CheckpointSigner
from auditlog.ledger.proofs import IntegrityReader
from auditlog.ledger.sequencer import Sequencer, SequencerLoop
from auditlog.ledger.witnessing import Cosigning, CosigningLoop
from auditlog.model.cursor import CursorCodec
from auditlog.model.policy import TenantPolicy
from auditlog.ports.cache import QueryCache
from auditlog.ports.integrity import IntegrityStore
from auditlog.ports.limiter import RateLimiter
from auditlog.ports.queue import EventQueue
from auditlog.ports.signer import KeyWrapper
from auditlog.ports.state import StateStore
from auditlog.ports.store import EventStore
from auditlog.read.query import ReadLimits
from auditlog.read.reader import EventReader
from auditlog.read.self_audit import SelfAudit
from auditlog.runtime.keys import (
    CURSOR_KEY_FILE,
    checkpoint_signer,
    key_wrapper,
    private_files,
    secret_file,
    witness_policy,
)
from auditlog.settings import Backend, Settings, get_settings
from auditlog.streams.book import StreamBook
from auditlog.streams.delivery import DeliveryLoop, StreamDelivery
from auditlog.streams.destinations import Context
from auditlog.write.writer import EventWriter, WriterLoop


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
    # Log streams: administered by the retention function's routes; delivered by a loop
    # locally (stream_loop), by the streams function's scheduled run on GCP.
    streams: StreamBook
    stream_delivery: StreamDelivery
    sequencer_loop: SequencerLoop | None = None
    # Witnessing (none without AUDITLOG_WITNESSES): locally a loop of its own; on GCP the
    # integrity job submits what it signed.
    cosigning: Cosigning | None = None
    cosigning_loop: CosigningLoop | None = None
    stream_loop: DeliveryLoop | None = None
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

    def integrity_round(self) -> dict[str, int]:
        """Integrate what is staged, sign what is due and, where no loop does it, submit what
        was signed to the witnesses (the GCP integrity job)."""
        if self.cosigning is None or self.cosigning_loop is not None:
            return self.sequencer.run_once()
        signed: list[Checkpoint] = []
        self.sequencer.on_signed = signed.append
        try:
            added = self.sequencer.run_once()
        finally:
            self.sequencer.on_signed = None
        for tenant in dict.fromkeys(c.tenant_id for c in signed):
            self.cosigning.round(tenant)
        return added

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
        if self.cosigning_loop is not None:
            self.cosigning_loop.stop()
        if self.stream_loop is not None:
            self.stream_loop.stop()
        self.stream_delivery.close()
        if self.cosigning is not None:
            self.cosigning.close()
        self.backends.queue.close()
        self.backends.store.close()
        self.backends.cache.close()
        self.backends.state.close()
        self.backends.limiter.close()
        self.backends.integrity.close()


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


def _reader(
    settings: Settings, backends: Backends, unsealer: Unsealer, policies: PolicyBook, protector: PiiProtector
) -> EventReader:
    key: bytes | None = None  # without it, a function that pages refuses (CursorCodec)
    if settings.cursor_secret:
        key = settings.cursor_secret.get_secret_value().encode()
    elif settings.is_development:
        key = secret_file(settings.data_dir / CURSOR_KEY_FILE)
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


def _cosigning(
    settings: Settings, backends: Backends, sequencer: Sequencer
) -> tuple[Cosigning | None, CosigningLoop | None]:
    witnesses, quorum = witness_policy(settings)
    if not witnesses:
        return None, None
    http = httpx.Client(timeout=settings.witness_timeout_seconds)
    cosigning = Cosigning(backends.integrity, witnesses, quorum, http)
    if backends.writer_loop is None:  # a function: the integrity job submits (integrity_round)
        return cosigning, None
    loop = CosigningLoop(cosigning, backends.integrity.tenants)
    sequencer.on_signed = loop.signed
    loop.start()
    return cosigning, loop


def _streams(
    settings: Settings, backends: Backends, wrapper: KeyWrapper | None, witnessed: bool
) -> tuple[StreamBook, StreamDelivery, DeliveryLoop | None]:
    local = settings.is_development
    book = StreamBook(backends.state, backends.integrity, wrapper, allow_private_addresses=local)
    context = Context(settings.gcp_project, allow_private_addresses=local)
    delivery = StreamDelivery(book, backends.integrity, backends.store, context, witnessed=witnessed)
    loop = None
    if backends.writer_loop is not None:  # the embedded server: delivery runs beside it
        loop = DeliveryLoop(delivery, settings.stream_poll_seconds)
        loop.start()
    return book, delivery, loop


def build_runtime(settings: Settings) -> Runtime:
    data = settings.data_dir
    private_files(data)
    # First, so that identity settings that cannot work stop start-up before any backend starts.
    verifier = build_verifier(settings, data)
    backends = _gcp(settings) if settings.backend is Backend.GCP else _embedded(settings)
    signer = checkpoint_signer(settings)
    sequencer = Sequencer(
        backends.integrity,
        signer,
        checkpoint_min_seconds=settings.checkpoint_min_seconds,
        idle_checkpoint_seconds=settings.idle_checkpoint_seconds,
    )
    cosigning, cosigning_loop = _cosigning(settings, backends, sequencer)
    sequencer_loop = None
    if backends.writer_loop is not None:
        sequencer_loop = SequencerLoop(sequencer, settings.integrate_interval_seconds)
        sequencer_loop.start()
    metrics.watch_queue_depth(backends.queue.depth)
    wrapper = key_wrapper(settings)
    subject_keys = SubjectKeys(backends.state, wrapper=wrapper)
    policies = PolicyBook(
        backends.state, TenantPolicy(default_retention_days=settings.default_retention_days)
    )
    protector = PiiProtector(TenantSecrets(backends.state, wrapper), subject_keys)
    holds = HoldBook(backends.state, policies)
    skew = timedelta(seconds=settings.max_future_skew_seconds)
    streams, stream_delivery, stream_loop = _streams(settings, backends, wrapper, cosigning is not None)
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
        proofs=IntegrityReader(
            backends.integrity,
            backends.store,
            signer,
            sequencer,
            cache=backends.cache,
            tile_ttl_seconds=settings.tile_cache_ttl_seconds,
        ),
        writer=EventWriter(backends.store, backends.cache, backends.integrity, sequencer),
        sequencer_loop=sequencer_loop,
        cosigning=cosigning,
        cosigning_loop=cosigning_loop,
        streams=streams,
        stream_delivery=stream_delivery,
        stream_loop=stream_loop,
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
