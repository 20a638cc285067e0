"""The verifier: recompute every leaf from the stored events and check them against the signed
integrity log, naming each event that was edited, deleted, inserted or reordered.

What is trusted: the public key and, optionally, a checkpoint the auditor kept from an earlier
run (``--since-checkpoint``). What is checked, per tenant:

1. the latest checkpoint's signature;
2. the hash spine (the leaf hashes the integrity store keeps) rebuilds that checkpoint's root, and
   every older signed checkpoint's root that is checked on the way (a spine cut short is a
   *truncated tail*; a spine that no longer rebuilds a signed root is *spine altered*, located
   between the last checkpoint it still matches and the first it does not);
3. the earlier checkpoint is a prefix of today's tree (*inconsistent* otherwise);
4. each stored event hashes to its spine leaf (*edited*; *reordered* when its hash is another
   leaf's), each spine leaf has its event unless retention may have removed it (*deleted*), and
   each stored event is in the spine (*inserted*) unless it is newer than the checkpoint.
"""

from __future__ import annotations

import queue
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from auditlog import merkle
from auditlog.event import parse_rfc3339
from auditlog.integrity import (
    Checkpoint,
    IntegrityStore,
    event_leaf_hash,
    iter_spine,
    record_from_row,
    verify_checkpoint,
)
from auditlog.store import EventStore

# Events younger than this before the checkpoint's time may still be on their way to it.
IN_FLIGHT = timedelta(seconds=30)

Progress = Callable[[str, int], None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Finding:
    kind: (
        str  # edited | deleted | inserted | reordered | truncated | spine_altered | signature | inconsistent
    )
    detail: str
    audit_id: str | None = None
    leaf_index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (
                ("kind", self.kind),
                ("audit_id", self.audit_id),
                ("leaf_index", self.leaf_index),
                ("detail", self.detail),
            )
            if v is not None
        }


@dataclass
class TenantReport:
    tenant_id: str
    tree_size: int = 0
    events: int = 0
    expired: int = 0
    in_flight: int = 0
    checkpoint: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "ok": self.ok,
            "tree_size": self.tree_size,
            "events_checked": self.events,
            "expired_leaves": self.expired,
            "not_yet_sequenced": self.in_flight,
            "checkpoint": self.checkpoint,
            "findings": [f.as_dict() for f in self.findings],
        }


def _stderr_progress(tenant: str, done: int) -> None:
    print(f"verify: {tenant}: {done:,} events checked", file=sys.stderr, flush=True)


def verify_tenant(
    store: EventStore,
    log: IntegrityStore,
    public_keys: dict[str, bytes],
    tenant: str,
    *,
    since: Checkpoint | None = None,
    now: datetime | None = None,
    recanonicalise: bool = False,
    progress: Progress | None = _stderr_progress,
    progress_every: int = 1_000_000,
    leaf_digests: Iterator[list[tuple[str, datetime, bytes]]] | None = None,
) -> TenantReport:
    """``leaf_digests``: the store's leaf digests of the tenant, already being computed (as
    ``verify_tenants`` passes them); else they are started here."""
    now = now or datetime.now(UTC)
    today = now.date()
    report = TenantReport(tenant)
    found = report.findings.append

    checkpoint = log.latest_checkpoint(tenant)
    if checkpoint is None:
        found(Finding("signature", "the tenant has no signed checkpoint"))
        return report
    report.checkpoint = checkpoint.as_dict()
    report.tree_size = size = checkpoint.tree_size
    if not verify_checkpoint(checkpoint, public_keys):
        found(Finding("signature", f"the checkpoint of size {size} does not verify with the published key"))
    if since is not None:
        if since.tenant_id != tenant or not verify_checkpoint(since, public_keys):
            found(
                Finding("signature", "the earlier checkpoint given is not a valid checkpoint of this tenant")
            )
        elif since.tree_size > size:
            found(
                Finding(
                    "truncated", f"the log has {size} leaves; an earlier checkpoint had {since.tree_size}"
                )
            )

    # The store computes its digests in a thread of its own (DuckDB writes the leaf bytes without
    # the interpreter lock) while the spine is read and its roots rebuilt.
    digest_chunks = leaf_digests if leaf_digests is not None else _prefetched(store.leaf_digests(tenant))

    # 2. The spine against the signed roots.
    spine = list(iter_spine(log, tenant, log.state(tenant).frontier.size))
    if len(spine) < size:
        found(
            Finding(
                "truncated",
                f"the log holds {len(spine)} leaves; the signed checkpoint has {size}",
                leaf_index=len(spine),
            )
        )
    roots = _prefix_roots(spine, sorted({size} | ({since.tree_size} if since else set())))
    if len(spine) >= size and roots.get(size) != checkpoint.root_hash:
        found(Finding("spine_altered", _locate_alteration(log, tenant, spine, size)))
    if since is not None and since.tree_size <= len(spine) and roots.get(since.tree_size) != since.root_hash:
        found(
            Finding(
                "inconsistent",
                f"today's log does not extend the earlier checkpoint of size "
                f"{since.tree_size}: history before it was rewritten",
            )
        )

    # 4. Events against leaves.
    by_id = {leaf.audit_id: leaf for leaf in spine[:size]}
    by_hash = {leaf.leaf_hash: leaf.index for leaf in spine[:size]}
    seen: set[str] = set()
    cutoff = parse_rfc3339(checkpoint.timestamp) - IN_FLIGHT
    for digests in digest_chunks:
        for audit_id, created_at, digest in digests:
            report.events += 1
            if progress and report.events % progress_every == 0:
                progress(tenant, report.events)
            leaf = by_id.get(audit_id)
            if leaf is None:
                if created_at >= cutoff:
                    report.in_flight += 1
                else:
                    found(Finding("inserted", "stored, but not in the signed log", audit_id))
                continue
            seen.add(audit_id)
            if digest == leaf.leaf_hash:
                continue
            # The store's fast digest disagrees: the reference encoding decides.
            row = store.get(tenant, audit_id)
            h = event_leaf_hash(record_from_row(row)) if row is not None else b""
            if row is not None and h != leaf.leaf_hash and recanonicalise:
                h = event_leaf_hash(record_from_row(row, recanonicalise=True))
            if h == leaf.leaf_hash:
                continue
            other = by_hash.get(h)
            if other is not None and other != leaf.index:
                found(Finding("reordered", f"its content is leaf {other}'s", audit_id, leaf.index))
            else:
                found(Finding("edited", "differs from what the log committed to", audit_id, leaf.index))
    for leaf in spine[:size]:
        if leaf.audit_id in seen:
            continue
        if date.fromisoformat(leaf.expires) <= today:
            report.expired += 1
        else:
            found(
                Finding(
                    "deleted",
                    f"in the log, missing from the store before its expiry {leaf.expires}",
                    leaf.audit_id,
                    leaf.index,
                )
            )
    if progress:
        progress(tenant, report.events)
    return report


