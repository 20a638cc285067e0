"""``auditlog_sdk.verify_stream`` and ``read_stream_batches`` against batches the service's own
code makes (records, leaf hashes, Merkle roots, Ed25519 checkpoints with their C2SP notes,
``Batch.body()`` and the GCS objects), clean and tampered, and in agreement with the service's
checker (``auditlog.streams.verify``) on every case."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from auditlog_sdk import StreamVerification, WitnessPolicy, merkle_root, read_stream_batches, verify_stream

from auditlog.ledger import merkle, notes
from auditlog.ledger.checkpoints import CheckpointSigner, Ed25519Signer, key_id_of
from auditlog.ledger.leaves import event_leaf_hash
from auditlog.streams import verify as service
from auditlog.streams.batch import Batch, Item, batch_id
from auditlog.streams.destinations import gcs
from auditlog.streams.formats import render
from auditlog.streams.model import Format
from tests.records import stored_event
from tests.sdk_python.test_verify_unit import D, mth

pytestmark = pytest.mark.unit

SIGNER = CheckpointSigner.from_seed(bytes(range(32)), "audit.example/log")
OTHER = CheckpointSigner.from_seed(bytes([9]) * 32, "audit.example/log")
WITNESS = Ed25519Signer(bytes([5]) * 32)
WITNESS_KEY = notes.NoteKey("w.example/1", notes.COSIGNATURE_V1, WITNESS.public_key)
WHEN = datetime(2026, 11, 26, 12, tzinfo=UTC)
TENANT, STREAM = "acme", "stream-1"
FILTERED, DELETED = {1, 5, 9}, 6
RANGES = [(0, 2), (3, 5), (6, 8), (9, 9)]
CHECKPOINT_SIZES = (4, 8, 10)

RECORDS = [
    stored_event(
        WHEN.replace(tzinfo=None),
        TENANT,
        minutes=i,
        audit_id=f"00000000-0000-4000-8000-{i:012d}",
        event_type="user.logout" if i in FILTERED else "user.login",
        metadata=json.dumps({"n": i, "note": 'quote " é \u2028'}),
    )
    for i in range(10)
]
HASHES = [event_leaf_hash(r) for r in RECORDS]


def checkpoint(
    size: int, *, signer: CheckpointSigner = SIGNER, tenant: str = TENANT, cosigned: bool = False
) -> dict[str, Any]:
    """The service's signed checkpoint of the first ``size`` leaves, as a batch carries it."""
    signed = signer.sign(tenant, size, merkle.root(HASHES[:size]), WHEN)
    if cosigned:
        cosignature = notes.cosign(signed.text or "", WITNESS_KEY, WITNESS.sign, 1_700_000_000)
        signed = signed.cosigned([cosignature], final=True)
    return signed.as_dict()


def item(index: int) -> Item:
    record, leaf = RECORDS[index], HASHES[index].hex()
    if index == DELETED:
        return Item(index, record["audit_id"], leaf, None, "deleted")
    if index in FILTERED:
        return Item(index, record["audit_id"], leaf, None, "filtered")
    delivery = {"tenant_id": TENANT, "audit_id": record["audit_id"], "leaf_index": index, "leaf_hash": leaf}
    return Item(index, record["audit_id"], leaf, render(Format.JSON, dict(record), delivery))


def batch(first: int, last: int, **signing: Any) -> Batch:
    """The leaves first..last with the smallest checkpoint that covers them."""
    size = min(s for s in CHECKPOINT_SIZES if s > last)
    items = [item(i) for i in range(first, last + 1)]
    return Batch(
        STREAM, TENANT, Format.JSON, items, checkpoint(size, **signing), batch_id(STREAM, first, last)
    )


def received(b: Batch) -> dict[str, Any]:
    """A batch as its receiver parses it."""
    parsed: dict[str, Any] = json.loads(json.dumps(b.body()))
    return parsed


def stream(**signing: Any) -> list[dict[str, Any]]:
    return [received(batch(first, last, **signing)) for first, last in RANGES]


def synthetic_test_delivery() -> dict[str, Any]:
    body = received(batch(0, 0))
    return {**body, "first_leaf_index": -1, "last_leaf_index": -1, "checkpoint": {}}


def check(batches: list[dict[str, Any]], witnesses: WitnessPolicy | None = None) -> StreamVerification:
    return verify_stream(batches, [SIGNER.public_key.hex()], witnesses)


def test_a_clean_stream_in_any_order_passes_with_its_root_checked() -> None:
    batches = [*stream(), synthetic_test_delivery()]
    random.Random(4).shuffle(batches)
    result = check(batches)
    assert result.ok, result.problems
    assert (result.batches, result.resent, result.leaves) == (4, 0, 10)
    assert (result.first_leaf_index, result.last_leaf_index, result.gaps) == (0, 9, [])
    assert result.hashes_recomputed == 10 - len(FILTERED) - 1
    assert result.root_checked_at == 10
    assert result.stream_ids == [STREAM]


