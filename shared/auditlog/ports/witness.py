"""A witness's memory: per log origin, the newest checkpoint it cosigned. SQLite locally (and on
a witness's own machine), Firestore on GCP. ``advance`` is the atomic check-and-store the
tlog-witness specification requires: without it two racing submissions could roll the witness
back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Cosigned:
    size: int
    root_hash: bytes
    note: str  # the checkpoint as cosigned: the log's signatures and the witness's cosignature


class WitnessState(Protocol):
    def latest(self, origin: str) -> Cosigned | None: ...

    def latest_by_hash(self, origin_hash: str) -> Cosigned | None:
        """``latest`` of the origin whose SHA-256 is ``origin_hash`` (lowercase hex)."""
        ...

    def advance(self, origin: str, expected_size: int, new: Cosigned) -> int | None:
        """If the size held for ``origin`` (0 when none) is ``expected_size``, store ``new``
        durably and return None; else store nothing and return the size held."""
        ...

    def close(self) -> None: ...


def origin_hash(origin: str) -> str:
    return hashlib.sha256(origin.encode()).hexdigest()
