"""Reading the integrity log: checkpoints, the public key, inclusion and consistency proofs.

The JSON shapes are docs/INTEGRITY.md's. A proof names the checkpoint it was computed against
and carries it, so a client needs nothing else but the public key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from auditlog.auth import access
from auditlog.auth.access import Capability
from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, InvalidInput, NotFound, NotYetSequenced
from auditlog.ledger import integrity, merkle
from auditlog.ledger.integrity import Checkpoint, CheckpointSigner, IntegrityStore
from auditlog.model.event import is_uuid
from auditlog.ports.store import EventStore, Row
from auditlog.read.self_audit import RequestContext, SelfAudit


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
        self.recanonicalise = recanonicalise

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
                f"no event {audit_id} in this tenant (one accepted in the last second may not be stored yet)"
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
        if row is None and leaf.expires > now.date().isoformat():
            # Sequenced from the writer's staging, but its append is not visible yet.
            raise NotYetSequenced(f"event {audit_id} is not stored yet; retry shortly")
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
            else integrity.record_from_row(row, recanonicalise=self.recanonicalise),
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


# -- Exports that verify offline ------------------------------------------------------------------

EXPORT_FORMAT = "auditlog-export/v1"


def manifest_lines(
    log: IntegrityStore,
    signer: CheckpointSigner,
    tenant: str,
    chunks: Iterator[list[Row]],
    *,
    recanonicalise: bool,
    with_proofs: bool,
) -> Iterator[bytes]:
    """NDJSON: one committed record per line, as the log committed to it (JSON columns as text,
    encrypted fields sealed), then one ``{"manifest": ...}`` line: the checkpoint the export was
    taken against, the signing key, and per line its leaf index and hash (and on request its
    inclusion path). ``auditlog verify-export`` checks such a file with nothing else."""
    checkpoint = log.latest_checkpoint(tenant)
    size = checkpoint.tree_size if checkpoint else 0
    leaves: list[list[Any]] = []
    for rows in chunks:
        records = [integrity.record_from_row(r, recanonicalise=recanonicalise) for r in rows]
        located = log.locate_many(tenant, [r["audit_id"] for r in records])
        out = bytearray()
        for record in records:
            index = located.get(record["audit_id"])
            covered = index is not None and index < size and checkpoint is not None
            entry: list[Any] = [index if covered else None, integrity.event_leaf_hash(record).hex()]
            if with_proofs and covered and checkpoint is not None and index is not None:
                entry.append([h.hex() for h in integrity.inclusion(log, tenant, index, checkpoint)])
            leaves.append(entry)
            out += orjson.dumps(record) + b"\n"
        yield bytes(out)
    manifest = {
        "format": EXPORT_FORMAT,
        "tenant_id": tenant,
        "checkpoint": checkpoint.as_dict() if checkpoint else None,
        "public_keys": signer.public_keys()["keys"],
        "count": len(leaves),
        "leaves": leaves,
    }
    yield orjson.dumps({"manifest": manifest}) + b"\n"


@dataclass
class ExportCheck:
    ok: bool
    records: int
    covered: int
    proofs_checked: int
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "covered_by_checkpoint": self.covered,
            "proofs_checked": self.proofs_checked,
            "problems": self.problems,
        }


def verify_export(lines: Iterator[bytes], trusted_key: bytes | None) -> ExportCheck:
    """Check an export with manifest offline. ``trusted_key``: the raw Ed25519 key the auditor
    trusts; without it the key embedded in the file is used (and said so)."""
    problems: list[str] = []
    records: list[dict[str, Any]] = []
    manifest: dict[str, Any] | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            problems.append(f"line {number} is not JSON")
            continue
        if isinstance(item, dict) and "manifest" in item:
            manifest = item["manifest"]
        elif manifest is not None:
            problems.append(f"line {number} follows the manifest")
        else:
            records.append(item)
    if manifest is None or manifest.get("format") != EXPORT_FORMAT:
        return ExportCheck(False, len(records), 0, 0, [*problems, f"no {EXPORT_FORMAT} manifest line"])
    entries = manifest.get("leaves") or []
    if len(entries) != len(records) or manifest.get("count") != len(records):
        problems.append(f"the manifest lists {len(entries)} leaves for {len(records)} records")
    keys = {k["key_id"]: bytes.fromhex(k["public_key"]) for k in manifest.get("public_keys", [])}
    if trusted_key is not None:
        keys = {integrity.key_id_of(trusted_key): trusted_key}
    else:
        problems.append("no --public-key given: trusting the key embedded in the file")
    checkpoint = Checkpoint.from_dict(manifest["checkpoint"]) if manifest.get("checkpoint") else None
    if checkpoint is None or not integrity.verify_checkpoint(checkpoint, keys):
        problems.append("the checkpoint's signature does not verify")
    covered = proofs = 0
    seen: set[int] = set()
    for number, (record, entry) in enumerate(zip(records, entries, strict=False), 1):
        index, leaf_hex = entry[0], entry[1]
        if integrity.event_leaf_hash(record).hex() != leaf_hex:
            problems.append(f"record {number} ({record.get('audit_id')}) does not hash to its leaf")
            continue
        if index is None:
            continue
        if checkpoint is None or not 0 <= index < checkpoint.tree_size or index in seen:
            problems.append(f"record {number} has an impossible or repeated leaf index {index}")
            continue
        seen.add(index)
        covered += 1
        if len(entry) > 2 and checkpoint is not None:
            path = [bytes.fromhex(h) for h in entry[2]]
            if not merkle.verify_inclusion(
                index, checkpoint.tree_size, bytes.fromhex(leaf_hex), path, checkpoint.root_hash
            ):
                problems.append(f"record {number} ({record.get('audit_id')}): inclusion proof fails")
            else:
                proofs += 1
    hard = [p for p in problems if not p.startswith("no --public-key")]
    return ExportCheck(not hard, len(records), covered, proofs, problems)