def test_stored_webhook_and_gcs_batches_are_read_back(tmp_path: Path) -> None:
    made = [batch(first, last) for first, last in RANGES]
    webhook, gcs_bucket, ndjson = tmp_path / "webhook", tmp_path / "gcs", tmp_path / "lines.ndjson"
    webhook.mkdir()
    for b in made[:2]:
        (webhook / f"{b.batch_id}.json").write_text(json.dumps(b.body()))
    for b in made[2:]:
        (gcs_bucket / gcs.object_name("", b)).parent.mkdir(parents=True, exist_ok=True)
        (gcs_bucket / gcs.object_name("", b)).write_bytes(gcs.ndjson(b))
    ndjson.write_text("".join(json.dumps(b.body()) + "\n" for b in made[1:3]))
    (webhook / "ignored.txt").write_text("not a batch")

    for where in (webhook, gcs_bucket, ndjson):
        assert all("events" in b for b in read_stream_batches(where))
    result = check(
        [*read_stream_batches(webhook), *read_stream_batches(gcs_bucket), *read_stream_batches(ndjson)]
    )
    assert result.ok, result.problems
    assert (result.batches, result.resent, result.root_checked_at) == (6, 2, 10)
    assert next(read_stream_batches(gcs_bucket)) == received(made[2])


def test_a_gap_is_named_and_no_root_is_claimed() -> None:
    batches = stream()
    del batches[1]
    result = check(batches)
    assert not result.ok
    assert result.gaps == [(3, 5)]
    assert "leaves 3 to 5 are missing" in result.problems
    assert result.root_checked_at is None


def test_re_sent_identical_batches_count_once() -> None:
    batches = stream()
    later = received(batch(3, 5))
    later["checkpoint"] = checkpoint(10)  # a re-send carries the newest checkpoint
    result = check([*batches, *copy.deepcopy(batches), later])
    assert result.ok, result.problems
    assert (result.batches, result.resent, result.leaves, result.root_checked_at) == (9, 5, 10, 10)


def test_a_stream_that_starts_later_is_contiguous_from_its_start() -> None:
    result = check(stream()[1:])
    assert result.ok, result.problems
    assert (result.first_leaf_index, result.last_leaf_index, result.root_checked_at) == (3, 9, None)


def _swap_events(batches: list[dict[str, Any]]) -> None:
    events = batches[0]["events"]
    events[0], events[2] = events[2], events[0]


def _swap_events_and_indices(batches: list[dict[str, Any]]) -> None:
    events = batches[1]["events"]
    events[0], events[2] = events[2], events[0]
    events[0]["leaf_index"], events[2]["leaf_index"] = 3, 5


def _alter_event(batches: list[dict[str, Any]]) -> None:
    batches[0]["events"][0]["action"] = "delete"


def _alter_omitted_hash(batches: list[dict[str, Any]]) -> None:
    batches[0]["events"][1]["leaf_hash"] = hashlib.sha256(b"other").hexdigest()