def verify_tenants(
    store: EventStore,
    log: IntegrityStore,
    public_keys: dict[str, bytes],
    tenants: list[str],
    *,
    since: Checkpoint | None = None,
    recanonicalise: bool = False,
    progress: Progress | None = _stderr_progress,
) -> Iterator[TenantReport]:
    """``verify_tenant`` of each tenant in turn, the next tenant's digests already being computed
    while this one is checked (with many small tenants, as at 200k events, the store's digest
    queries are the longer half of the work; with large ones the per-leaf checks are).
    ``since`` applies to the tenant it belongs to."""
    upcoming = _prefetched(store.leaf_digests(tenants[0])) if tenants else None
    for i, tenant in enumerate(tenants):
        current = upcoming
        upcoming = _prefetched(store.leaf_digests(tenants[i + 1])) if i + 1 < len(tenants) else None
        yield verify_tenant(
            store,
            log,
            public_keys,
            tenant,
            since=since if since is not None and since.tenant_id == tenant else None,
            recanonicalise=recanonicalise,
            progress=progress,
            leaf_digests=current,
        )


def _prefetched(chunks: Iterator[T], depth: int = 4) -> Iterator[T]:
    """``chunks``, produced by a thread of their own, started now, up to ``depth`` ahead.

    Not a generator itself: its body would then wait for the first ``next`` to start the thread,
    and the producing would not overlap whatever the caller does before reading. If the reader
    stops early or drops it, the producer stops at its next chunk and closes ``chunks``."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer
            put(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def consume() -> Iterator[T]:
        try:
            while (item := buffer.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    reader = consume()
    weakref.finalize(reader, stop.set)  # also when the reader is dropped before it starts
    threading.Thread(target=produce, name="verify-digests", daemon=True).start()
    return reader


def _prefix_roots(spine: list[Any], sizes: list[int]) -> dict[int, bytes]:
    """Roots of the spine's prefixes of the given sizes."""
    hashes = [leaf.leaf_hash for leaf in spine]
    return {s: merkle.root(hashes[:s]) for s in sizes if s <= len(spine)}


def _locate_alteration(log: IntegrityStore, tenant: str, spine: list[Any], size: int) -> str:
    """Between the last older checkpoint the spine still matches and the first it does not."""
    good, bad = 0, size
    lo, hi = 0, size
    probes = 0
    while hi - lo > 1 and probes < 40:
        mid = (lo + hi) // 2
        cp = _nearest_checkpoint(log, tenant, mid, hi)
        probes += 1
        if cp is None:
            break
        root = _prefix_roots(spine, [cp.tree_size]).get(cp.tree_size)
        if root == cp.root_hash:
            lo = good = cp.tree_size
        else:
            hi = bad = cp.tree_size
    return (
        f"the stored leaf hashes do not rebuild the signed root: a leaf between index {good} and "
        f"{bad - 1} was changed, removed or moved"
    )


def _nearest_checkpoint(log: IntegrityStore, tenant: str, size: int, limit: int) -> Checkpoint | None:
    for s in range(size, limit):
        cp = log.checkpoint_at(tenant, s)
        if cp is not None:
            return cp
        if s - size > 64:
            return None
    return None
