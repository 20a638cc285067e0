"""A witness per c2sp.org/tlog-witness: for each log origin it accepts, it keeps the newest
checkpoint it cosigned, and cosigns a new one only if it is consistent with that one.

``add_checkpoint`` follows the specification's checks in its order: malformed → 400; unknown
origin → 404; no valid signature by the log's key (or a failing one) → 403; old size above the
checkpoint's → 400; old size not the one held → 409 with the held size (``text/x.tlog.size``);
an empty tree with another root, a proof where none is due, an invalid consistency proof, or the
same size with another root (a fork) → 422. Only then is the checkpoint stored (atomically
against the size held, ``ports/witness.py``) and the cosignature (c2sp.org/tlog-cosignature,
Ed25519, type 0x04) answered. Every refusal of a correctly signed checkpoint is logged as
``witness_refused`` with the origin and sizes: evidence of the log's misbehaviour.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from auditlog.ledger import merkle, notes
from auditlog.ledger.notes import CheckpointText, NoteKey
from auditlog.ports.signer import Signer
from auditlog.ports.witness import Cosigned, WitnessState

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 64 * 1024
MAX_PROOF_LINES: Final = 63
SIZE_TYPE: Final = "text/x.tlog.size"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: str
    media_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class LogRule:
    """Logs a witness accepts: one origin, or every ``<prefix>/<tenant>`` when the pattern ends
    in ``/*``; the log's key by raw public key (its name is then the origin, as this service's
    logs sign) or by vkey (any name)."""

    pattern: str
    public_key: bytes
    key_name: str | None = None

    @staticmethod
    def parse(spec: str) -> LogRule:
        """``"<origin or prefix/*> <vkey or 64 hex digits>"``."""
        pattern, _, key = spec.strip().partition(" ")
        key = key.strip()
        if not pattern or not key:
            raise notes.NoteError(
                f"a witnessed log is '<origin or prefix/*> <vkey or hex key>', not {spec!r}"
            )
        if "+" in key:
            parsed = NoteKey.parse(key)
            if parsed.sig_type != notes.ED25519:
                raise notes.NoteError(f"{pattern}: the log's key must be an Ed25519 note key (type 0x01)")
            return LogRule(pattern, parsed.public_key, parsed.name)
        try:
            raw = bytes.fromhex(key)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise notes.NoteError(f"{pattern}: a log key is a vkey or 64 hex digits")
        return LogRule(pattern, raw)

    def matches(self, origin: str) -> bool:
        if self.pattern.endswith("/*"):
            prefix = self.pattern[:-1]
            rest = origin[len(prefix) :]
            return origin.startswith(prefix) and bool(rest) and "/" not in rest
        return origin == self.pattern

    def key_for(self, origin: str) -> NoteKey:
        return NoteKey(self.key_name or origin, notes.ED25519, self.public_key)


@dataclass(frozen=True, slots=True)
class Request:
    old_size: int
    proof: list[bytes]
    note: str


def parse_request(body: bytes) -> Request:
    """The add-checkpoint body: ``old <N>``, proof lines, an empty line, the checkpoint."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise notes.NoteError("the body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise notes.NoteError("the body starts with 'old <size>', proof lines, then an empty line")
    size = lines[0][4:]
    if not (size == "0" or (size.isdigit() and size.isascii() and not size.startswith("0"))):
        raise notes.NoteError("the old size is a decimal without leading zeroes")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise notes.NoteError(f"at most {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            hash_ = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise notes.NoteError("a proof line is one base64 hash") from None
        if len(hash_) != 32:
            raise notes.NoteError("a proof line is one base64 hash")
        proof.append(hash_)
    return Request(int(size), proof, note)


class Witness:
    def __init__(
        self,
        name: str,
        key: Signer,
        logs: Sequence[LogRule],
        state: WitnessState,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = NoteKey(notes.check_key_name(name), notes.COSIGNATURE_V1, key.public_key)
        self._sign = key.sign
        self._logs = list(logs)
        self._state = state
        self._clock = clock

    def add_checkpoint(self, body: bytes) -> Answer:
        if len(body) > MAX_BODY_BYTES:
            return Answer(400, f"a request is at most {MAX_BODY_BYTES} bytes\n")
        try:
            request = parse_request(body)
            text, _ = notes.split(request.note)
            checkpoint = CheckpointText.parse(text)
        except notes.NoteError as exc:
            return Answer(400, f"{exc}\n")
        rule = next((r for r in self._logs if r.matches(checkpoint.origin)), None)
        if rule is None:
            return Answer(404, f"unknown log origin {checkpoint.origin}\n")
        try:
            notes.open_checkpoint(request.note, [rule.key_for(checkpoint.origin)])
        except notes.NoteError as exc:
            return Answer(403, f"{exc}\n")
        if request.old_size > checkpoint.tree_size:
            return Answer(400, "the old size is larger than the checkpoint's\n")
        return self._advance(request, text, checkpoint)

    def _advance(self, request: Request, text: str, checkpoint: CheckpointText) -> Answer:
        origin = checkpoint.origin
        held = self._state.latest(origin)
        held_size = 0 if held is None else held.size
        if request.old_size != held_size:
            return Answer(409, f"{held_size}\n", SIZE_TYPE)
        problem = _inconsistency(request, checkpoint, held)
        if problem is not None:
            self._refused(origin, held_size, checkpoint.tree_size, problem)
            return Answer(422, f"{problem}\n")
        cosignature = notes.cosign(text, self.key, self._sign, int(self._clock()))
        text_only, signatures = notes.split(request.note)
        mine = [s for s in signatures if not s.by(self.key)] + [cosignature]
        stored = Cosigned(checkpoint.tree_size, checkpoint.root_hash, notes.join(text_only, mine))
        now_held = self._state.advance(origin, held_size, stored)
        if now_held is not None:  # another submission won the race
            return Answer(409, f"{now_held}\n", SIZE_TYPE)
        return Answer(200, cosignature.line)

    def _refused(self, origin: str, held: int, size: int, problem: str) -> None:
        log.error(
            "witness refused a checkpoint: %s",
            problem,
            extra={"event": "witness_refused", "origin": origin, "held_size": held, "tree_size": size},
        )

    def checkpoint(self, origin_hash: str) -> Answer:
        """The monitoring view: the newest cosigned checkpoint of the log whose origin hashes to
        ``origin_hash`` (lowercase hex SHA-256), the log's and this witness's signatures on it."""
        held = self._state.latest_by_hash(origin_hash.lower())
        if held is None:
            return Answer(404, "never cosigned a checkpoint of this log\n")
        return Answer(200, held.note)


def _inconsistency(request: Request, checkpoint: CheckpointText, held: Cosigned | None) -> str | None:
    size, root = checkpoint.tree_size, checkpoint.root_hash
    if size == 0 and root != merkle.EMPTY_ROOT:
        return "a tree of size 0 has the empty tree's root"
    if request.old_size == 0:
        return "no consistency proof from an empty tree" if request.proof else None
    assert held is not None  # old size == held size > 0
    if request.old_size == size:
        if root != held.root_hash or request.proof:
            return f"a fork: another root for the tree of size {size} already cosigned"
        return None
    if not merkle.verify_consistency(request.old_size, size, held.root_hash, root, request.proof):
        return f"the consistency proof from {request.old_size} to {size} does not verify: a fork"
    return None
