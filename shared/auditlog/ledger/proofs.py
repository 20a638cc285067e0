"""Reading the integrity log: checkpoints, the public key, inclusion and consistency proofs.

The JSON shapes are docs/INTEGRITY.md's (``model/proofs.py``). A proof names the checkpoint it
was computed against and carries it, so a client needs nothing else but the public key. The HTTP
app admitted the caller and records the read; which tenant it may read is decided here, from the
tenant it named.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from auditlog.auth import access
from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, InvalidInput, NotFound, NotYetSequenced
from auditlog.ledger import tiles, tree
from auditlog.ledger.checkpoints import Checkpoint, CheckpointSigner
from auditlog.ledger.leaves import record_from_row
from auditlog.ledger.manifest import manifest_lines
from auditlog.ledger.notes import NoteKey
from auditlog.ledger.sequencer import Sequencer
from auditlog.model.event import COLUMNS
from auditlog.model.proofs import (
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    PublicKeysOut,
    VerifierKeysOut,
)
from auditlog.ports.cache import QueryCache
from auditlog.ports.integrity import IntegrityStore
from auditlog.ports.store import EventStore
from auditlog.read.self_audit import is_self_audit_type
from auditlog.settings import missing_secret

_TYPE = COLUMNS.index("event_type")


def checkpoint_out(checkpoint: Checkpoint) -> CheckpointOut:
    return CheckpointOut.model_validate(checkpoint.as_dict())


class IntegrityReader:
    """``sequencer``: signs a checkpoint on demand when a proof asks for a leaf that is in the
    tree but in no checkpoint yet (on GCP the writer integrates but cannot sign). ``cache``
    keeps full hash tiles, which never change, for ``tile_ttl_seconds`` (Memorystore on GCP)."""

    def __init__(
        self,
        log: IntegrityStore,
        store: EventStore,
        signer: CheckpointSigner | None,
        sequencer: Sequencer | None = None,
        cache: QueryCache | None = None,
        tile_ttl_seconds: float = 0.0,
    ) -> None:
        self._log = log
        self._store = store
        self._signer = signer
        self._sequencer = sequencer
        self._cache = cache if tile_ttl_seconds > 0 else None
        self._tile_ttl = tile_ttl_seconds

    def _key(self) -> CheckpointSigner:
        if self._signer is None:
            raise missing_secret("AUDITLOG_SIGNING_KEY", "serves the log's public key")
        return self._signer

    def public_keys(self) -> PublicKeysOut:
        return PublicKeysOut.model_validate(self._key().public_keys())

    @staticmethod
    def tenant(principal: Principal, tenant_id: str | None) -> str:
        # Which tenant may be read depends on the one named: decided per request.
        (tenant,) = access.readable_tenants(principal, [tenant_id] if tenant_id else [])
        return tenant

    @property
    def _witnessed(self) -> bool:
        return self._signer is not None and self._signer.witnessed

    def _latest(self, tenant: str) -> Checkpoint:
        """The newest final checkpoint: cosigned by the witness quorum when witnesses are
        configured (checkpoints signed before ``final`` existed count as final without them)."""
        checkpoint = self._log.latest_checkpoint(tenant, final=True)
        if checkpoint is None and not self._witnessed:
            checkpoint = self._log.latest_checkpoint(tenant)
        if checkpoint is None:
            raise NotFound(f"tenant {tenant} has no final checkpoint yet")
        return checkpoint

    def _at(self, tenant: str, tree_size: int) -> Checkpoint:
        checkpoint = self._log.checkpoint_at(tenant, tree_size)
        if checkpoint is None:
            raise NotFound(
                f"no checkpoint of size {tree_size} in tenant {tenant}",
                [FieldProblem("tree_size", "names a size no checkpoint was signed at")],
            )
        return checkpoint

    def latest(self, tenant: str) -> CheckpointOut:
        return checkpoint_out(self._latest(tenant))

    def at_size(self, tenant: str, tree_size: int) -> CheckpointOut:
        return checkpoint_out(self._at(tenant, tree_size))

    def locate(self, tenant: str, audit_id: str) -> int | None:
        return self._log.locate(tenant, audit_id)

    def proof(
        self,
        tenant: str,
        audit_id: str,
        tree_size: int | None,
        now: datetime,
        *,
        self_audit_visible: bool = True,
    ) -> InclusionProofOut:
        """``self_audit_visible``: whether the caller may see the service's own records; when
        not, such an event is "not found", as its get is."""
        audit_id = audit_id.lower()
        index = self._log.locate(tenant, audit_id)
        row = self._store.get(tenant, audit_id)
        if row is not None and not self_audit_visible and is_self_audit_type(row[_TYPE]):
            raise NotFound(f"no event {audit_id} in this tenant")
        if index is None:
            if row is not None:
                raise NotYetSequenced(f"event {audit_id} is accepted but not yet sequenced; retry shortly")
            raise NotFound(
                f"no event {audit_id} in this tenant (one accepted in the last second may not be "
                "stored yet)"
            )
        checkpoint = self._latest(tenant) if tree_size is None else self._at(tenant, tree_size)
        if (
            index >= checkpoint.tree_size
            and tree_size is None
            and self._sequencer is not None
            and not self._witnessed  # a new checkpoint is final only once witnesses cosign it
        ):
            checkpoint = self._sequencer.checkpoint(tenant) or checkpoint  # due: sign it now
        if index >= checkpoint.tree_size:
            if tree_size is not None:
                raise InvalidInput(
                    f"event {audit_id} is not in the tree of size {tree_size}",
                    [FieldProblem("tree_size", f"must be greater than the event's index {index}")],
                )
            raise NotYetSequenced(f"event {audit_id} is sequenced but not yet in a final checkpoint")
        (leaf,) = self._log.leaves(tenant, index, index + 1)
        if row is None and leaf.expires > now.date().isoformat():
            # Sequenced from the writer's staging, but its append is not visible yet.
            raise NotYetSequenced(f"event {audit_id} is not stored yet; retry shortly")
        path = tree.inclusion(self._log, tenant, index, checkpoint)
        return InclusionProofOut(
            audit_id=audit_id,
            leaf_index=index,
            tree_size=checkpoint.tree_size,
            leaf_hash=leaf.leaf_hash.hex(),
            audit_path=[h.hex() for h in path],
            checkpoint=checkpoint_out(checkpoint),
            record=None
            if row is None
            else record_from_row(row, recanonicalise=self._store.reserialises_json),
        )

    def manifest(
        self, tenant: str, records: Iterator[list[dict[str, Any]]], *, with_proofs: bool
    ) -> Iterator[bytes]:
        """An export of ``records`` with its manifest line (``manifest.py``)."""
        return manifest_lines(self._log, self._key(), tenant, records, with_proofs=with_proofs)

    # -- C2SP: checkpoints as signed notes, verifier keys, tiles --------------------------------

    def note(self, tenant: str) -> str:
        """The newest final checkpoint as a C2SP signed note, cosignatures included."""
        checkpoint = self._latest(tenant)
        if checkpoint.note is None:
            raise NotFound(f"tenant {tenant}'s newest checkpoint predates signed notes; the next one has it")
        return checkpoint.note

    def verifier_keys(self, tenant: str, witnesses: list[NoteKey], quorum: int) -> VerifierKeysOut:
        signer = self._key()
        return VerifierKeysOut(
            origin=signer.origin(tenant),
            log=[k.vkey for k in signer.note_keys(tenant)],
            witnesses=[k.vkey for k in witnesses],
            quorum=quorum,
        )

    def tile(self, tenant: str, path: str) -> bytes:
        tile = tiles.Tile.parse(path)
        if tile.level is None:
            raise InvalidInput(
                "entry bundles have a route of their own", [FieldProblem("tile", "names an entry bundle")]
            )
        if tile.width != tiles.WIDTH or self._cache is None:
            return tiles.hashes(self._log, tenant, tile, self._latest(tenant).tree_size)
        # A full tile is final once a checkpoint covers it, and a tree only grows: a cached one
        # needs neither the checkpoint nor the store. Entry bundles are not cached: retention and
        # erasure must take their records away.
        key = f"tile:{tenant}:{tile.path}"
        cached = self._cache.get(key)
        if cached is not None and len(cached) == tiles.WIDTH * 32:
            return cached
        data = tiles.hashes(self._log, tenant, tile, self._latest(tenant).tree_size)
        self._cache.set(key, data, self._tile_ttl)
        return data

    def entries(self, tenant: str, path: str) -> bytes:
        tile = tiles.Tile.parse("entries/" + path)
        return tiles.entries(self._log, self._store, tenant, tile, self._latest(tenant).tree_size)

    def consistency(self, tenant: str, first: int, second: int | None) -> ConsistencyProofOut:
        if second is None:
            second = self._latest(tenant).tree_size
        size = self._log.state(tenant).frontier.size
        if not 0 <= first <= second or second > size:
            raise InvalidInput(
                f"no consistency proof from {first} to {second} (the tree has {size} leaves)",
                [FieldProblem("first", f"must be between 0 and second ({second}), which is at most {size}")],
            )
        return ConsistencyProofOut(
            first=first,
            second=second,
            proof=[h.hex() for h in tree.consistency(self._log, tenant, first, second)],
            first_root=tree.root_at(self._log, tenant, first).hex(),
            second_root=tree.root_at(self._log, tenant, second).hex(),
        )
