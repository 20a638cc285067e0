"""Claims on Firestore (``ports/claims.py``): one document per client-chosen id, created before
the event's message is published.

``auditlog_claims/{tid}_{audit_id}`` holds the tenant, the receipt (hex), the message key
(``{tid}_{key}``, so one equality filter finds a message's claims with Firestore's automatic
single-field index), the event's place in its message, the committed record (JSON text) and
``expire_at``, the field a TTL policy removes it by (``AUDITLOG_IDEMPOTENCY_TTL_DAYS``).

``create`` is the primitive: it fails with ``AlreadyExists`` on an existing document, so of any
number of instances racing on one id exactly one wins (checked on the emulator: 8 threads on 50
keys, 50 wins). Claims are written in batches of ``BATCH`` creates; a batch holding an id that
exists fails as a whole, and is then written one create at a time.

Cost: one document write per event that carries a client-chosen id (the answer's only extra
round trip), and one read per duplicate the registry had forgotten. Events with server-assigned
ids need no claim: no client can send them twice.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from google.api_core.exceptions import AlreadyExists, Conflict
from google.cloud import firestore

from auditlog.model.event import StoredEvent
from auditlog.ports.claims import Claim

BATCH = 400


def _tid(tenant_id: str) -> str:
    return hashlib.sha256(tenant_id.encode()).hexdigest()[:32]


class FirestoreClaimStore:
    def __init__(
        self, client: firestore.Client, *, ttl_days: int, collection: str = "auditlog_claims"
    ) -> None:
        self._client = client
        self._claims = client.collection(collection)
        self._ttl = timedelta(days=ttl_days)

    def _ref(self, tenant_id: str, audit_id: str) -> Any:
        return self._claims.document(f"{_tid(tenant_id)}_{audit_id}")

    def claim(
        self, tenant_id: str, messages: list[tuple[str, list[tuple[StoredEvent, bytes]]]]
    ) -> dict[str, Claim]:
        expire_at = datetime.now(UTC) + self._ttl
        documents: list[tuple[Any, dict[str, Any]]] = []
        existing: dict[str, Claim] = {}
        mine: dict[str, dict[str, Any]] = {}  # an id twice in this call: the first message has it
        for key, events in messages:
            message = f"{_tid(tenant_id)}_{key}"
            for seq, (event, receipt) in enumerate(events):
                audit_id = event["audit_id"]
                if audit_id in mine:
                    existing[audit_id] = _claim(mine[audit_id])
                    continue
                documents.append(
                    (
                        self._ref(tenant_id, event["audit_id"]),
                        {
                            "tenant_id": tenant_id,
                            "message": message,
                            "seq": seq,
                            "receipt": receipt.hex(),
                            "record": orjson.dumps(event).decode(),
                            "expire_at": expire_at,
                        },
                    )
                )
                mine[audit_id] = documents[-1][1]
        for start in range(0, len(documents), BATCH):
            chunk = documents[start : start + BATCH]
            batch = self._client.batch()
            for ref, document in chunk:
                batch.create(ref, document)
            try:
                batch.commit()
            except (AlreadyExists, Conflict):
                existing.update(self._one_by_one(chunk))
        return existing

    def _one_by_one(self, chunk: list[tuple[Any, dict[str, Any]]]) -> dict[str, Claim]:
        existing: dict[str, Claim] = {}
        for ref, document in chunk:
            try:
                ref.create(document)
            except (AlreadyExists, Conflict):
                snapshot = ref.get()
                if snapshot.exists:
                    claim = _claim(snapshot.to_dict() or {})
                    existing[claim.audit_id] = claim
        return existing

    def message_events(self, tenant_id: str, message: str) -> list[StoredEvent]:
        scoped = f"{_tid(tenant_id)}_{message}"
        query = self._claims.where(filter=firestore.FieldFilter("message", "==", scoped))
        found = sorted(((s.to_dict() or {}) for s in query.stream()), key=lambda d: int(d["seq"]))
        return [orjson.loads(d["record"]) for d in found if d.get("tenant_id") == tenant_id]

    def close(self) -> None:
        pass  # the client is shared with the state store, which closes it


def _claim(document: dict[str, Any]) -> Claim:
    event: StoredEvent = orjson.loads(document["record"])
    message = str(document["message"]).partition("_")[2]  # the key as given, without the tenant's hash
    return Claim(event["audit_id"], bytes.fromhex(document["receipt"]), message, event)
