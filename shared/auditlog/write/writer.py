"""The writer: moves queued batches into the event store.

On GCP a Pub/Sub push delivers one batch per call; locally ``WriterLoop`` pulls from the journal.
Either way ``EventWriter`` does the work, and a redelivered batch is written once.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from auditlog import metrics
from auditlog.ledger.leaves import StagedInput, batch_key, leaf_entry
from auditlog.ledger.sequencer import Sequencer
from auditlog.ports.cache import QueryCache
from auditlog.ports.integrity import IntegrityStore
from auditlog.ports.queue import PulledQueue, QueuedBatch
from auditlog.ports.store import EventStore, WriteBatch
from auditlog.read.self_audit import is_self_audit

log = logging.getLogger(__name__)


class EventWriter:
    """Stages each batch's leaves in the integrity log, then appends the events. Staging first
    and idempotently means a crash in between costs a repeated no-op, never a missing leaf. With
    a ``sequencer`` (GCP) the tenants' trees are integrated right after the append; locally a
    background loop does it."""

    def __init__(
        self,
        store: EventStore,
        cache: QueryCache,
        integrity: IntegrityStore,
        sequencer: Sequencer | None = None,
    ) -> None:
        self._store = store
        self._cache = cache
        self._integrity = integrity
        self._sequencer = sequencer

    def write(self, batches: list[QueuedBatch]) -> int:
        started = time.perf_counter()
        staged: list[StagedInput] = []
        for b in batches:
            # The receipts' hashes when the queue carries them (computed from these very records).
            hashes = b.leaves if b.leaves is not None else [None] * len(b.events)
            entries = [leaf_entry(e, h) for e, h in zip(b.events, hashes, strict=True)]
            if entries:
                staged.append((b.tenant_id, batch_key(entries), entries))
        self._integrity.stage(staged)
        events = [e for b in batches for e in b.events]
        written = self._store.append(WriteBatch(events, position=batches[-1].position))
        metrics.WRITER_SECONDS.observe(time.perf_counter() - started)
        metrics.WRITER_BATCH_EVENTS.observe(len(events))
        now = datetime.now(UTC)
        for b in batches:
            if b.events:  # a batch's events share one created_at: it is the request's time
                accepted = datetime.fromisoformat(b.events[0]["created_at"].replace("Z", "+00:00"))
                metrics.INGEST_TO_WRITE.observe(max(0.0, (now - accepted).total_seconds()))
        # Only now are the events visible: cached pages of these tenants become stale. The
        # service's own records of reads are stamped "now", so they only fall in windows that
        # end near now, whose cached pages live for the short TTL; bumping for them would empty
        # the cache at every read.
        self._cache.bump({b.tenant_id for b in batches if not all(is_self_audit(e) for e in b.events)})
        if self._sequencer is not None:
            for tenant in sorted({b.tenant_id for b in batches}):
                try:
                    self._sequencer.integrate(tenant)
                    self._sequencer.checkpoint(tenant)
                except Exception:
                    # The events are stored and their leaves staged: the scheduled integrity
                    # run sequences them. Failing here would only redeliver a written batch.
                    log.exception("sequencing after the append failed; the scheduled run will retry")
        return written


class WriterLoop:
    """Drains the embedded journal into the store in a background thread."""

    def __init__(
        self,
        queue: PulledQueue,
        store: EventStore,
        cache: QueryCache,
        integrity: IntegrityStore,
        *,
        max_events: int,
        poll_seconds: float,
        min_interval_seconds: float = 0.0,
    ) -> None:
        self._queue = queue
        self._store = store
        self._writer = EventWriter(store, cache, integrity)
        self._max_events = max_events
        self._poll = poll_seconds
        self._min_interval = min_interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self.position = store.applied_position()

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.drain_once(self._poll) and self._min_interval:
                    # Every append has a fixed cost (transaction, index, fsync); waiting a little
                    # lets concurrent publishes share one append.
                    self._stop.wait(self._min_interval)
            except Exception:
                log.exception("writer failed to append a batch; retrying in 1 s")
                self._stop.wait(1.0)

    def drain_once(self, timeout: float) -> int:
        batches = self._queue.pull(self.position, self._max_events, timeout)
        if not batches:
            return 0
        written = self._writer.write(batches)
        self.position = batches[-1].position
        self._queue.acknowledge(self.position)
        return written

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        # Whatever was accepted before the stop is written before the store closes.
        while self.drain_once(0):
            pass
