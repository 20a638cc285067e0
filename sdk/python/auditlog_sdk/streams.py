"""Checking, offline, what a log stream delivered (docs/STREAMS.md), with nothing but SHA-256 and
Ed25519: the same checks as the service's ``auditlog stream-verify``, written independently.

A stream hands its destination batches: a contiguous range of the tenant's leaves, each a full
event or, where the stream's filter leaves it out or retention deleted it, its hash alone, and
the newest signed checkpoint covering them. ``verify_stream`` checks that the leaves received
are contiguous from the stream's start (naming every gap), that re-sent batches (the same leaf
range) are identical and count once, that each full event of a ``json`` stream hashes to its
leaf, that every batch's checkpoint is signed by a trusted key (and, under a witness policy,
cosigned by the quorum) and covers the batch, and, when the leaves run from 0 to at least a
checkpoint's size, that their Merkle root is the one the largest such checkpoint signs: nothing
was left out, reordered or altered.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from auditlog_sdk.notes import WitnessPolicy, checkpoint_note_ok
from auditlog_sdk.verify import key_id, leaf_hash, merkle_root, verify_checkpoint

# The fields a delivery adds to a json-format event; the rest is the committed record.
ADDED = ("leaf_index", "leaf_hash")
MAX_PROBLEMS = 100  # a stream of millions of bad leaves is reported, not held in memory


@dataclass
class StreamVerification:
    """The outcome: ``ok`` when no problem was found. ``root_checked_at`` is the size of the
    checkpoint whose signed root the leaves rebuilt (None when they do not run from leaf 0 to
    a checkpoint's size); ``gaps`` are (first missing, last missing) leaf indices."""

    ok: bool = True
    stream_ids: list[str] = field(default_factory=list)
    batches: int = 0
    resent: int = 0
    leaves: int = 0
    first_leaf_index: int | None = None
    last_leaf_index: int | None = None
    hashes_recomputed: int = 0
    root_checked_at: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.ok = False
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_stream_batches(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every batch stored under ``path``, a file or a directory of files (read in name order):
    a webhook receiver's ``.json`` files (one batch body each) or ``.ndjson``/``.jsonl`` files
    (one body per line), and a GCS destination's ``.ndjson.gz`` objects (the batch header, then
    one line per leaf). Other files are ignored."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    for file in files:
        name = file.name
        if name.endswith(".json"):
            yield json.loads(file.read_bytes())
        elif name.endswith((".ndjson", ".ndjson.gz", ".jsonl")):
            data = gzip.decompress(file.read_bytes()) if name.endswith(".gz") else file.read_bytes()
            yield from _lines_to_batches([json.loads(line) for line in data.splitlines() if line.strip()])


def _lines_to_batches(lines: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    if not lines:
        return
    if all("events" in line for line in lines):
        yield from lines  # one batch body per line
    else:
        yield {**lines[0], "events": lines[1:]}  # a GCS object: its header, then its leaves


def verify_stream(
    batches: Iterable[Mapping[str, Any]],
    public_keys: Iterable[str | bytes],
    witnesses: WitnessPolicy | None = None,
) -> StreamVerification:
    """Check one stream's batches, in any order (``read_stream_batches`` reads them from disk).
    ``public_keys`` are the log's trusted Ed25519 keys, raw or hex (several across a key
    rotation); with ``witnesses``, every checkpoint must carry the policy's quorum of
    cosignatures. Test deliveries (leaf index -1) are skipped. Only ``json`` streams can be
    checked, as with the service's checker: ocsf events keep their leaf index under
    ``unmapped`` and cef events are text, so their leaves are reported out of place. Raises
    ValueError only for a key that is not one; whatever is wrong with the batches is a problem
    in the result."""
    keys = _trusted_keys(public_keys)
    result = StreamVerification()
    by_range: dict[tuple[int, int], Mapping[str, Any]] = {}
    trusted: list[Mapping[str, Any]] = []
    for batch in batches:
        span = _span(batch)
        if span is None:
            result.problem(f"a batch without a leaf range: {str(dict(batch))[:120]}")
            continue
        if span[0] < 0:
            continue
        result.batches += 1
        if str(batch.get("stream_id")) not in result.stream_ids:
            result.stream_ids.append(str(batch.get("stream_id")))
        if _checkpoint_trusted(result, batch, span, keys, witnesses):
            trusted.append(batch["checkpoint"])
        if span in by_range:
            result.resent += 1
            if by_range[span].get("events") != batch.get("events"):
                result.problem(f"leaves {span[0]}-{span[1]} came twice with different contents")
            continue
        by_range[span] = batch
        _check_events(result, batch, span)
    if len(result.stream_ids) > 1:
        result.problem(f"batches of {len(result.stream_ids)} streams: check one stream at a time")
    leaves = _contiguous(result, [by_range[k] for k in sorted(by_range)])
    _check_root(result, leaves, trusted)
    return result


def _trusted_keys(public_keys: Iterable[str | bytes]) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for key in public_keys:
        raw = bytes.fromhex(key) if isinstance(key, str) else bytes(key)
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes (64 hex characters)")
        keys[key_id(raw)] = raw
    if not keys:
        raise ValueError("verify_stream needs at least one trusted public key")
    return keys


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _span(batch: Mapping[str, Any]) -> tuple[int, int] | None:
    first, last = _int(batch.get("first_leaf_index")), _int(batch.get("last_leaf_index"))
    return None if first is None or last is None or last < first else (first, last)


def _checkpoint_trusted(
    result: StreamVerification,
    batch: Mapping[str, Any],
    span: tuple[int, int],
    keys: dict[str, bytes],
    witnesses: WitnessPolicy | None,
) -> bool:
    """Whether the batch's checkpoint is to be trusted and covers the batch (its tenant's tree,
    larger than the batch's last leaf); each failure is named."""
    where = f"batch {span[0]}-{span[1]}"
    checkpoint = batch.get("checkpoint")
    if not isinstance(checkpoint, Mapping):
        result.problem(f"{where} has no checkpoint")
        return False
    why = _untrusted(checkpoint, keys, witnesses)
    if why is not None:
        result.problem(f"{where}: {why}")
    size = _int(checkpoint.get("tree_size"))
    covers = checkpoint.get("tenant_id") == batch.get("tenant_id") and size is not None and size > span[1]
    if not covers:
        result.problem(f"{where}: its checkpoint does not cover it")
    return why is None and covers


def _untrusted(
    checkpoint: Mapping[str, Any], keys: dict[str, bytes], witnesses: WitnessPolicy | None
) -> str | None:
    """Why the checkpoint is not to be trusted: its signature (and its signed note's, when it has
    one) by none of ``keys``, or fewer cosignatures than the witness policy's quorum."""
    has_note = checkpoint.get("note") is not None
    if not verify_checkpoint(checkpoint, keys) or (
        has_note and not checkpoint_note_ok(checkpoint, keys.values(), None)
    ):
        return "its checkpoint does not verify with the log's key"
    if witnesses and witnesses.quorum and not checkpoint_note_ok(checkpoint, keys.values(), witnesses):
        return f"its checkpoint lacks the quorum of {witnesses.quorum} witness cosignatures"
    return None


def _check_events(result: StreamVerification, batch: Mapping[str, Any], span: tuple[int, int]) -> None:
    """Each leaf in its place with a leaf hash; each full json event hashing to it."""
    first, last = span
    events = batch.get("events")
    if not isinstance(events, list):
        result.problem(f"batch {first}-{last} has no list of events")
        return
    if len(events) != last - first + 1:
        result.problem(f"batch {first}-{last} holds {len(events)} leaves")
    full_records = batch.get("format") == "json"
    for index, event in enumerate(events, start=first):
        if not isinstance(event, dict):
            result.problem(f"batch {first}-{last}: leaf {index} is not a JSON object")
        elif _int(event.get("leaf_index")) != index:
            result.problem(f"batch {first}-{last}: leaf {index} is out of place")
        elif _hash_of(event) is None:
            result.problem(f"leaf {index} has no valid leaf_hash")
        elif full_records and "omitted" not in event:
            if _record_hashes_to_leaf(event):
                result.hashes_recomputed += 1
            else:
                result.problem(f"leaf {index} ({event.get('audit_id')}) does not hash to its leaf")


def _hash_of(event: Mapping[str, Any]) -> bytes | None:
    value = event.get("leaf_hash")
    if not isinstance(value, str) or len(value) != 64:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _record_hashes_to_leaf(event: Mapping[str, Any]) -> bool:
    record = {k: v for k, v in event.items() if k not in ADDED}
    try:
        return bool(leaf_hash(record).hex() == event["leaf_hash"])
    except ValueError:  # not a committed record (a nested or fractional value)
        return False


def _contiguous(result: StreamVerification, batches: list[Mapping[str, Any]]) -> list[Any]:
    """The leaves in order from the first batch's first leaf; gaps and overlaps named."""
    leaves: list[Any] = []
    expected: int | None = None
    for batch in batches:
        first, last = batch["first_leaf_index"], batch["last_leaf_index"]
        if expected is not None and first > expected:
            result.gaps.append((expected, first - 1))
            result.problem(f"leaves {expected} to {first - 1} are missing")
        elif expected is not None and first < expected:
            result.problem(f"batch {first}-{last} overlaps leaves already received")
            continue
        events = batch.get("events")
        leaves += events if isinstance(events, list) else []
        expected = last + 1
    result.leaves = len(leaves)
    if batches and expected is not None:
        result.first_leaf_index = batches[0]["first_leaf_index"]
        result.last_leaf_index = expected - 1
    return leaves


def _check_root(result: StreamVerification, leaves: list[Any], checkpoints: list[Mapping[str, Any]]) -> None:
    """With every leaf from 0, the largest trusted checkpoint they reach must be their root."""
    if result.first_leaf_index != 0 or result.gaps:
        return
    reached = [c for c in checkpoints if c["tree_size"] <= len(leaves)]
    if not reached:
        return
    checkpoint = max(reached, key=lambda c: int(c["tree_size"]))
    size = int(checkpoint["tree_size"])
    hashes = [h for h in (_hash_of(e) for e in leaves[:size] if isinstance(e, dict)) if h is not None]
    if len(hashes) != size:
        return  # the leaves without a valid hash are already named as problems
    if merkle_root(hashes).hex() != checkpoint["root_hash"]:
        result.problem(f"the leaves do not rebuild the signed root of the checkpoint of size {size}")
    else:
        result.root_checked_at = size
