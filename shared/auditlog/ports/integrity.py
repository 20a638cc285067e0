"""The integrity log's storage: staged leaves, each tenant's tree (its frontier and nodes), the
spine of leaves, and signed checkpoints. SQLite locally, Firestore on GCP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from auditlog.ledger.checkpoints import Checkpoint
from auditlog.ledger.leaves import SpineLeaf, StagedBatch, StagedInput
from auditlog.ledger.merkle import Frontier, NodeId


@dataclass(frozen=True, slots=True)
class TreeState:
    frontier: Frontier
    version: Any  # opaque compare-and-swap token; None before the first commit


class IntegrityStore(Protocol):
    """Where the log lives: SQLite locally, Firestore on GCP."""

    def stage(self, batches: list[StagedInput]) -> None:
        """Record batches' leaves for sequencing, atomically; a (tenant, key) staged before is
        left as it is."""
        ...

    def pending(self, tenant_id: str, max_batches: int) -> list[StagedBatch]:
        """Staged, not yet integrated batches, oldest first."""
        ...

    def pending_tenants(self) -> list[str]: ...

    def tenants(self) -> list[str]:
        """Tenants that have a tree."""
        ...

    def state(self, tenant_id: str) -> TreeState: ...

    def nodes(self, tenant_id: str, ids: set[NodeId]) -> dict[NodeId, bytes]: ...

    def commit(
        self,
        tenant_id: str,
        expected: TreeState,
        frontier: Frontier,
        nodes: dict[NodeId, bytes],
        leaves: list[SpineLeaf],
        integrated: list[tuple[str, int]],
    ) -> bool:
        """Atomically: the new tree state (only if still ``expected``), its nodes, the leaves'
        ids and expiry, and the staged batches marked integrated at their first index. False if
        another sequencer committed first."""
        ...

    def locate(self, tenant_id: str, audit_id: str) -> int | None: ...

    def locate_many(self, tenant_id: str, audit_ids: list[str]) -> dict[str, int]:
        """Leaf indices of those of ``audit_ids`` that are sequenced."""
        ...

    def leaves(self, tenant_id: str, start: int, end: int) -> list[SpineLeaf]: ...

    def spine(self, tenant_id: str, start: int, end: int) -> tuple[list[str], list[bytes]]:
        """The audit ids and leaf hashes of ``leaves(tenant_id, start, end)``, as two lists (the
        verifier's bulk read: no object per leaf)."""
        ...

    def put_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    def latest_checkpoint(self, tenant_id: str, *, final: bool = False) -> Checkpoint | None:
        """The newest checkpoint; with ``final``, the newest the witness quorum has cosigned."""
        ...

    def checkpoint_at(self, tenant_id: str, tree_size: int) -> Checkpoint | None:
        """The newest checkpoint signed at exactly this size."""
        ...

    def close(self) -> None: ...
