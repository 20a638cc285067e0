"""The event queue: ingest publishes accepted events to it; the writer drains it into the store.

A publish resolves only once the events are durable (a committed journal locally, a confirmed
Pub/Sub publish on GCP). The queue also owns the idempotency registry, so that the answer to a
publish can say which events were duplicates of ones already accepted for the tenant.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from auditlog.model.event import StoredEvent


@dataclass(frozen=True, slots=True)
class QueuedBatch:
    """One published batch as the writer receives it. ``position`` grows with each publish."""

    position: int
    tenant_id: str
    events: list[StoredEvent]
    # Each event's leaf hash, when the publisher's are at hand (the receipts it answered with);
    # otherwise the writer computes them.
    leaves: list[bytes] | None = None


class EventQueue(Protocol):
    def publish(
        self, tenant_id: str, events: list[StoredEvent], leaves: list[bytes] | None = None
    ) -> Future[list[bool]]:
        """Durably enqueue; the future gives, per event, True if new and False if a duplicate.
        ``leaves``: the events' leaf hashes, which a queue may hand to its writer."""
        ...

    def depth(self) -> int:
        """Events accepted but not yet acknowledged by the writer."""
        ...

    def close(self) -> None: ...


class PulledQueue(EventQueue, Protocol):
    """A queue the in-process writer pulls from (the embedded journal)."""

    def pull(self, after_position: int, max_events: int, timeout: float) -> list[QueuedBatch]:
        """Batches after ``after_position``, waiting up to ``timeout`` seconds for the first."""
        ...

    def acknowledge(self, position: int) -> None:
        """Everything up to ``position`` is durable in the store and may be dropped."""
        ...


class IdempotencyRegistry(Protocol):
    """Which (tenant, audit_id) pairs were already accepted; used by queues that cannot record
    ids atomically with the publish (Pub/Sub). The store's own de-duplication stays the
    guarantee; the registry makes the ``duplicate`` answer exact within its retention."""

    def known(self, tenant_id: str, audit_ids: list[str]) -> set[str]: ...

    def remember(self, tenant_id: str, audit_ids: list[str]) -> None: ...

    def close(self) -> None: ...
