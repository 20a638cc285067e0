"""The per-tenant integrity log: leaves, signed checkpoints, the sequencer and proofs.

docs/INTEGRITY.md is the contract (what a leaf is, how checkpoints are signed, the proof JSON).

Flow: the writer *stages* each batch's leaves (idempotent per batch, before the batch is appended
to the event store, so a crash in between only repeats a no-op), the ``Sequencer`` *integrates*
staged batches into the tenant's tree in staging order (gap-free indices, one compare-and-swap on
the tree per round, however many batches and writer instances there are) and signs checkpoints.
Locally a thread runs it every ``integrate_interval_seconds``; on GCP each writer instance runs a
round after its own append and Cloud Scheduler runs ``/api/v1/audit/integrity/run`` every minute
for idle checkpoints and anything a crashed instance left staged.

The tree keeps each leaf's ``expires`` date (partition_date + retention) beside its hash, so the
verifier can tell an event retention removed from one that was deleted.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Protocol

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from auditlog import metrics
from auditlog.ledger import merkle
from auditlog.ledger.merkle import Frontier, NodeId
from auditlog.model.event import (
    COLUMNS,
    JSON_COLUMNS,
    StoredEvent,
    canonical_json,
    format_timestamp,
    parse_rfc3339,
)
from auditlog.ports.store import Row

log = logging.getLogger(__name__)

CHECKPOINT_ORIGIN: Final = "auditlog-checkpoint/v1"
# Per sequencer round: bounded so one round fits in one Firestore commit (500 writes).
MAX_ROUND_BATCHES: Final = 200
MAX_ROUND_LEAVES: Final = 20_000


# --- Leaves -----------------------------------------------------------------------------------


def committed_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """The 20 members a leaf commits to, from a ``StoredEvent`` (or any mapping of them)."""
    return {name: event[name] for name in COLUMNS}


def leaf_bytes(event: Mapping[str, Any]) -> bytes:
    """RFC 8785 JCS of the committed record. The record holds only ASCII member names, strings,
    integers and nulls, for which orjson with sorted keys writes exactly JCS's bytes (checked
    against the ``rfc8785`` package by a property test) at 25 times its speed."""
    return orjson.dumps(committed_record(event), option=orjson.OPT_SORT_KEYS)


def event_leaf_hash(event: Mapping[str, Any]) -> bytes:
    return merkle.leaf_hash(leaf_bytes(event))


def record_from_row(row: Row, *, recanonicalise: bool = False) -> dict[str, Any]:
    """A store row as the committed record. ``recanonicalise`` parses and writes the JSON
    columns again, for stores that re-serialise JSON (BigQuery); the embedded store keeps the
    text as written."""
    record: dict[str, Any] = {}
    for name, value in zip(COLUMNS, row, strict=True):
        if value is None:
            record[name] = None
        elif name in _TIME_COLUMNS:
            record[name] = format_timestamp(value)
        elif name == "partition_date":
            record[name] = value.isoformat()
        elif name in JSON_COLUMNS and recanonicalise:
            record[name] = canonical_json(orjson.loads(value)).decode()
        else:
            record[name] = value
    return record


_TIME_COLUMNS = frozenset({"timestamp", "created_at"})


def expiry_of(event: StoredEvent) -> str:
    day = date.fromisoformat(event["partition_date"]) + timedelta(days=event["retention_period_days"])
    return day.isoformat()


@dataclass(frozen=True, slots=True)
class LeafEntry:
    audit_id: str
    leaf_hash: bytes
    expires: str  # YYYY-MM-DD: retention may delete the payload from this day on


def leaf_entry(event: StoredEvent, leaf_hash: bytes | None = None) -> LeafEntry:
    """``leaf_hash``: the event's, when already computed (the receipt given at ingest)."""
    return LeafEntry(event["audit_id"], leaf_hash or event_leaf_hash(event), expiry_of(event))


@dataclass(frozen=True, slots=True)
class SpineLeaf:
    index: int
    audit_id: str
    leaf_hash: bytes
    expires: str


@dataclass(frozen=True, slots=True)
class StagedBatch:
    key: str
    entries: tuple[LeafEntry, ...]
    staged_at: float | None = None  # Unix time, for the sequencing-delay metric


# (tenant_id, batch key, the batch's leaves)
StagedInput = tuple[str, str, list[LeafEntry]]


def batch_key(entries: list[LeafEntry]) -> str:
    """Names a staged batch by its content, so a redelivered message stages nothing new."""
    digest = hashlib.sha256()
    for e in entries:
        digest.update(e.audit_id.encode() + b"\n")
    return digest.hexdigest()[:32]