def _flip_signature(batches: list[dict[str, Any]]) -> None:
    signature = batches[1]["checkpoint"]["signature"]
    batches[1]["checkpoint"]["signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]


def _other_signer(batches: list[dict[str, Any]]) -> None:
    batches[1]["checkpoint"] = checkpoint(8, signer=OTHER)


def _note_by_other_signer(batches: list[dict[str, Any]]) -> None:
    batches[1]["checkpoint"]["note"] = checkpoint(8, signer=OTHER)["note"]


def _too_small(batches: list[dict[str, Any]]) -> None:
    batches[1]["checkpoint"] = checkpoint(4)


def _other_tenant(batches: list[dict[str, Any]]) -> None:
    batches[1]["checkpoint"] = checkpoint(8, tenant="globex")


def _re_sent_differently(batches: list[dict[str, Any]]) -> None:
    copied = copy.deepcopy(batches[1])
    copied["events"][0]["user_id"] = "mallory"
    batches.append(copied)


def _leaf_dropped(batches: list[dict[str, Any]]) -> None:
    batches[0]["events"].pop()


def _overlap(batches: list[dict[str, Any]]) -> None:
    batches.append(received(batch(2, 4)))


def _two_streams(batches: list[dict[str, Any]]) -> None:
    batches[3]["stream_id"] = "stream-2"


TAMPERED: dict[str, tuple[Callable[[list[dict[str, Any]]], None], str]] = {
    "reordered leaves": (_swap_events, "batch 0-2: leaf 0 is out of place"),
    "reordered leaves, indices rewritten": (_swap_events_and_indices, "do not rebuild the signed root"),
    "altered event": (_alter_event, "leaf 0 (00000000-0000-4000-8000-000000000000) does not hash"),
    "altered hash of a filtered leaf": (
        _alter_omitted_hash,
        "do not rebuild the signed root of the checkpoint",
    ),
    "bad checkpoint signature": (_flip_signature, "batch 3-5: its checkpoint does not verify"),
    "checkpoint by another key": (_other_signer, "batch 3-5: its checkpoint does not verify"),
    "note by another key": (_note_by_other_signer, "batch 3-5: its checkpoint does not verify"),
    "checkpoint too small": (_too_small, "batch 3-5: its checkpoint does not cover it"),
    "checkpoint of another tenant": (_other_tenant, "batch 3-5: its checkpoint does not cover it"),
    "re-sent batch that differs": (_re_sent_differently, "leaves 3-5 came twice with different contents"),
    "leaf dropped from a batch": (_leaf_dropped, "batch 0-2 holds 2 leaves"),
    "overlapping batch": (_overlap, "batch 2-4 overlaps leaves already received"),
    "two streams": (_two_streams, "batches of 2 streams"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_each_tampering_is_caught_and_named(case: str) -> None:
    tamper, problem = TAMPERED[case]
    batches = stream()
    tamper(batches)
    result = check(batches)
    assert not result.ok
    assert any(problem in p for p in result.problems), result.problems


@pytest.mark.parametrize("case", ["clean", "gap", "re-sent identical", *sorted(TAMPERED)])
def test_the_sdk_and_the_services_checker_agree(case: str) -> None:
    batches = stream()
    if case == "gap":
        del batches[2]
    elif case == "re-sent identical":
        batches += copy.deepcopy(batches[:2])
    elif case in TAMPERED:
        TAMPERED[case][0](batches)
    ours = check(copy.deepcopy(batches)).as_dict()
    theirs = service.verify_stream(batches, {key_id_of(SIGNER.public_key): SIGNER.public_key}).as_dict()
    for name in (
        "ok",
        "batches",
        "resent",
        "leaves",
        "first_leaf_index",
        "last_leaf_index",
        "root_checked_at",
    ):
        assert ours[name] == theirs[name], name
    assert [list(gap) for gap in ours["gaps"]] == theirs["gaps"]


def test_a_re_sent_copy_with_a_forged_checkpoint_is_caught() -> None:
    batches = stream()
    copied = copy.deepcopy(batches[1])
    copied["checkpoint"] = checkpoint(8, signer=OTHER)
    result = check([*batches, copied])
    assert "batch 3-5: its checkpoint does not verify with the log's key" in result.problems


def test_a_witness_policy_needs_the_quorum_of_cosignatures() -> None:
    policy = WitnessPolicy.of([WITNESS_KEY.vkey])
    result = check(stream(), policy)
    assert not result.ok
    assert "batch 0-2: its checkpoint lacks the quorum of 1 witness cosignatures" in result.problems
    cosigned = check(stream(cosigned=True), policy)
    assert cosigned.ok, cosigned.problems
    assert cosigned.root_checked_at == 10


def test_keys_are_raw_or_hex_and_any_of_them_may_sign() -> None:
    assert verify_stream(stream(), [SIGNER.public_key]).ok
    assert verify_stream(stream(), [OTHER.public_key, SIGNER.public_key.hex()]).ok
    assert not verify_stream(stream(), [OTHER.public_key]).ok
    for bad in ([], [b"short"], ["zz" * 32]):
        with pytest.raises(ValueError):
            verify_stream(stream(), bad)


def test_malformed_batches_are_problems_not_exceptions() -> None:
    batches = stream()
    batches[0]["events"][1] = "CEF:0|a line, not an object"
    del batches[2]["checkpoint"]
    batches.append({"stream_id": STREAM, "events": []})
    result = check(batches)
    assert "batch 0-2: leaf 1 is not a JSON object" in result.problems
    assert "batch 6-8 has no checkpoint" in result.problems
    assert any(p.startswith("a batch without a leaf range") for p in result.problems)
    assert result.root_checked_at is None


@pytest.mark.parametrize("n", range(21))
def test_merkle_root_is_rfc_9162s_tree_hash(n: int) -> None:
    leaves = [hashlib.sha256(b"\x00" + d).digest() for d in D[:n]]
    assert merkle_root(leaves) == mth(D[:n])


def test_read_stream_batches_reads_a_gzip_object_header_then_leaves(tmp_path: Path) -> None:
    made = batch(0, 2)
    path = tmp_path / "obj.ndjson.gz"
    path.write_bytes(gcs.ndjson(made))
    lines = gzip.decompress(path.read_bytes()).splitlines()
    assert "events" not in json.loads(lines[0]) and len(lines) == 4
    assert list(read_stream_batches(path)) == [received(made)]
