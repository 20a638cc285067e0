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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import compress
from operator import eq, not_
from typing import Any, TypeVar

from auditlog.ledger import merkle
from auditlog.ledger.checkpoints import Checkpoint, unwitnessed, verify_checkpoint
from auditlog.ledger.leaves import event_leaf_hash, record_from_row
from auditlog.ledger.notes import WitnessPolicy
from auditlog.ledger.tree import read_spine
from auditlog.model.event import parse_rfc3339
from auditlog.ports.integrity import IntegrityStore
from auditlog.ports.store import EventStore, LeafDigests, epoch_us

# Events younger than this before the checkpoint's time may still be on their way to it.
IN_FLIGHT = timedelta(seconds=30)
# Leaves checked per pass over the store: small tenants are checked together, in one scan.
GROUP_LEAVES = 1_000_000

Progress = Callable[[str, int], None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Finding:
    kind: (
        str  # edited | deleted | inserted | reordered | truncated | spine_altered | signature | inconsistent
        # | unwitnessed
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
    witnesses: WitnessPolicy | None = None,
    now: datetime | None = None,
    progress: Progress | None = _stderr_progress,
    progress_every: int = 1_000_000,
) -> TenantReport:
    (report,) = verify_tenants(
        store,
        log,
        public_keys,
        [tenant],
        since=since,
        witnesses=witnesses,
        now=now,
        progress=progress,
        progress_every=progress_every,
    )
    return report


def verify_tenants(
    store: EventStore,
    log: IntegrityStore,
    public_keys: dict[str, bytes],
    tenants: list[str],
    *,
    since: Checkpoint | None = None,
    witnesses: WitnessPolicy | None = None,
    now: datetime | None = None,
    progress: Progress | None = _stderr_progress,
    progress_every: int = 1_000_000,
    group_leaves: int = GROUP_LEAVES,
) -> Iterator[TenantReport]:
    """Each tenant's report, in order. The store is read once per group of consecutive tenants
    holding up to ``group_leaves`` leaves together (a larger tenant is a group of its own), and
    the next group's digests are computed while one is checked. ``since`` applies to the tenant
    it belongs to. With ``witnesses``, the checkpoint checked against is the newest one the
    policy's quorum cosigned; a tenant without one is reported ``unwitnessed``."""
    now = now or datetime.now(UTC)
    sizes = {tenant: log.state(tenant).frontier.size for tenant in tenants}
    groups = _groups([(tenant, sizes[tenant]) for tenant in tenants], group_leaves)
    upcoming = _prefetched(store.leaf_digests(groups[0])) if groups else None
    for i, group in enumerate(groups):
        current = upcoming
        upcoming = _prefetched(store.leaf_digests(groups[i + 1])) if i + 1 < len(groups) else None
        assert current is not None
        checks = {
            tenant: _check_log(log, public_keys, tenant, sizes[tenant], _own(since, tenant), witnesses)
            for tenant in group
        }
        yield from _check_events(store, log, checks, current, now, progress, progress_every)


def _own(since: Checkpoint | None, tenant: str) -> Checkpoint | None:
    return since if since is not None and since.tenant_id == tenant else None


@dataclass
class _TenantCheck:
    """A tenant's signed log, read and checked, against which its events are checked."""

    report: TenantReport
    ids: list[str] = field(default_factory=list)  # the spine: each leaf's audit id ...
    hashes: list[bytes] = field(default_factory=list)  # ... and hash, up to the checkpoint's size
    by_id: dict[str, bytes] = field(default_factory=dict)
    cutoff_us: int = 0  # events created before this should be in the checkpoint


def _groups(sizes: list[tuple[str, int]], limit: int) -> list[list[str]]:
    """Consecutive tenants, each once in a group, with up to ``limit`` leaves in all."""
    groups: list[list[str]] = []
    members: set[str] = set()
    leaves = 0
    for tenant, size in sizes:
        if not groups or leaves + size > limit or tenant in members:
            groups.append([])
            members, leaves = set(), 0
        groups[-1].append(tenant)
        members.add(tenant)
        leaves += size
    return groups


def _check_log(
    log: IntegrityStore,
    public_keys: dict[str, bytes],
    tenant: str,
    leaves: int,
    since: Checkpoint | None,
    witnesses: WitnessPolicy | None,
) -> _TenantCheck:
    """Steps 1 to 3: the checkpoint's signature (and cosignatures), the spine (``leaves`` long,
    as the tree's state says) against the signed roots, and the earlier checkpoint as a prefix."""
    check = _TenantCheck(TenantReport(tenant))
    report = check.report
    found = report.findings.append
    witnessed = witnesses is not None and witnesses.quorum > 0
    checkpoint = log.latest_checkpoint(tenant, final=witnessed)
    if checkpoint is None:
        if witnessed:
            found(Finding("unwitnessed", "no checkpoint of the tenant is cosigned by the witnesses' quorum"))
        else:
            found(Finding("signature", "the tenant has no signed checkpoint"))
        return check
    report.checkpoint = checkpoint.as_dict()
    report.tree_size = size = checkpoint.tree_size
    if not verify_checkpoint(checkpoint, public_keys):
        found(Finding("signature", f"the checkpoint of size {size} does not verify with the published key"))
    elif witnesses is not None and (why := unwitnessed(checkpoint, public_keys.values(), witnesses)):
        found(Finding("unwitnessed", why))
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

    ids, hashes = read_spine(log, tenant, leaves)
    if len(ids) < size:
        found(
            Finding(
                "truncated",
                f"the log holds {len(ids)} leaves; the signed checkpoint has {size}",
                leaf_index=len(ids),
            )
        )
    roots = _prefix_roots(hashes, sorted({size} | ({since.tree_size} if since else set())))
    if len(ids) >= size and roots.get(size) != checkpoint.root_hash:
        found(Finding("spine_altered", _locate_alteration(log, tenant, hashes, size)))
    if since is not None and since.tree_size <= len(ids) and roots.get(since.tree_size) != since.root_hash:
        found(
            Finding(
                "inconsistent",
                f"today's log does not extend the earlier checkpoint of size "
                f"{since.tree_size}: history before it was rewritten",
            )
        )
    check.ids, check.hashes = ids[:size], hashes[:size]
    check.by_id = dict(zip(check.ids, check.hashes, strict=True))
    check.cutoff_us = epoch_us(parse_rfc3339(checkpoint.timestamp) - IN_FLIGHT)
    return check


def _check_events(
    store: EventStore,
    log: IntegrityStore,
    checks: dict[str, _TenantCheck],
    chunks: Iterator[LeafDigests],
    now: datetime,
    progress: Progress | None,
    progress_every: int,
) -> Iterator[TenantReport]:
    """Step 4 for a group of tenants, from one pass over their events: each event's digest is its
    leaf's (looked up by audit id), and each leaf's hash is among the store's digests. Only the
    events and leaves that fail either test are looked at one by one."""
    digests: set[bytes] = set()
    events: Counter[str] = Counter()
    odd: dict[str, list[tuple[str, int, bytes]]] = {tenant: [] for tenant in checks}
    # One lookup for the whole group: a digest equal to the leaf hash found under its audit id
    # is that leaf's record, tenant included (the hash covers it), whichever tenant's leaf it is.
    if len(checks) == 1:
        ((label, only),) = checks.items()
        by_id = only.by_id
    else:
        label, by_id = f"{len(checks)} tenants", {}
        for check in checks.values():
            by_id.update(check.by_id)
    done = 0
    for chunk in chunks:
        digests.update(chunk.digests)
        events.update(chunk.tenant_ids)
        same = list(map(eq, map(by_id.get, chunk.audit_ids), chunk.digests))
        if not all(same):
            for i in compress(range(len(same)), map(not_, same)):
                odd[chunk.tenant_ids[i]].append((chunk.audit_ids[i], chunk.created_us[i], chunk.digests[i]))
        if progress and (done + len(same)) // progress_every > done // progress_every:
            progress(label, done + len(same))
        done += len(same)
    for tenant, check in checks.items():
        if check.report.checkpoint is not None:  # else nothing to check the events against
            check.report.events = events[tenant]
            _check_odd_events(store, check, odd[tenant], digests)
            _check_leaves(log, check, digests, now.date())
        if progress:
            progress(tenant, check.report.events)
        yield check.report


def _check_odd_events(
    store: EventStore,
    check: _TenantCheck,
    odd: list[tuple[str, int, bytes]],
    digests: set[bytes],
) -> None:
    """Events whose digest is not the leaf hash of their audit id: not yet sequenced, inserted,
    or (the reference encoding decides) edited or reordered."""
    report = check.report
    found = report.findings.append
    index_of: dict[str, int] = {}
    by_hash: dict[bytes, int] = {}
    for audit_id, created_us, _ in odd:
        leaf_hash = check.by_id.get(audit_id)
        if leaf_hash is None:
            if created_us >= check.cutoff_us:
                report.in_flight += 1
            else:
                found(Finding("inserted", "stored, but not in the signed log", audit_id))
            continue
        digests.add(leaf_hash)  # its leaf has its event, edited or not
        row = store.get(report.tenant_id, audit_id)
        h = event_leaf_hash(record_from_row(row)) if row is not None else b""
        if row is not None and h != leaf_hash and store.reserialises_json:
            h = event_leaf_hash(record_from_row(row, recanonicalise=True))
        if h == leaf_hash:  # the store's fast digest was wrong
            continue
        if not index_of:
            index_of = {a: i for i, a in enumerate(check.ids)}
            by_hash = {leaf: i for i, leaf in enumerate(check.hashes)}
        index, other = index_of[audit_id], by_hash.get(h)
        if other is not None and other != index:
            found(Finding("reordered", f"its content is leaf {other}'s", audit_id, index))
        else:
            found(Finding("edited", "differs from what the log committed to", audit_id, index))


def _check_leaves(log: IntegrityStore, check: _TenantCheck, digests: set[bytes], today: date) -> None:
    """Leaves whose event the store does not have: expired, or deleted."""
    if digests.issuperset(check.hashes):
        return
    report = check.report
    missing = [i for i, h in enumerate(check.hashes) if h not in digests]
    wanted = set(missing)
    for start, end in _spans(missing):
        for leaf in log.leaves(report.tenant_id, start, end):
            if leaf.index not in wanted:
                continue
            if date.fromisoformat(leaf.expires) <= today:
                report.expired += 1
            else:
                report.findings.append(
                    Finding(
                        "deleted",
                        f"in the log, missing from the store before its expiry {leaf.expires}",
                        leaf.audit_id,
                        leaf.index,
                    )
                )


def _spans(indices: list[int], gap: int = 64) -> list[list[int]]:
    """Sorted indices as [start, end) spans to read, those less than ``gap`` apart together."""
    spans: list[list[int]] = []
    for i in indices:
        if spans and i < spans[-1][1] + gap:
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
    return spans


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


def _prefix_roots(hashes: list[bytes], sizes: list[int]) -> dict[int, bytes]:
    """Roots of the spine's prefixes of the given sizes."""
    return {s: merkle.root(hashes[:s]) for s in sizes if s <= len(hashes)}


def _locate_alteration(log: IntegrityStore, tenant: str, hashes: list[bytes], size: int) -> str:
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
        root = _prefix_roots(hashes, [cp.tree_size]).get(cp.tree_size)
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
