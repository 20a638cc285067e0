"""Reading the integrity log: checkpoints, the public key, inclusion and consistency proofs.

The JSON shapes are docs/INTEGRITY.md's. A proof names the checkpoint it was computed against
and carries it, so a client needs nothing else but the public key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from auditlog import access, integrity
from auditlog.access import Capability
from auditlog.errors import FieldProblem, InvalidInput, NotFound, NotYetSequenced
from auditlog.event import is_uuid
from auditlog.identity import Principal
from auditlog.integrity import Checkpoint, CheckpointSigner, IntegrityStore
from auditlog.self_audit import RequestContext, SelfAudit
from auditlog.store import EventStore


class IntegrityReader:
    def __init__(
        self,
        log: IntegrityStore,
        store: EventStore,
        signer: CheckpointSigner,
        self_audit: SelfAudit,
        *,
        recanonicalise: bool,
    ) -> None:
        self._log = log
        self._store = store
        self._signer = signer
        self._self_audit = self_audit
        self._recanonicalise = recanonicalise

    def public_keys(self) -> dict[str, Any]:
        return self._signer.public_keys()

    def _tenant(self, principal: Principal, tenant_id: str | None) -> str:
        access.require(principal, Capability.READ)
        (tenant,) = access.readable_tenants(principal, [tenant_id] if tenant_id else [])
        return tenant

    def _latest(self, tenant: str) -> Checkpoint:
        checkpoint = self._log.latest_checkpoint(tenant)
        if checkpoint is None:
            raise NotFound(f"tenant {tenant} has no checkpoint yet")
        return checkpoint

    def _at(self, tenant: str, tree_size: int) -> Checkpoint:
        checkpoint = self._log.checkpoint_at(tenant, tree_size)
        if checkpoint is None:
            raise NotFound(
                f"no checkpoint of size {tree_size} in tenant {tenant}",
                [FieldProblem("tree_size", "names a size no checkpoint was signed at")],
            )
        return checkpoint

    def latest(self, principal: Principal, tenant_id: str | None) -> dict[str, Any]:
        return self._latest(self._tenant(principal, tenant_id)).as_dict()

    def at_size(self, principal: Principal, tenant_id: str | None, tree_size: int) -> dict[str, Any]:
        return self._at(self._tenant(principal, tenant_id), tree_size).as_dict()

    def proof(
        self,
        principal: Principal,
        audit_id: str,
        tenant_id: str | None,
        tree_size: int | None,
        now: datetime,
        context: RequestContext | None = None,
    ) -> dict[str, Any]:
        tenant = self._tenant(principal, tenant_id)
        if not is_uuid(audit_id):
            raise InvalidInput(
                "audit_id is not a UUID",
                [FieldProblem("audit_id", "must be a UUID in its 36-character form")],
            )
        audit_id = audit_id.lower()
        index = self._log.locate(tenant, audit_id)
        row = self._store.get(tenant, audit_id)
        self._self_audit.record(
            principal,
            context,
            action="events.proof",
            tenants=[tenant],
            status="success" if index is not None else "not_found",
            resource_id=audit_id,
            now=now,
        )
        if index is None:
            if row is not None:
                raise NotYetSequenced(f"event {audit_id} is accepted but not yet sequenced; retry shortly")
            raise NotFound(
                f"no event {audit_id} in this tenant (one accepted in the last second may not be "
                "stored yet)"
            )
        checkpoint = self._latest(tenant) if tree_size is None else self._at(tenant, tree_size)
        if index >= checkpoint.tree_size:
            if tree_size is not None:
                raise InvalidInput(
                    f"event {audit_id} is not in the tree of size {tree_size}",
                    [FieldProblem("tree_size", f"must be greater than the event's index {index}")],
                )
            raise NotYetSequenced(f"event {audit_id} is sequenced but not yet in a checkpoint")
        (leaf,) = self._log.leaves(tenant, index, index + 1)
        path = integrity.inclusion(self._log, tenant, index, checkpoint)
        return {
            "audit_id": audit_id,
            "leaf_index": index,
            "tree_size": checkpoint.tree_size,
            "leaf_hash": leaf.leaf_hash.hex(),
            "audit_path": [h.hex() for h in path],
            "checkpoint": checkpoint.as_dict(),
            "record": None
            if row is None
            else integrity.record_from_row(row, recanonicalise=self._recanonicalise),
        }

    def consistency(
        self, principal: Principal, tenant_id: str | None, first: int, second: int | None
    ) -> dict[str, Any]:
        tenant = self._tenant(principal, tenant_id)
        if second is None:
            second = self._latest(tenant).tree_size
        size = self._log.state(tenant).frontier.size
        if not 0 <= first <= second or second > size:
            raise InvalidInput(
                f"no consistency proof from {first} to {second} (the tree has {size} leaves)",
                [FieldProblem("first", f"must be between 0 and second ({second}), which is at most {size}")],
            )
        return {
            "first": first,
            "second": second,
            "proof": [h.hex() for h in integrity.consistency(self._log, tenant, first, second)],
            "first_root": integrity.root_at(self._log, tenant, first).hex(),
            "second_root": integrity.root_at(self._log, tenant, second).hex(),
        }


# -- The documented shapes (the OpenAPI document is generated from these) ----------------------

_HEX = "Lowercase hex."


class CheckpointOut(BaseModel):
    """A signed tree head. Ed25519 over the five lines ``auditlog-checkpoint/v1``, tenant_id,
    tree_size, root_hash, timestamp, each followed by a newline."""

    tenant_id: str
    tree_size: int = Field(ge=0)
    root_hash: str = Field(description="RFC 9162 root of the first tree_size leaves. " + _HEX)
    timestamp: str = Field(description="RFC 3339 UTC with microseconds and Z.")
    key_id: str = Field(description="First 8 bytes of SHA-256 of the raw public key. " + _HEX)
    signature: str = Field(description="Ed25519 signature. " + _HEX)


class PublicKeyOut(BaseModel):
    key_id: str
    algorithm: Literal["Ed25519"]
    public_key: str = Field(description="The raw 32-byte key. " + _HEX)


class PublicKeysOut(BaseModel):
    keys: list[PublicKeyOut]


class InclusionProofOut(BaseModel):
    audit_id: str
    leaf_index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    leaf_hash: str = Field(description="SHA-256(0x00 || JCS(record)). " + _HEX)
    audit_path: list[str] = Field(description="RFC 9162 2.1.3 inclusion path, leaf to root. " + _HEX)
    checkpoint: CheckpointOut
    record: dict[str, Any] | None = Field(
        description="The committed record (20 members; JSON columns as text); null once retention "
        "deleted the payload."
    )


class ConsistencyProofOut(BaseModel):
    first: int = Field(ge=0)
    second: int = Field(ge=0)
    proof: list[str] = Field(description="RFC 9162 2.1.4 consistency proof. " + _HEX)
    first_root: str
    second_root: str


class IntegrityRunOut(BaseModel):
    integrated: dict[str, int] = Field(description="Leaves added per tenant in this run.")
