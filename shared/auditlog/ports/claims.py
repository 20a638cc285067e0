"""Claims: the durable record of which version of a client-chosen id was accepted (Firestore).

A queue that cannot record ids atomically with its publish (Pub/Sub) claims each client-chosen
``(tenant, audit_id)`` before it publishes: the first claim wins and fixes the event's one
version (its committed record and receipt); a later request with the same id is a duplicate,
answered with that receipt, whether or not the registry (Redis) still remembers it. Claims are
made in groups, one per published message (``message``), so a message whose publish may not have
happened can be published again exactly as it was (``message_events``): the same content, the
same staging key, one leaf per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from auditlog.model.event import StoredEvent


@dataclass(frozen=True, slots=True)
class Claim:
    audit_id: str
    receipt: bytes  # the leaf hash the first version was answered with
    message: str  # the key of the message that carries that version
    event: StoredEvent | None = None  # the committed record, when read back


class ClaimStore(Protocol):
    def claim(
        self, tenant_id: str, messages: list[tuple[str, list[tuple[StoredEvent, bytes]]]]
    ) -> list[dict[str, Claim]]:
        """Claim each event's id for its version (``(record, receipt)`` pairs), as part of its
        message (``(message key, events)``), atomically per id. For each message, in order, the
        claims that beat it: ids claimed before this call, or by an earlier message of it (left
        as they were)."""
        ...

    def message_events(self, tenant_id: str, message: str) -> list[StoredEvent]:
        """The claimed events of ``message``, in the order it was claimed with."""
        ...

    def close(self) -> None: ...
