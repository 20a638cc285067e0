"""The sequencer: staged leaves into each tenant's tree, and signed checkpoints.

The writer *stages* each batch's leaves (idempotent per batch, before the batch is appended to
the event store, so a crash in between only repeats a no-op); the ``Sequencer`` *integrates*
staged batches into the tenant's tree in staging order (gap-free indices, one compare-and-swap on
the tree per round, however many batches and writer instances there are) and signs checkpoints.
Locally a thread runs it every ``integrate_interval_seconds``. On GCP each writer instance
integrates its own batches after the append (it holds no signing key); the query function signs a
checkpoint when a proof asks for a leaf that is integrated but not yet in one, and Cloud Scheduler
runs ``/api/v1/audit/integrity/run`` every minute for idle checkpoints and anything a crashed
instance left staged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from auditlog import metrics
from auditlog.ledger.checkpoints import Checkpoint, CheckpointSigner
from auditlog.ledger.leaves import SpineLeaf, StagedBatch
from auditlog.model.event import parse_rfc3339
from auditlog.ports.integrity import IntegrityStore

log = logging.getLogger(__name__)

# Per sequencer round: bounded so one round fits in one Firestore commit (500 writes).
MAX_ROUND_BATCHES: Final = 200
MAX_ROUND_LEAVES: Final = 20_000


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Sequencer:
    def __init__(
        self,
        store: IntegrityStore,
        signer: CheckpointSigner | None,
        *,
        checkpoint_min_seconds: float = 1.0,
        idle_checkpoint_seconds: float = 60.0,
        clock: Clock = _utc_now,
    ) -> None:
        self._store = store
        self._signer = signer
        self._min = timedelta(seconds=checkpoint_min_seconds)
        self._idle = timedelta(seconds=idle_checkpoint_seconds)
        self._clock = clock
        self._lock = threading.Lock()  # one round at a time per process; CAS covers the rest
        # When each tenant's newest checkpoint was signed, as last seen: an idle tenant is not
        # read again before its idle interval is over (the loop runs four times a second).
        self._signed_at: dict[str, datetime] = {}
        self._grown: set[str] = set()  # grew since their newest checkpoint, signing deferred
        # Called with each checkpoint signed (the witnesses' cosigning takes it from there).
        self.on_signed: Callable[[Checkpoint], None] | None = None

    def integrate(self, tenant_id: str) -> int:
        """Integrate everything staged for the tenant; the number of leaves added."""
        added = 0
        with self._lock:
            while True:
                # The tree first: its version must predate the pending read, so that a round
                # which read batches another instance has just integrated fails its CAS.
                state = self._store.state(tenant_id)
                batches = self._store.pending(tenant_id, MAX_ROUND_BATCHES)
                if not batches:
                    return added
                chosen: list[StagedBatch] = []
                count = 0
                for b in batches:
                    if chosen and count + len(b.entries) > MAX_ROUND_LEAVES:
                        break
                    chosen.append(b)
                    count += len(b.entries)
                frontier, nodes = state.frontier.append(e.leaf_hash for b in chosen for e in b.entries)
                leaves: list[SpineLeaf] = []
                integrated: list[tuple[str, int]] = []
                index = state.frontier.size
                for b in chosen:
                    integrated.append((b.key, index))
                    for e in b.entries:
                        leaves.append(SpineLeaf(index, e.audit_id, e.leaf_hash, e.expires))
                        index += 1
                if self._store.commit(tenant_id, state, frontier, nodes, leaves, integrated):
                    added += count
                    metrics.LEAVES_INTEGRATED.inc(count)
                    now = time.time()
                    for b in chosen:
                        if b.staged_at is not None:
                            metrics.SEQUENCING_DELAY.observe(max(0.0, now - b.staged_at))
                else:  # another instance integrated first: read again and retry
                    time.sleep(0.01)

    @property
    def can_sign(self) -> bool:
        """Whether this process holds the signing key (the writer function does not: it
        integrates, and the query and retention functions sign)."""
        return self._signer is not None

    def checkpoint(self, tenant_id: str, *, force: bool = False) -> Checkpoint | None:
        """Sign the tree if it grew (at most every ``checkpoint_min_seconds``) or if the newest
        checkpoint is older than ``idle_checkpoint_seconds``; the new checkpoint or None (also
        when this process has no signing key)."""
        if self._signer is None:
            return None
        now = self._clock()
        latest = self._store.latest_checkpoint(tenant_id)
        state = self._store.state(tenant_id)
        if latest is not None and not force:
            signed = _parse_utc(latest.timestamp)
            self._signed_at[tenant_id] = signed
            age = now - signed
            grew = state.frontier.size != latest.tree_size
            if not ((grew and age >= self._min) or age >= self._idle):
                if grew:
                    self._grown.add(tenant_id)
                return None
        cp = self._signer.sign(tenant_id, state.frontier.size, state.frontier.root(), now)
        self._store.put_checkpoint(cp)
        self._signed_at[tenant_id] = now
        self._grown.discard(tenant_id)
        metrics.checkpoint_signed()
        if self.on_signed is not None:
            self.on_signed(cp)
        log.info(
            "checkpoint signed",
            extra={"event": "checkpoint_signed", "tenant_id": tenant_id, "tree_size": cp.tree_size},
        )
        return cp

    def run_once(self) -> dict[str, int]:
        """One pass over every tenant: integrate what is staged, sign what is due."""
        added: dict[str, int] = {}
        for tenant in self._store.pending_tenants():
            added[tenant] = self.integrate(tenant)
        now = self._clock()
        for tenant in set(self._store.tenants()) | set(added):
            signed = self._signed_at.get(tenant)
            quiet = tenant not in added and tenant not in self._grown
            if quiet and signed is not None and now - signed < self._idle:
                continue  # idle and signed recently: nothing to read
            self.checkpoint(tenant)
        return added


def _parse_utc(text: str) -> datetime:
    return parse_rfc3339(text).replace(tzinfo=UTC)


class SequencerLoop:
    """Runs the sequencer in a background thread (the embedded runtime)."""

    def __init__(self, sequencer: Sequencer, interval_seconds: float) -> None:
        self._sequencer = sequencer
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sequencer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._sequencer.run_once()
            except Exception:
                log.exception("sequencer round failed; retrying")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sequencer.run_once()
