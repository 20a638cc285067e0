"""C2SP signed notes, checkpoints and cosignatures, exactly as specified:

- c2sp.org/signed-note: a text ending in a newline, a blank line, then signature lines
  ``— <key name> base64(4-byte key ID || signature)``; key ID = SHA-256(name || 0x0A || type ||
  public key)[:4]; verifier keys ``<name>+<hex key ID>+base64(type || public key)``.
- c2sp.org/tlog-checkpoint: the text is the origin, the tree size in decimal, the base64 root
  hash, then optional extension lines.
- c2sp.org/tlog-cosignature (Ed25519, type 0x04): the signature is an 8-byte big-endian POSIX
  timestamp then Ed25519 over ``cosignature/v1\\ntime <t>\\n`` followed by the checkpoint text.

The reference implementation (``golang.org/x/mod/sumdb/note``) checks ours in
``tests/e2e/test_c2sp.py``; the witness (``auditlog.witness``) and every verifier use this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519: Final = 0x01
COSIGNATURE_V1: Final = 0x04
DASH: Final = "\u2014"
MAX_SIGNATURES: Final = 64
_SPACES = re.compile(r"\s", re.UNICODE)
_DECIMAL = re.compile(r"0|[1-9][0-9]*")

Sign = Callable[[bytes], bytes]


class NoteError(ValueError):
    """Not a well-formed note, checkpoint or key, or a known key's signature that fails."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None


def check_key_name(name: str) -> str:
    if not name or _SPACES.search(name) or "+" in name:
        raise NoteError(f"key name {name!r}: must be non-empty, without spaces or '+'")
    return name


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


