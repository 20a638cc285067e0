"""GCP state store: Firestore, one top-level collection per state collection.

Collections are named ``{prefix}_{collection}`` so the service's state sits apart from anything
else in the database. ``create`` is ``DocumentReference.create()``, which fails with AlreadyExists
when the document exists: an atomic create-if-absent without a transaction (transactions that
contend on one document stall in the emulator and serialise badly in production).

Firestore limits what the other store accepts too: ids follow Firestore's rules (checked here the
same way as in ``sqlite_state``), and arrays cannot directly contain arrays.
"""

from __future__ import annotations

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from auditlog.ports.state import Document, check_name


class FirestoreStateStore:
    def __init__(self, client: firestore.Client, prefix: str = "auditlog") -> None:
        self._client = client
        self._prefix = prefix

    def _collection(self, collection: str) -> firestore.CollectionReference:
        return self._client.collection(f"{self._prefix}_{check_name(collection)}")

    def _document(self, collection: str, key: str) -> firestore.DocumentReference:
        return self._collection(collection).document(check_name(key))

    def get(self, collection: str, key: str) -> Document | None:
        snapshot = self._document(collection, key).get()
        return snapshot.to_dict() if snapshot.exists else None

    def put(self, collection: str, key: str, document: Document) -> None:
        self._document(collection, key).set(_checked(document))

    def create(self, collection: str, key: str, document: Document) -> bool:
        try:
            self._document(collection, key).create(_checked(document))
        except AlreadyExists:
            return False
        return True

    def delete(self, collection: str, key: str) -> None:
        self._document(collection, key).delete()

    def list(self, collection: str) -> list[tuple[str, Document]]:
        """Every document of ``collection``, by key."""
        return [(snapshot.id, snapshot.to_dict() or {}) for snapshot in self._collection(collection).stream()]

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]  # the library leaves it unannotated


def _checked(document: Document) -> Document:
    if not isinstance(document, dict):
        raise TypeError(f"a state document is a JSON object, not {type(document).__name__}")
    return document
