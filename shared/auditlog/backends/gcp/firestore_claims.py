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
    ) -> list[dict[str, Claim]]:
        expire_at = datetime.now(UTC) + self._ttl
        beaten: list[dict[str, Claim]] = [{} for _ in messages]
        documents: list[tuple[int, Any, dict[str, Any]]] = []  # (message index, ref, document)
        mine: dict[str, dict[str, Any]] = {}  # an id twice in this call: the first message has it
        for m, (key, events) in enumerate(messages):
            message = f"{_tid(tenant_id)}_{key}"
            for seq, (event, receipt) in enumerate(events):
                audit_id = event["audit_id"]
                if audit_id in mine:
                    beaten[m][audit_id] = _claim(mine[audit_id])
                    continue
                document = {
                    "tenant_id": tenant_id,
                    "message": message,
                    "seq": seq,
                    "receipt": receipt.hex(),
                    "record": orjson.dumps(event).decode(),
                    "expire_at": expire_at,
                }
                documents.append((m, self._ref(tenant_id, audit_id), document))
                mine[audit_id] = document
        older: dict[str, Claim] = {}  # ids claimed before this call
        for start in range(0, len(documents), BATCH):
            chunk = documents[start : start + BATCH]
            batch = self._client.batch()
            for _, ref, document in chunk:
                batch.create(ref, document)
            try:
                batch.commit()
            except (AlreadyExists, Conflict):
                for m, claim in self._one_by_one(chunk):
                    beaten[m][claim.audit_id] = older[claim.audit_id] = claim
        # A repeat beaten by this call's first copy is beaten by the older claim, if it lost too.
        for found in beaten:
            found.update({a: older[a] for a in found if a in older})
        return beaten

    def _one_by_one(self, chunk: list[tuple[int, Any, dict[str, Any]]]) -> list[tuple[int, Claim]]:
        """A batch that held an existing id, one create at a time: the claims that beat it."""
        beaten: list[tuple[int, Claim]] = []
        for m, ref, document in chunk:
            try:
                ref.create(document)
            except (AlreadyExists, Conflict):
                snapshot = ref.get()
                if snapshot.exists:
                    beaten.append((m, _claim(snapshot.to_dict() or {})))
        return beaten

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
