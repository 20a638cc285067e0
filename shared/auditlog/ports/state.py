"""Small transactional state: tenant policies now; integrity checkpoints and keys later.

Embedded: an SQLite file. GCP: Firestore. Documents are small JSON objects in named collections.
"""

from __future__ import annotations

from typing import Any, Protocol

Document = dict[str, Any]


def check_name(name: str) -> str:
    """``name`` if it is a valid Firestore id, else ValueError. Both stores apply Firestore's
    rules (no ``/``, not ``.``/``..``, not ``__x__``, at most 1,500 bytes), so what works locally
    also works on GCP. Documents likewise may not hold arrays directly inside arrays."""
    if (
        not name
        or "/" in name
        or name in (".", "..")
        or (name.startswith("__") and name.endswith("__"))
        or len(name.encode()) > 1500
    ):
        raise ValueError(f"invalid state collection or key name: {name!r}")
    return name


class StateStore(Protocol):
    def get(self, collection: str, key: str) -> Document | None: ...

    def put(self, collection: str, key: str, document: Document) -> None:
        """Create or replace."""
        ...

    def create(self, collection: str, key: str, document: Document) -> bool:
        """Create only if absent; False if it already existed (an idempotency primitive)."""
        ...

    def delete(self, collection: str, key: str) -> None: ...

    def list(self, collection: str) -> list[tuple[str, Document]]: ...

    def close(self) -> None: ...
