"""Signed checkpoints: a tenant's tree size and root, signed with Ed25519 (docs/INTEGRITY.md).

Each checkpoint is signed twice with the log's key: as a C2SP signed note (``note``: the
``tlog-checkpoint`` text of the tenant's log origin ``<log origin>/<tenant_id>``, its signature,
then any witnesses' cosignatures; ``notes.py``), which tools that are not ours verify, and over
the original five lines ``auditlog-checkpoint/v1`` (``signature``), which clients written for
the first version of the API verify. ``final`` is false until the witness quorum has cosigned.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from auditlog.ledger import notes
from auditlog.ledger.notes import CheckpointText, NoteKey, NoteSignature
from auditlog.model.event import format_timestamp
from auditlog.ports.signer import Signer

CHECKPOINT_ORIGIN: Final = "auditlog-checkpoint/v1"
TIMESTAMP_EXTENSION: Final = "timestamp "


@dataclass(frozen=True, slots=True)
class Checkpoint:
    tenant_id: str
    tree_size: int
    root_hash: bytes
    timestamp: str
    key_id: str
    signature: bytes
    note: str | None = None  # None for checkpoints signed before notes existed
    final: bool = True

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
            "note": self.note,
            "final": self.final,
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
                note=None if d.get("note") is None else str(d["note"]),
                final=bool(d.get("final", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from None

    @property
    def text(self) -> str | None:
        """The ``tlog-checkpoint`` text the note signs (None without a note)."""
        return None if self.note is None else notes.split(self.note)[0]

    def signatures(self) -> list[NoteSignature]:
        return [] if self.note is None else notes.split(self.note)[1]

    def cosigned(self, cosignatures: Iterable[NoteSignature], *, final: bool) -> Checkpoint:
        """This checkpoint with ``cosignatures`` added to its note (one per key: a key's newer
        cosignature replaces its older one)."""
        if self.note is None:
            raise ValueError("a checkpoint without a note cannot be cosigned")
        text, held = notes.split(self.note)
        added = list(cosignatures)
        kept = [s for s in held if not any(s.name == a.name and s.key_id == a.key_id for a in added)]
        return dataclasses.replace(self, note=notes.join(text, kept + added), final=final)


def signed_body(tenant_id: str, tree_size: int, root_hash: bytes, timestamp: str) -> bytes:
    return f"{CHECKPOINT_ORIGIN}\n{tenant_id}\n{tree_size}\n{root_hash.hex()}\n{timestamp}\n".encode()


def key_id_of(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


class Ed25519Signer:
    """A ``Signer`` from a 32-byte seed held in memory: Secret Manager or a generated file in
    the data directory (``backends/gcp/kms.py`` keeps the key in Cloud KMS instead)."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 signing key is a 32-byte seed")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


class CheckpointSigner:
    """Signs each tenant's checkpoints with the log's key. ``retired``: public keys of earlier
    signing keys, still listed (for a rotation's overlap) so that old checkpoints keep
    verifying. ``witnessed``: checkpoints are final only once witnesses cosign them."""

    def __init__(
        self,
        key: Signer,
        log_origin: str,
        *,
        retired: Sequence[bytes] = (),
        witnessed: bool = False,
    ) -> None:
        self._key = key
        self.public_key = key.public_key
        self.key_id = key_id_of(self.public_key)
        self.log_origin = notes.check_key_name(log_origin.rstrip("/"))
        self.retired = tuple(k for k in retired if k != self.public_key)
        self.witnessed = witnessed

    @staticmethod
    def from_seed(seed: bytes, log_origin: str = "localhost/auditlog") -> CheckpointSigner:
        return CheckpointSigner(Ed25519Signer(seed), log_origin)

    def origin(self, tenant_id: str) -> str:
        """The tenant's log origin, also the name of the log's key in its notes."""
        return f"{self.log_origin}/{tenant_id}"

    def note_keys(self, tenant_id: str) -> list[NoteKey]:
        """The verifier keys of the tenant's log: the signing key first, then retired ones."""
        origin = self.origin(tenant_id)
        return [NoteKey(origin, notes.ED25519, k) for k in (self.public_key, *self.retired)]

    def sign(self, tenant_id: str, tree_size: int, root_hash: bytes, when: datetime) -> Checkpoint:
        timestamp = format_timestamp(when.astimezone(UTC).replace(tzinfo=None))
        legacy = self._key.sign(signed_body(tenant_id, tree_size, root_hash, timestamp))
        text = CheckpointText(
            self.origin(tenant_id), tree_size, root_hash, (TIMESTAMP_EXTENSION + timestamp,)
        ).text
        signature = notes.sign(text, self.note_keys(tenant_id)[0], self._key.sign)
        note = notes.join(text, [signature])
        return Checkpoint(
            tenant_id, tree_size, root_hash, timestamp, self.key_id, legacy, note, not self.witnessed
        )

    def public_keys(self) -> dict[str, Any]:
        return {
            "keys": [
                {"key_id": key_id_of(k), "algorithm": "Ed25519", "public_key": k.hex()}
                for k in (self.public_key, *self.retired)
            ]
        }


def verify_checkpoint(checkpoint: Checkpoint, public_keys: Mapping[str, bytes]) -> bool:
    """The original signature, by the key the checkpoint names among ``public_keys``; and the
    note, when there is one: signed by one of those keys and saying the same tree."""
    key = public_keys.get(checkpoint.key_id)
    if key is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(checkpoint.signature, checkpoint.body())
    except (InvalidSignature, ValueError):
        return False
    return checkpoint.note is None or note_matches(checkpoint, public_keys.values())


def note_matches(checkpoint: Checkpoint, public_keys: Iterable[bytes]) -> bool:
    """The note is signed by one of ``public_keys`` under the tenant's origin and states the
    checkpoint's size, root and timestamp."""
    if checkpoint.note is None:
        return False
    try:
        text = CheckpointText.parse(notes.split(checkpoint.note)[0])
        keys = [NoteKey(text.origin, notes.ED25519, k) for k in public_keys]
        opened = notes.open_checkpoint(checkpoint.note, keys).checkpoint
    except notes.NoteError:
        return False
    return (
        opened.origin.endswith("/" + checkpoint.tenant_id)
        and opened.tree_size == checkpoint.tree_size
        and opened.root_hash == checkpoint.root_hash
        and opened.extensions == (TIMESTAMP_EXTENSION + checkpoint.timestamp,)
    )


def unwitnessed(
    checkpoint: Checkpoint, public_keys: Iterable[bytes], policy: notes.WitnessPolicy
) -> str | None:
    """Why the checkpoint does not satisfy ``policy`` (the witnesses an auditor trusts, k of n),
    or None when at least k of them cosigned its note; signatures by witnesses the policy does
    not name are ignored, one that fails verification rejects the note (signed-note's rule)."""
    if policy.quorum == 0:
        return None
    if checkpoint.note is None:
        return f"the checkpoint of size {checkpoint.tree_size} has no signed note to cosign"
    try:
        origin = CheckpointText.parse(notes.split(checkpoint.note)[0]).origin
        keys = [NoteKey(origin, notes.ED25519, k) for k in public_keys]
        opened = notes.open_checkpoint(checkpoint.note, keys, policy.witnesses)
    except notes.NoteError as exc:
        return f"the checkpoint of size {checkpoint.tree_size}: {exc}"
    if not policy.satisfied_by(opened):
        return (
            f"the checkpoint of size {checkpoint.tree_size} is cosigned by {len(opened.cosigners)} of "
            f"the witnesses given; the quorum is {policy.quorum}"
        )
    return None
