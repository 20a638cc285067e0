"""Small transactional state: tenant policies now; integrity checkpoints and keys later.

Embedded: an SQLite file. GCP: Firestore. Documents are small JSON objects in named collections.
"""

from __future__ import annotations

from typing import Any, Protocol

Document = dict[str, Any]


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
