"""A witness's state in Firestore (a witness deployed on GCP, ``terraform/witness``): one document
per log origin, ``{prefix}_witness/{sha256(origin)}``. ``advance`` writes with a precondition on
the document as read (its update time, or its absence), so of two racing submissions only one
lands and the other is told the size now held."""

from __future__ import annotations

from typing import Any

from google.api_core.exceptions import AlreadyExists, FailedPrecondition
from google.cloud import firestore

from auditlog.ports.witness import Cosigned, origin_hash


class FirestoreWitnessState:
    def __init__(self, client: firestore.Client, prefix: str = "auditlog") -> None:
        self._client = client
        self._collection = client.collection(f"{prefix}_witness")

    def _document(self, origin: str) -> firestore.DocumentReference:
        return self._collection.document(origin_hash(origin))

    def latest(self, origin: str) -> Cosigned | None:
        return self.latest_by_hash(origin_hash(origin))

    def latest_by_hash(self, origin_hash: str) -> Cosigned | None:
        if len(origin_hash) != 64 or any(c not in "0123456789abcdef" for c in origin_hash):
            return None
        snapshot = self._collection.document(origin_hash).get()
        return _cosigned(snapshot.to_dict()) if snapshot.exists else None

    def advance(self, origin: str, expected_size: int, new: Cosigned) -> int | None:
        document = self._document(origin)
        snapshot = document.get()
        held = int((snapshot.to_dict() or {}).get("size", 0)) if snapshot.exists else 0
        if held != expected_size:
            return held
        fields = {"origin": origin, "size": new.size, "root_hash": new.root_hash, "note": new.note}
        try:
            if snapshot.exists:
                option = self._client.write_option(last_update_time=snapshot.update_time)
                document.update(fields, option=option)
            else:
                document.create(fields)
        except (AlreadyExists, FailedPrecondition):
            now = self.latest(origin)
            return 0 if now is None else now.size
        return None

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


def _cosigned(fields: dict[str, Any] | None) -> Cosigned | None:
    if not fields:
        return None
    return Cosigned(int(fields["size"]), bytes(fields["root_hash"]), str(fields["note"]))
