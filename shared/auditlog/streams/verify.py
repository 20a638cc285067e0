"""What a stream's receiver can check on its own (``auditlog stream-verify``): that the leaves it
got are contiguous from the stream's start (naming every gap), that each full JSON event hashes
to its leaf, that every batch's checkpoint is signed by the log's key (and the witness quorum,
given a policy) and covers the batch, and, when it holds every leaf from 0 up to a checkpoint's
size, that those leaves rebuild the checkpoint's signed root: nothing was left out or altered.

Every format carries the delivery fields (``leaf_index``, ``leaf_hash``, ``audit_id``,
``tenant_id``) at the top of each event; only json events are the committed record itself, so
only their hashes are recomputed (ocsf and cef events are checked by position and by the root).

Input: what a webhook receiver stores (one batch body per ``.json`` file, or per line of an
``.ndjson`` file) or a GCS destination writes (``.ndjson.gz`` objects: the batch header line,
then one line per leaf); a directory of such files, in any order. Re-sent batches (the same leaf
range) must be identical and count once; test deliveries (leaf index -1) are skipped.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from auditlog.ledger import merkle
from auditlog.ledger.checkpoints import Checkpoint, unwitnessed, verify_checkpoint
from auditlog.ledger.leaves import event_leaf_hash
from auditlog.ledger.notes import WitnessPolicy

# The fields a delivery adds to a json-format event; the rest is the committed record.
ADDED = ("leaf_index", "leaf_hash")


@dataclass
class StreamCheck:
    ok: bool = True
    stream_ids: list[str] = field(default_factory=list)
    batches: int = 0
    resent: int = 0
    leaves: int = 0
    first_leaf_index: int | None = None
    last_leaf_index: int | None = None
    hashes_recomputed: int = 0
    root_checked_at: int | None = None
    gaps: list[list[int]] = field(default_factory=list)  # [first missing, last missing]
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.ok = False
        if len(self.problems) < 100:
            self.problems.append(text)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def read_batches(path: Path) -> Iterator[dict[str, Any]]:
    """Every batch stored under ``path`` (a file, or a directory of files)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        name = file.name
        if name.endswith(".json"):
            yield orjson.loads(file.read_bytes())
        elif name.endswith((".ndjson", ".ndjson.gz", ".jsonl")):
            data = gzip.decompress(file.read_bytes()) if name.endswith(".gz") else file.read_bytes()
            lines = [orjson.loads(line) for line in data.splitlines() if line.strip()]
            yield from _lines_to_batches(lines)


def _lines_to_batches(lines: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    if not lines:
        return
    if all("events" in line for line in lines):
        yield from lines  # one batch body per line
    else:
        yield {**lines[0], "events": lines[1:]}  # a GCS object: its header, then its leaves


def verify_stream(
    batches: Iterable[dict[str, Any]], public_keys: dict[str, bytes], witnesses: WitnessPolicy | None = None
) -> StreamCheck:
    check = StreamCheck()
    by_range: dict[tuple[int, int], dict[str, Any]] = {}
    for batch in batches:
        first, last = int(batch["first_leaf_index"]), int(batch["last_leaf_index"])
        if first < 0:
            continue
        check.batches += 1
        if batch["stream_id"] not in check.stream_ids:
            check.stream_ids.append(batch["stream_id"])
        if (first, last) in by_range:
            check.resent += 1
            if by_range[(first, last)]["events"] != batch["events"]:
                check.problem(f"leaves {first}-{last} came twice with different contents")
            continue
        by_range[(first, last)] = batch
        _check_batch(check, batch, public_keys, witnesses)
    if len(check.stream_ids) > 1:
        check.problem(f"batches of {len(check.stream_ids)} streams: check one stream at a time")
    leaves = _contiguous(check, [by_range[k] for k in sorted(by_range)])
    _check_root(check, leaves, [Checkpoint.from_dict(b["checkpoint"]) for b in by_range.values()])
    return check


def _check_batch(
    check: StreamCheck, batch: dict[str, Any], keys: dict[str, bytes], witnesses: WitnessPolicy | None
) -> None:
    first, last = int(batch["first_leaf_index"]), int(batch["last_leaf_index"])
    events = batch["events"]
    if len(events) != last - first + 1:
        check.problem(f"batch {first}-{last} holds {len(events)} leaves")
    checkpoint = Checkpoint.from_dict(batch["checkpoint"])
    if not verify_checkpoint(checkpoint, keys):
        check.problem(f"batch {first}-{last}: its checkpoint does not verify with the log's key")
    elif witnesses is not None and (why := unwitnessed(checkpoint, keys.values(), witnesses)):
        check.problem(f"batch {first}-{last}: {why}")
    if checkpoint.tenant_id != batch["tenant_id"] or checkpoint.tree_size <= last:
        check.problem(f"batch {first}-{last}: its checkpoint does not cover it")
    for offset, event in enumerate(events):
        if not isinstance(event, dict) or event.get("leaf_index") != first + offset:
            check.problem(f"batch {first}-{last}: leaf {first + offset} is out of place")
            continue
        if batch.get("format") == "json" and "omitted" not in event:
            record = {k: v for k, v in event.items() if k not in ADDED}
            if event_leaf_hash(record).hex() != event.get("leaf_hash"):
                check.problem(f"leaf {first + offset} ({event.get('audit_id')}) does not hash to its leaf")
            else:
                check.hashes_recomputed += 1


def _contiguous(check: StreamCheck, batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The leaves in order; gaps and overlaps named."""
    leaves: list[dict[str, Any]] = []
    expected: int | None = None
    for batch in batches:
        first, last = int(batch["first_leaf_index"]), int(batch["last_leaf_index"])
        if expected is not None and first > expected:
            check.gaps.append([expected, first - 1])
            check.problem(f"leaves {expected} to {first - 1} are missing")
        elif expected is not None and first < expected:
            check.problem(f"batch {first}-{last} overlaps leaves already received")
            continue
        leaves += batch["events"]
        expected = last + 1
    check.leaves = len(leaves)
    if leaves:
        check.first_leaf_index = int(batches[0]["first_leaf_index"])
        check.last_leaf_index = expected - 1 if expected is not None else None
    return leaves


def _check_root(check: StreamCheck, leaves: list[dict[str, Any]], checkpoints: list[Checkpoint]) -> None:
    """With every leaf from 0, the largest checkpoint they reach must be rebuilt from them."""
    if check.first_leaf_index != 0 or check.gaps:
        return
    reached = [c for c in checkpoints if c.tree_size <= len(leaves)]
    if not reached:
        return
    checkpoint = max(reached, key=lambda c: c.tree_size)
    try:
        hashes = [bytes.fromhex(e["leaf_hash"]) for e in leaves[: checkpoint.tree_size]]
    except (TypeError, KeyError, ValueError):
        check.problem("a leaf has no leaf_hash: the signed root cannot be rebuilt")
        return
    if merkle.root(hashes) != checkpoint.root_hash:
        size = checkpoint.tree_size
        check.problem(f"the leaves do not rebuild the signed root of the checkpoint of size {size}")
    else:
        check.root_checked_at = checkpoint.tree_size
