"""Writes the fixtures of streamverify_test.go: log-stream batches made by the service's own code
(records, leaf hashes, Merkle roots, Ed25519 checkpoints with their C2SP notes and a witness
cosignature, ``Batch.body()``, the webhook body and the GCS objects), clean and tampered, so that
the Go verifier is checked against what the service delivers.

    cd sdk/go/auditlog/testdata
    PYTHONPATH=../../../../shared ../../../../.venv/bin/python make_stream_fixture.py [out_dir]

It is deterministic (fixed seeds, times and ids): run again, it writes the same bytes, which
tests/sdk_python/test_streams_fixture.py checks. It writes, into ``out_dir`` (default: here):

- ``stream_fixture.json``: the log's and another signer's public keys (hex), the witness's
  vkey, and ``cases``: name -> the batch bodies a receiver got (streamverify_test.go holds what
  each case must give);
- ``stream_store/``: the clean stream as receivers store it: ``webhook/<batch id>.json`` (the
  bytes the webhook POSTs), ``lines.ndjson`` (one body per line), ``gcs/<object name>`` (gzip
  NDJSON objects) and a test delivery.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from auditlog.ledger import merkle, notes
from auditlog.ledger.checkpoints import CheckpointSigner, Ed25519Signer
from auditlog.ledger.leaves import event_leaf_hash
from auditlog.model.event import COLUMNS, format_timestamp
from auditlog.streams.batch import Batch, Item, batch_id
from auditlog.streams.destinations import gcs
from auditlog.streams.formats import render
from auditlog.streams.model import Format

SIGNER = CheckpointSigner.from_seed(bytes(range(32)), "audit.example/log")
OTHER = CheckpointSigner.from_seed(bytes([9]) * 32, "audit.example/log")
WITNESS = Ed25519Signer(bytes([5]) * 32)
WITNESS_KEY = notes.NoteKey("w.example/1", notes.COSIGNATURE_V1, WITNESS.public_key)
WHEN = datetime(2026, 11, 26, 12, tzinfo=UTC)
TENANT, STREAM = "acme", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
LEAVES, FILTERED, DELETED = 10, {1, 5, 9}, 6
RANGES = [(0, 2), (3, 5), (6, 8), (9, 9)]
CHECKPOINT_SIZES = (4, 8, 10)

Body = dict[str, Any]


def record(index: int) -> dict[str, Any]:
    """A committed record with text that canonical JSON must get right (quotes, non-ASCII,
    U+2028, a control character)."""
    at = format_timestamp(WHEN.replace(tzinfo=None, minute=index))
    value: dict[str, Any] = dict.fromkeys(COLUMNS)
    value.update(
        audit_id=f"00000000-0000-4000-8000-{index:012d}",
        timestamp=at,
        event_type="user.logout" if index in FILTERED else "user.login",
        user_id="alice",
        user_agent='quote " é \u2028 \x1f',
        resource_type="session",
        action="create",
        status="success",
        metadata=json.dumps({"n": index, "region": "eu"}),
        tenant_id=TENANT,
        retention_period_days=90,
        created_at=at,
        partition_date=at[:10],
    )
    return value


RECORDS = [record(i) for i in range(LEAVES)]
HASHES = [event_leaf_hash(r) for r in RECORDS]


def checkpoint(
    size: int, *, signer: CheckpointSigner = SIGNER, tenant: str = TENANT, cosigned: bool = False
) -> dict[str, Any]:
    signed = signer.sign(tenant, size, merkle.root(HASHES[:size]), WHEN)
    if cosigned:
        cosignature = notes.cosign(signed.text or "", WITNESS_KEY, WITNESS.sign, 1_700_000_000)
        signed = signed.cosigned([cosignature], final=True)
    return signed.as_dict()


def item(index: int) -> Item:
    audit_id, leaf = RECORDS[index]["audit_id"], HASHES[index].hex()
    if index == DELETED:
        return Item(index, audit_id, leaf, None, "deleted")
    if index in FILTERED:
        return Item(index, audit_id, leaf, None, "filtered")
    delivery = {"tenant_id": TENANT, "audit_id": audit_id, "leaf_index": index, "leaf_hash": leaf}
    return Item(index, audit_id, leaf, render(Format.JSON, RECORDS[index], delivery))


def batch(first: int, last: int, **signing: Any) -> Batch:
    """Leaves first..last with the smallest checkpoint covering them."""
    size = min(s for s in CHECKPOINT_SIZES if s > last)
    items = [item(i) for i in range(first, last + 1)]
    return Batch(
        STREAM, TENANT, Format.JSON, items, checkpoint(size, **signing), batch_id(STREAM, first, last)
    )


def body(b: Batch) -> Body:
    parsed: Body = orjson.loads(orjson.dumps(b.body()))
    return parsed


def stream(**signing: Any) -> list[Body]:
    return [body(batch(first, last, **signing)) for first, last in RANGES]


def synthetic_test_delivery() -> Batch:
    """As ``StreamDelivery.test`` sends it: one full event at leaf index -1."""
    leaf = event_leaf_hash(RECORDS[0]).hex()
    delivery = {"tenant_id": TENANT, "audit_id": RECORDS[0]["audit_id"], "leaf_index": -1, "leaf_hash": leaf}
    synthetic = Item(-1, RECORDS[0]["audit_id"], leaf, render(Format.JSON, RECORDS[0], delivery))
    return Batch(STREAM, TENANT, Format.JSON, [synthetic], checkpoint(10), f"{STREAM}-test-1700000000")


def _swap(batches: list[Body], at: int, rewrite_indices: bool) -> None:
    events = batches[at]["events"]
    events[0], events[2] = events[2], events[0]
    if rewrite_indices:
        events[0]["leaf_index"], events[2]["leaf_index"] = events[2]["leaf_index"], events[0]["leaf_index"]


def _set(at: int, key: str, value: Any) -> Callable[[list[Body]], None]:
    def change(batches: list[Body]) -> None:
        batches[at][key] = value

    return change


def _resent_differently(batches: list[Body]) -> None:
    copied = copy.deepcopy(batches[1])
    copied["events"][0]["user_id"] = "mallory"
    batches.append(copied)


def _flip_signature(batches: list[Body]) -> None:
    signature = batches[1]["checkpoint"]["signature"]
    batches[1]["checkpoint"]["signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]


def _not_an_object(batches: list[Body]) -> None:
    batches[0]["events"][1] = "CEF:0|a text line"


def _resent_identically(batches: list[Body]) -> None:
    later = copy.deepcopy(batches[1])
    later["checkpoint"] = checkpoint(10)  # a re-send carries the newest checkpoint
    batches += [*copy.deepcopy(batches), later]


TAMPERINGS: dict[str, Callable[[list[Body]], None]] = {
    "gap": lambda b: b.pop(1),
    "resent_identical": _resent_identically,
    "started_later": lambda b: b.pop(0),
    "reordered": lambda b: _swap(b, 0, rewrite_indices=False),
    "reordered_indices_rewritten": lambda b: _swap(b, 1, rewrite_indices=True),
    "altered_event": lambda b: b[0]["events"][0].update(action="delete"),
    "altered_omitted_hash": lambda b: b[0]["events"][1].update(leaf_hash=hashlib.sha256(b"x").hexdigest()),
    "bad_signature": _flip_signature,
    "other_signer": _set(1, "checkpoint", checkpoint(8, signer=OTHER)),
    "note_by_other_signer": lambda b: b[1]["checkpoint"].update(note=checkpoint(8, signer=OTHER)["note"]),
    "checkpoint_too_small": _set(1, "checkpoint", checkpoint(4)),
    "checkpoint_other_tenant": _set(1, "checkpoint", checkpoint(8, tenant="globex")),
    "resent_different": _resent_differently,
    "leaf_dropped": lambda b: b[0]["events"].pop(),
    "overlap": lambda b: b.append(body(batch(2, 4))),
    "two_streams": _set(3, "stream_id", "another-stream"),
    "not_an_object": _not_an_object,
}


def cases() -> dict[str, list[Body]]:
    made = {
        "clean": [body(synthetic_test_delivery()), *reversed(stream())],
        "cosigned": stream(cosigned=True),
    }
    for name, tamper in TAMPERINGS.items():
        batches = stream()
        tamper(batches)
        made[name] = batches
    return made


def write_store(out: Path) -> None:
    made = [batch(first, last) for first, last in RANGES]
    shutil.rmtree(out, ignore_errors=True)
    (out / "webhook").mkdir(parents=True)
    for b in [*made[:2], synthetic_test_delivery()]:
        (out / "webhook" / f"{b.batch_id}.json").write_bytes(orjson.dumps(b.body()))
    (out / "lines.ndjson").write_bytes(b"".join(orjson.dumps(b.body()) + b"\n" for b in made[1:3]))
    for b in made[2:]:
        target = out / "gcs" / gcs.object_name("", b)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gcs.ndjson(b))
    (out / "README.txt").write_text("Written by ../make_stream_fixture.py; not a batch (ignored).\n")


def main(out: Path) -> None:
    fixture = {
        "public_key": SIGNER.public_key.hex(),
        "other_public_key": OTHER.public_key.hex(),
        "witness_vkey": WITNESS_KEY.vkey,
        "cases": cases(),
    }
    text = json.dumps(fixture, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stream_fixture.json").write_text(text + "\n", encoding="utf-8")
    write_store(out / "stream_store")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