@dataclass(frozen=True, slots=True)
class NoteKey:
    """A verifier key: a name, a signature type (0x01 note signer, 0x04 cosigner), an Ed25519
    public key."""

    name: str
    sig_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.sig_type, self.public_key)

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([self.sig_type]) + self.public_key)}"

    @staticmethod
    def parse(vkey: str) -> NoteKey:
        parts = vkey.strip().split("+", 2)  # base64 may hold '+' itself
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
            raise NoteError("a verifier key is <name>+<8 hex digits>+<base64>")
        material = _unb64(parts[2], "the verifier key's key material")
        if len(material) != 33 or material[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError("only Ed25519 verifier keys (type 0x01 or 0x04, 32 bytes) are supported")
        key = NoteKey(check_key_name(parts[0]), material[0], material[1:])
        if key.key_id.hex() != parts[1]:
            raise NoteError(f"verifier key {parts[0]}: its key ID does not match its key")
        return key


@dataclass(frozen=True, slots=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes  # what follows the key ID

    @property
    def line(self) -> str:
        return f"{DASH} {self.name} {_b64(self.key_id + self.signature)}\n"

    def by(self, key: NoteKey) -> bool:
        return self.name == key.name and self.key_id == key.key_id


def split(note: str) -> tuple[str, list[NoteSignature]]:
    """The note's text (with its final newline) and its signature lines, parsed."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("a note holds no control characters but newlines")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("a note is its text, a blank line and signature lines, each ending in a newline")
    text, lines = note[: cut + 1], note[cut + 2 :].splitlines()
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note carries between 1 and {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        dash, _, rest = line.partition(" ")
        name, _, encoded = rest.partition(" ")
        if dash != DASH or not encoded or " " in encoded:
            raise NoteError(f"not a signature line: {line[:80]!r}")
        raw = _unb64(encoded, f"the signature of {name}")
        if len(raw) < 5:
            raise NoteError(f"the signature of {name} is too short")
        signatures.append(NoteSignature(check_key_name(name), raw[:4], raw[4:]))
    return text, signatures


def join(text: str, signatures: Iterable[NoteSignature]) -> str:
    return text + "\n" + "".join(s.line for s in signatures)


def _ed25519_ok(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# -- Note signatures (type 0x01) -----------------------------------------------------------------


def sign(text: str, key: NoteKey, sign_bytes: Sign) -> NoteSignature:
    """``key`` names the signer (type 0x01); ``sign_bytes`` makes its Ed25519 signature."""
    return NoteSignature(key.name, key.key_id, sign_bytes(text.encode()))


def signed_by(text: str, signature: NoteSignature, key: NoteKey) -> bool:
    return (
        key.sig_type == ED25519
        and signature.by(key)
        and _ed25519_ok(key.public_key, signature.signature, text.encode())
    )


# -- Cosignatures (type 0x04) --------------------------------------------------------------------


def cosignature_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(text: str, key: NoteKey, sign_bytes: Sign, timestamp: int) -> NoteSignature:
    if not 0 < timestamp < 2**63:
        raise NoteError("a cosignature's timestamp is a positive 63-bit POSIX time")
    signed = sign_bytes(cosignature_message(text, timestamp))
    return NoteSignature(key.name, key.key_id, timestamp.to_bytes(8, "big") + signed)


def cosigned_at(text: str, signature: NoteSignature, key: NoteKey) -> int | None:
    """The cosignature's timestamp if ``key`` made it over ``text``; else None."""
    if key.sig_type != COSIGNATURE_V1 or not signature.by(key) or len(signature.signature) != 72:
        return None
    timestamp = int.from_bytes(signature.signature[:8], "big")
    message = cosignature_message(text, timestamp)
    return timestamp if _ed25519_ok(key.public_key, signature.signature[8:], message) else None


# -- Checkpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckpointText:
    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        lines = [self.origin, str(self.tree_size), _b64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @staticmethod
    def parse(text: str) -> CheckpointText:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
            raise NoteError("a checkpoint is at least three non-empty lines, each ending in a newline")
        origin, size, root, *extensions = lines[:-1]
        if not _DECIMAL.fullmatch(size):
            raise NoteError("a checkpoint's second line is its tree size in decimal")
        root_hash = _unb64(root, "a checkpoint's root hash")
        if len(root_hash) != 32:
            raise NoteError("a checkpoint's root hash is 32 bytes")
        return CheckpointText(origin, int(size), root_hash, tuple(extensions))


@dataclass(frozen=True, slots=True)
class Verified:
    """What a note's known keys vouch for: the checkpoint, the log keys whose signature verified,
    and each witness whose cosignature verified, with its timestamp."""

    checkpoint: CheckpointText
    log_keys: tuple[str, ...]
    cosigners: dict[str, int]


def open_checkpoint(
    note: str, log_keys: Iterable[NoteKey], witness_keys: Iterable[NoteKey] = ()
) -> Verified:
    """Per signed-note: signatures by unknown keys are ignored; one by a known key that fails
    rejects the note; at least one log key must have signed. Raises NoteError."""
    text, signatures = split(note)
    checkpoint = CheckpointText.parse(text)
    logs, witnesses = list(log_keys), list(witness_keys)
    signed: list[str] = []
    cosigners: dict[str, int] = {}
    for signature in signatures:
        for key in logs:
            if signature.by(key):
                if not signed_by(text, signature, key):
                    raise NoteError(f"the signature of {key.name} does not verify")
                signed.append(key.vkey)
        for key in witnesses:
            if signature.by(key):
                timestamp = cosigned_at(text, signature, key)
                if timestamp is None:
                    raise NoteError(f"the cosignature of {key.name} does not verify")
                cosigners[key.vkey] = timestamp
    if not signed:
        raise NoteError("no signature by a known log key")
    return Verified(checkpoint, tuple(signed), cosigners)


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    """Cosigners a client trusts, and how many of them must have cosigned (k of n)."""

    witnesses: tuple[NoteKey, ...] = ()
    quorum: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise NoteError(f"a quorum of {self.quorum} needs at least that many witnesses")
        if any(w.sig_type != COSIGNATURE_V1 for w in self.witnesses):
            raise NoteError("witness keys are cosignature keys (type 0x04)")

    @staticmethod
    def parse(vkeys: Iterable[str], quorum: int | None = None) -> WitnessPolicy:
        keys = tuple(NoteKey.parse(v) for v in vkeys)
        return WitnessPolicy(keys, len(keys) if quorum is None else quorum)

    def satisfied_by(self, verified: Verified) -> bool:
        return len(verified.cosigners) >= self.quorum