# --- Checkpoints ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    tenant_id: str
    tree_size: int
    root_hash: bytes
    timestamp: str
    key_id: str
    signature: bytes

    def body(self) -> bytes:
        return signed_body(self.tenant_id, self.tree_size, self.root_hash, self.timestamp)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Checkpoint:
        try:
            return Checkpoint(
                tenant_id=str(d["tenant_id"]),
                tree_size=int(d["tree_size"]),
                root_hash=bytes.fromhex(d["root_hash"]),
                timestamp=str(d["timestamp"]),
                key_id=str(d["key_id"]),
                signature=bytes.fromhex(d["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from None


def signed_body(tenant_id: str, tree_size: int, root_hash: bytes, timestamp: str) -> bytes:
    return f"{CHECKPOINT_ORIGIN}\n{tenant_id}\n{tree_size}\n{root_hash.hex()}\n{timestamp}\n".encode()


def key_id_of(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


class CheckpointSigner:
    """Ed25519 over the checkpoint text. The key is a 32-byte seed: Secret Manager on GCP, a
    generated file in the data directory in development."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 signing key is a 32-byte seed")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id_of(self.public_key)

    def sign(self, tenant_id: str, tree_size: int, root_hash: bytes, when: datetime) -> Checkpoint:
        timestamp = format_timestamp(when.astimezone(UTC).replace(tzinfo=None))
        body = signed_body(tenant_id, tree_size, root_hash, timestamp)
        return Checkpoint(tenant_id, tree_size, root_hash, timestamp, self.key_id, self._key.sign(body))

    def public_keys(self) -> dict[str, Any]:
        return {
            "keys": [{"key_id": self.key_id, "algorithm": "Ed25519", "public_key": self.public_key.hex()}]
        }


def verify_checkpoint(checkpoint: Checkpoint, public_keys: Mapping[str, bytes]) -> bool:
    key = public_keys.get(checkpoint.key_id)
    if key is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(checkpoint.signature, checkpoint.body())
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Storage ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeState:
    frontier: Frontier
    version: Any  # opaque compare-and-swap token; None before the first commit


class IntegrityStore(Protocol):
    """Where the log lives: SQLite locally, Firestore on GCP."""

    def stage(self, batches: list[StagedInput]) -> None:
        """Record batches' leaves for sequencing, atomically; a (tenant, key) staged before is
        left as it is."""
        ...

    def pending(self, tenant_id: str, max_batches: int) -> list[StagedBatch]:
        """Staged, not yet integrated batches, oldest first."""
        ...

    def pending_tenants(self) -> list[str]: ...

    def tenants(self) -> list[str]:
        """Tenants that have a tree."""
        ...

    def state(self, tenant_id: str) -> TreeState: ...

    def nodes(self, tenant_id: str, ids: set[NodeId]) -> dict[NodeId, bytes]: ...

    def commit(
        self,
        tenant_id: str,
        expected: TreeState,
        frontier: Frontier,
        nodes: dict[NodeId, bytes],
        leaves: list[SpineLeaf],
        integrated: list[tuple[str, int]],
    ) -> bool:
        """Atomically: the new tree state (only if still ``expected``), its nodes, the leaves'
        ids and expiry, and the staged batches marked integrated at their first index. False if
        another sequencer committed first."""
        ...

    def locate(self, tenant_id: str, audit_id: str) -> int | None: ...

    def locate_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, int]:
        """Leaf indices of those of ``audit_ids`` that are sequenced."""
        ...

    def leaves(self, tenant_id: str, start: int, end: int) -> list[SpineLeaf]: ...

    def spine(self, tenant_id: str, start: int, end: int) -> tuple[list[str], list[bytes]]:
        """The audit ids and leaf hashes of ``leaves(tenant_id, start, end)``, as two lists (the
        verifier's bulk read: no object per leaf)."""
        ...

    def put_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    def latest_checkpoint(self, tenant_id: str) -> Checkpoint | None: ...

    def checkpoint_at(self, tenant_id: str, tree_size: int) -> Checkpoint | None:
        """The newest checkpoint signed at exactly this size."""
        ...

    def close(self) -> None: ...


# --- Sequencing -------------------------------------------------------------------------------


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Sequencer:
    def __init__(
        self,
        store: IntegrityStore,
        signer: CheckpointSigner,
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

    def checkpoint(self, tenant_id: str, *, force: bool = False) -> Checkpoint | None:
        """Sign the tree if it grew (at most every ``checkpoint_min_seconds``) or if the newest
        checkpoint is older than ``idle_checkpoint_seconds``; the new checkpoint or None."""
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


# --- Proofs -----------------------------------------------------------------------------------


def inclusion(store: IntegrityStore, tenant_id: str, index: int, checkpoint: Checkpoint) -> list[bytes]:
    size = checkpoint.tree_size
    wanted = merkle.required_nodes(lambda node: merkle.inclusion_proof(index, size, node))
    return merkle.inclusion_proof(index, size, merkle.source(store.nodes(tenant_id, wanted)))


def consistency(store: IntegrityStore, tenant_id: str, first: int, second: int) -> list[bytes]:
    wanted = merkle.required_nodes(lambda node: merkle.consistency_proof(first, second, node))
    return merkle.consistency_proof(first, second, merkle.source(store.nodes(tenant_id, wanted)))


def root_at(store: IntegrityStore, tenant_id: str, size: int) -> bytes:
    wanted = merkle.required_nodes(lambda node: merkle.root_from_nodes(size, node))
    return merkle.root_from_nodes(size, merkle.source(store.nodes(tenant_id, wanted)))


def iter_spine(store: IntegrityStore, tenant_id: str, size: int, chunk: int = 65_536) -> Iterator[SpineLeaf]:
    for start in range(0, size, chunk):
        yield from store.leaves(tenant_id, start, min(size, start + chunk))


def spine_columns(leaves: list[SpineLeaf]) -> tuple[list[str], list[bytes]]:
    """The audit ids and hashes of ``leaves``, as ``IntegrityStore.spine`` answers."""
    return [leaf.audit_id for leaf in leaves], [leaf.leaf_hash for leaf in leaves]


def read_spine(
    store: IntegrityStore, tenant_id: str, size: int, chunk: int = 262_144
) -> tuple[list[str], list[bytes]]:
    """The audit ids and leaf hashes of the first ``size`` leaves (fewer if the log holds fewer)."""
    ids: list[str] = []
    hashes: list[bytes] = []
    for start in range(0, size, chunk):
        more_ids, more_hashes = store.spine(tenant_id, start, min(size, start + chunk))
        ids += more_ids
        hashes += more_hashes
        if len(more_ids) < min(size, start + chunk) - start:
            break
    return ids, hashes
