"""Signed checkpoints: a tenant's tree size and root, signed with Ed25519 (docs/INTEGRITY.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from auditlog.model.event import format_timestamp

CHECKPOINT_ORIGIN: Final = "auditlog-checkpoint/v1"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    tenant_id: str
    tree_size: int
    root_hash: bytes
    timestamp: str
    key_id: str
    signature: bytes

    def body(self) -> bytes:
        return signed_body(self.tenant_id, self.tree_size, self.root_hash, self.timestamp)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Checkpoint:
        try:
            return Checkpoint(
                tenant_id=str(d["tenant_id"]),
                tree_size=int(d["tree_size"]),
                root_hash=bytes.fromhex(d["root_hash"]),
                timestamp=str(d["timestamp"]),
                key_id=str(d["key_id"]),
                signature=bytes.fromhex(d["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from None


def signed_body(tenant_id: str, tree_size: int, root_hash: bytes, timestamp: str) -> bytes:
    return f"{CHECKPOINT_ORIGIN}\n{tenant_id}\n{tree_size}\n{root_hash.hex()}\n{timestamp}\n".encode()


def key_id_of(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


class CheckpointSigner:
    """Ed25519 over the checkpoint text. The key is a 32-byte seed: Secret Manager on GCP, a
    generated file in the data directory in development."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 signing key is a 32-byte seed")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id_of(self.public_key)

    def sign(self, tenant_id: str, tree_size: int, root_hash: bytes, when: datetime) -> Checkpoint:
        timestamp = format_timestamp(when.astimezone(UTC).replace(tzinfo=None))
        body = signed_body(tenant_id, tree_size, root_hash, timestamp)
        return Checkpoint(tenant_id, tree_size, root_hash, timestamp, self.key_id, self._key.sign(body))

    def public_keys(self) -> dict[str, Any]:
        return {
            "keys": [{"key_id": self.key_id, "algorithm": "Ed25519", "public_key": self.public_key.hex()}]
        }


def verify_checkpoint(checkpoint: Checkpoint, public_keys: Mapping[str, bytes]) -> bool:
    key = public_keys.get(checkpoint.key_id)
    if key is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(checkpoint.signature, checkpoint.body())
    except (InvalidSignature, ValueError):
        return False
    return True
