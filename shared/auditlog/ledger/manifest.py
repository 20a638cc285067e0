"""Exports that verify offline: committed records followed by a manifest line holding the
checkpoint they were taken against, the signing key, and each line's leaf index, hash and
(optionally) inclusion path. ``auditlog verify-export`` checks such a file with nothing else."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from auditlog.ledger import merkle, tree
from auditlog.ledger.checkpoints import (
    Checkpoint,
    CheckpointSigner,
    key_id_of,
    unwitnessed,
    verify_checkpoint,
)
from auditlog.ledger.leaves import event_leaf_hash
from auditlog.ledger.notes import WitnessPolicy
from auditlog.ports.integrity import IntegrityStore

EXPORT_FORMAT = "auditlog-export/v1"


# Leaf entries wait on disk beyond this, not in memory: an export of millions of events keeps
# its manifest in a temporary file until the records are sent.
SPOOL_BYTES = 8 * 1024 * 1024
MANIFEST_CHUNK = 1024 * 1024


def manifest_lines(
    log: IntegrityStore,
    signer: CheckpointSigner,
    tenant: str,
    chunks: Iterator[list[dict[str, Any]]],
    *,
    with_proofs: bool,
) -> Iterator[bytes]:
    """NDJSON: one committed record per line (``chunks``: as the log committed to them, JSON
    columns as text, encrypted fields sealed), then one ``{"manifest": ...}`` line: the
    checkpoint the export was taken against, the signing key, and per line its leaf index and
    hash (and on request its inclusion path). The manifest's entries are spooled to a temporary
    file as the records go, and the line is streamed from it: memory stays bounded. The
    checkpoint is the newest final one (with witnesses, cosigned by their quorum)."""
    checkpoint = log.latest_checkpoint(tenant, final=True)
    size = checkpoint.tree_size if checkpoint else 0
    count = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        for records in chunks:
            located = log.locate_many(tenant, [r["audit_id"] for r in records])
            covered = {a: i for a, i in located.items() if i < size}
            paths = (
                tree.inclusions(log, tenant, sorted(covered.values()), checkpoint)
                if with_proofs and checkpoint is not None
                else {}
            )
            out = bytearray()
            entries = bytearray()
            for record in records:
                index = covered.get(record["audit_id"])
                entry: list[Any] = [index, event_leaf_hash(record).hex()]
                if index is not None and index in paths:
                    entry.append([h.hex() for h in paths[index]])
                entries += (b"," if count else b"") + orjson.dumps(entry)
                count += 1
                out += orjson.dumps(record) + b"\n"
            spool.write(entries)
            yield bytes(out)
        head = {
            "format": EXPORT_FORMAT,
            "tenant_id": tenant,
            "checkpoint": checkpoint.as_dict() if checkpoint else None,
            "public_keys": signer.public_keys()["keys"],
            "count": count,
        }
        # {"manifest": {...head, "leaves": [entries]}}, written in pieces.
        yield b'{"manifest":' + orjson.dumps(head)[:-1] + b',"leaves":['
        spool.seek(0)
        while piece := spool.read(MANIFEST_CHUNK):
            yield piece
        yield b"]}}\n"


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


def verify_export(
    lines: Iterator[bytes], trusted_keys: list[bytes], witnesses: WitnessPolicy | None = None
) -> ExportCheck:
    """Check an export with manifest offline. ``trusted_keys``: the raw Ed25519 keys the auditor
    trusts (a rotation's old and new); without any, the keys embedded in the file are used (and
    said so). ``witnesses``: the cosigners the auditor trusts and how many must have cosigned the
    checkpoint."""
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
    if trusted_keys:
        keys = {key_id_of(k): k for k in trusted_keys}
    else:
        problems.append("no --public-key given: trusting the key embedded in the file")
    checkpoint = Checkpoint.from_dict(manifest["checkpoint"]) if manifest.get("checkpoint") else None
    if checkpoint is None or not verify_checkpoint(checkpoint, keys):
        problems.append("the checkpoint's signature does not verify")
    elif witnesses is not None and (why := unwitnessed(checkpoint, keys.values(), witnesses)):
        problems.append(why)
    covered = proofs = 0
    seen: set[int] = set()
    for number, (record, entry) in enumerate(zip(records, entries, strict=False), 1):
        index, leaf_hex = entry[0], entry[1]
        if event_leaf_hash(record).hex() != leaf_hex:
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
