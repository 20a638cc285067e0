"""Signing and key wrapping, behind which the keys live: in memory from a seed locally (and with a
key file for wrapping), in Cloud KMS on GCP, where the private keys cannot be copied out."""

from __future__ import annotations

from typing import Protocol


class Signer(Protocol):
    """An Ed25519 key that signs: checkpoints (the log's key) or cosignatures (a witness's)."""

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature (RFC 8032, pure) of ``message``."""
        ...


class KeyWrapper(Protocol):
    """Envelope encryption of small secrets (tenant HMAC keys, per-subject keys) by a key
    encryption key, so that a copy of the state store alone reveals none of them."""

    @property
    def name(self) -> str:
        """Which key encryption key wraps: stored beside each wrapped secret."""
        ...

    def wrap(self, secret: bytes, context: bytes) -> bytes:
        """``secret`` encrypted; ``context`` (what the secret is for) is authenticated."""
        ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The secret; raises if ``wrapped`` or ``context`` was altered."""
        ...
