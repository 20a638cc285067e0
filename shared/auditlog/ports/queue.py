"""The event queue: ingest publishes accepted events to it; the writer drains it into the store.

A publish resolves only once the events are durable (a committed journal locally, a confirmed
Pub/Sub publish on GCP). The queue also decides which events are duplicates of ones already
accepted for the tenant, and answers a duplicate with the receipt its first copy was given: one
committed version of every event, however often a client retries.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import NamedTuple, Protocol

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


class Outcome(NamedTuple):
    """What a publish did with one event: enqueued it (``new``), or found it a duplicate of an
    event accepted before, whose receipt (leaf hash) ``receipt`` is, when the queue knows it."""

    new: bool
    receipt: bytes | None = None


NEW = Outcome(True)


class EventQueue(Protocol):
    def publish(
        self,
        tenant_id: str,
        events: list[StoredEvent],
        leaves: list[bytes] | None = None,
        *,
        client_ids: list[bool] | None = None,
    ) -> Future[list[Outcome]]:
        """Durably enqueue; the future gives each event's ``Outcome``. ``leaves``: the events'
        leaf hashes (the receipts); ``client_ids``: which events carry an id their client chose
        (only those can be retried, so only those need an exact duplicate check)."""
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
    """A cache of the ids a tenant already had accepted, with their receipts (Redis). It may
    forget anything at any time (a flush, a failover, an expiry): the claims are the authority."""

    def known(self, tenant_id: str, audit_ids: list[str]) -> dict[str, bytes]:
        """The receipts of those of ``audit_ids`` it remembers."""
        ...

    def remember(self, tenant_id: str, receipts: dict[str, bytes]) -> None: ...

    def close(self) -> None: ...
