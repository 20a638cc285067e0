"""C2SP signed notes and witness cosignatures, checked with nothing but SHA-256 and Ed25519
(c2sp.org/signed-note, c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature): a checkpoint's
``note`` is trusted when the log's key signed it and, under a witness policy, when at least
``quorum`` of the given witnesses cosigned it."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
_DASH = "\u2014 "


class NoteError(ValueError):
    """Not a well-formed note or key, or a signature by a known key that does not verify."""


def _key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


@dataclass(frozen=True)
class NoteKey:
    name: str
    sig_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.sig_type, self.public_key)

    @staticmethod
    def parse(vkey: str) -> NoteKey:
        """``<name>+<hex key ID>+<base64 of type || public key>``."""
        name, _, rest = vkey.strip().partition("+")
        hex_id, _, material = rest.partition("+")
        try:
            raw = base64.b64decode(material, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError(f"verifier key {name}: not base64") from None
        if not name or len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError(f"verifier key {name!r}: an Ed25519 vkey (type 0x01 or 0x04) is expected")
        key = NoteKey(name, raw[0], raw[1:])
        if key.key_id.hex() != hex_id:
            raise NoteError(f"verifier key {name}: its key ID does not match its key")
        return key


@dataclass(frozen=True)
class WitnessPolicy:
    """The witnesses a client trusts (cosignature vkeys) and how many must have cosigned."""

    witnesses: tuple[NoteKey, ...]
    quorum: int

    @staticmethod
    def of(vkeys: Iterable[str], quorum: int | None = None) -> WitnessPolicy:
        keys = tuple(NoteKey.parse(v) for v in vkeys)
        if any(k.sig_type != COSIGNATURE_V1 for k in keys):
            raise NoteError("witness keys are cosignature keys (type 0x04)")
        wanted = len(keys) if quorum is None else quorum
        if not 0 <= wanted <= len(keys):
            raise NoteError(f"a quorum of {wanted} needs at least that many witnesses")
        return WitnessPolicy(keys, wanted)


def _verified(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _split(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("a note is its text, a blank line and signature lines")
    text, signatures = note[: cut + 1], []
    for line in note[cut + 2 :].splitlines():
        if not line.startswith(_DASH):
            raise NoteError("not a signature line")
        name, _, encoded = line[len(_DASH) :].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError(f"the signature of {name} is not base64") from None
        if len(raw) < 5:
            raise NoteError(f"the signature of {name} is too short")
        signatures.append((name, raw[:4], raw[4:]))
    return text, signatures


def open_checkpoint(
    note: str, log_keys: Iterable[NoteKey], policy: WitnessPolicy | None = None
) -> dict[str, Any]:
    """The checkpoint a note states (``origin``, ``tree_size``, ``root_hash`` hex,
    ``extensions``, ``cosigners``) once a log key's signature verifies and, under ``policy``,
    its quorum of cosignatures does. Raises NoteError."""
    text, signatures = _split(note)
    lines = text.split("\n")[:-1]
    if len(lines) < 3 or not lines[1].isdigit():
        raise NoteError("not a checkpoint: origin, tree size, root hash")
    logs, witnesses = list(log_keys), list(policy.witnesses if policy else ())
    signed, cosigners = False, {}
    for name, key_id, signature in signatures:
        for key in logs:
            if (name, key_id) == (key.name, key.key_id):
                if not _verified(key.public_key, signature, text.encode()):
                    raise NoteError(f"the signature of {name} does not verify")
                signed = True
        for key in witnesses:
            if (name, key_id) == (key.name, key.key_id):
                timestamp = int.from_bytes(signature[:8], "big")
                message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
                if len(signature) != 72 or not _verified(key.public_key, signature[8:], message):
                    raise NoteError(f"the cosignature of {name} does not verify")
                cosigners[name] = timestamp
    if not signed:
        raise NoteError("no signature by a known log key")
    if policy is not None and len(cosigners) < policy.quorum:
        raise NoteError(f"{len(cosigners)} of the {policy.quorum} cosignatures the witness policy requires")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("the root hash is not base64") from None
    return {
        "origin": lines[0],
        "tree_size": int(lines[1]),
        "root_hash": root.hex(),
        "extensions": lines[3:],
        "cosigners": cosigners,
    }


def checkpoint_note_ok(
    checkpoint: Mapping[str, Any], public_keys: Iterable[bytes], policy: WitnessPolicy | None
) -> bool:
    """A JSON checkpoint's ``note``: signed by one of ``public_keys`` (the log's, named by the
    tenant's origin), cosigned per ``policy``, and stating the same tree and tenant."""
    note = checkpoint.get("note")
    if not isinstance(note, str):
        return False
    origin = note.split("\n", 1)[0]
    keys = [NoteKey(origin, ED25519, k) for k in public_keys]
    try:
        opened = open_checkpoint(note, keys, policy)
    except NoteError:
        return False
    return bool(
        opened["origin"].endswith("/" + str(checkpoint["tenant_id"]))
        and opened["tree_size"] == checkpoint["tree_size"]
        and opened["root_hash"] == checkpoint["root_hash"]
    )
