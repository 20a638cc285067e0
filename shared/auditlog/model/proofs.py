"""The integrity log's answers: checkpoints, keys, inclusion and consistency proofs
(docs/INTEGRITY.md has the formats; the OpenAPI document is generated from these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

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
    note: str | None = Field(
        None,
        description="The same checkpoint as a C2SP signed note (c2sp.org/tlog-checkpoint): origin "
        "`<log origin>/<tenant_id>`, tree size, base64 root, a `timestamp` extension line; the "
        "log's Ed25519 note signature and the witnesses' cosignatures. Null for checkpoints signed "
        "before notes existed.",
    )
    final: bool = Field(True, description="Cosigned by the witness quorum (always, without witnesses).")


class PublicKeyOut(BaseModel):
    key_id: str
    algorithm: Literal["Ed25519"]
    public_key: str = Field(description="The raw 32-byte key. " + _HEX)


class PublicKeysOut(BaseModel):
    keys: list[PublicKeyOut]


class VerifierKeysOut(BaseModel):
    """What a tool that is not ours needs to check a tenant's checkpoints (signed-note vkeys)."""

    origin: str = Field(description="The tenant's log origin, the first line of its checkpoints.")
    log: list[str] = Field(description="The log's verifier keys, signing key first (then retired ones).")
    witnesses: list[str] = Field(description="The witnesses' cosignature verifier keys (type 0x04).")
    quorum: int = Field(ge=0, description="Cosignatures a checkpoint needs to be final.")


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
