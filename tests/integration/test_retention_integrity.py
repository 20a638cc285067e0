"""Retention with legal holds on the embedded runtime: expired payloads go, held ones stay, and
every remaining proof and the whole log still verify afterwards."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from auditlog.auth.identity import Principal
from auditlog.ledger import merkle
from auditlog.ledger.leaves import event_leaf_hash
from auditlog.ledger.verify import verify_tenant
from auditlog.runtime import Runtime
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

TENANT = "retained"
WRITER = Principal("svc", TENANT, frozenset({"audit_writer", "audit_reader"}))
ADMIN = Principal("root", "auditlog-platform", frozenset({"system_admin"}), platform=True)


def _events(user: str, n: int, retention: int) -> list[dict[str, Any]]:
    ts = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    return [
        {
            "audit_id": str(uuid.uuid4()),
            "timestamp": ts,
            "event_type": "record.read",
            "user_id": user,
            "resource_type": "record",
            "resource_id": f"r-{i}",
            "action": "read",
            "retention_period_days": retention,
        }
        for i in range(n)
    ]


def test_retention_keeps_held_events_and_every_proof_still_verifies(runtime: Runtime) -> None:
    short = _events("alice", 5, 90) + _events("bob", 4, 90)
    long = _events("carol", 3, 2555)
    status, _ = asyncio.run(runtime.ingest.write_batch(WRITER, {"events": short + long}))
    assert status == 202
    hold = runtime.holds.place(ADMIN, {"tenant_id": TENANT, "reason": "case 42", "user_id": "bob"})
    released = runtime.holds.place(ADMIN, {"tenant_id": TENANT, "reason": "old case", "user_id": "alice"})
    runtime.holds.release(ADMIN, released.hold_id)
    assert [h.hold_id for h in runtime.holds.all(TENANT)] == sorted([hold.hold_id, released.hold_id])

    wait_for(lambda: runtime.backends.integrity.state(TENANT).frontier.size == 12, timeout=10)
    runtime.sequencer.checkpoint(TENANT, force=True)
    later = datetime.now(UTC) + timedelta(days=120)

    dry = runtime.retention.run(later.date(), dry_run=True)
    assert dry["would_delete"] == 5 and dry["per_tenant"] == {TENANT: 5}
    assert runtime.store.count() == 12, "a dry run deletes nothing"
    done = runtime.retention.run(later.date(), dry_run=False)
    assert done["deleted"] == 5 and done["legal_holds_applied"] == 1
    assert runtime.retention.run(later.date(), dry_run=False)["deleted"] == 0, "idempotent"
    assert runtime.store.get(TENANT, short[0]["audit_id"]) is None, "alice's expired events are gone"
    assert runtime.store.get(TENANT, short[5]["audit_id"]) is not None, "bob's are held"

    now = later.replace(tzinfo=None)  # the proof is asked for after the retention run
    checkpoint = runtime.backends.integrity.latest_checkpoint(TENANT)
    assert checkpoint is not None
    for event in short + long:
        proof = runtime.proofs.proof(TENANT, event["audit_id"], checkpoint.tree_size, now).model_dump()
        leaf = bytes.fromhex(proof["leaf_hash"])
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert merkle.verify_inclusion(
            proof["leaf_index"], proof["tree_size"], leaf, path, checkpoint.root_hash
        )
        if event["user_id"] == "alice":
            assert proof["record"] is None, "the payload is gone, the leaf stays"
        else:
            assert event_leaf_hash(proof["record"]) == leaf

    report = verify_tenant(
        runtime.store,
        runtime.backends.integrity,
        {runtime.signer.key_id: runtime.signer.public_key},
        TENANT,
        now=later,
        progress=None,
    )
    assert report.ok, report.as_dict()
    assert report.expired == 5


def test_holds_refuse_bad_input_by_field(runtime: Runtime) -> None:
    from auditlog.errors import InvalidInput, NotFound

    with pytest.raises(InvalidInput) as bad:
        runtime.holds.place(ADMIN, {"tenant_id": TENANT, "reason": "x", "filters": {"colour": ["red"]}})
    assert bad.value.details[0].field == "filters"
    with pytest.raises(InvalidInput) as missing:
        runtime.holds.place(ADMIN, {"tenant_id": TENANT})
    assert missing.value.details[0].field == "reason"
    with pytest.raises(NotFound):
        runtime.holds.release(ADMIN, str(uuid.uuid4()))


def test_a_leaf_sequenced_before_its_event_is_visible_is_not_yet_provable(runtime: Runtime) -> None:
    """On GCP another writer instance may sequence a staged batch before this one's append is
    visible: the proof answers 409 until the record is there, rather than a record-less proof."""
    from auditlog.errors import NotYetSequenced
    from auditlog.ledger.leaves import LeafEntry, batch_key

    audit_id = str(uuid.uuid4())
    entries = [LeafEntry(audit_id, bytes(32), "2099-01-01")]
    runtime.backends.integrity.stage([(TENANT, batch_key(entries), entries)])
    runtime.sequencer.integrate(TENANT)
    runtime.sequencer.checkpoint(TENANT, force=True)
    with pytest.raises(NotYetSequenced):
        runtime.proofs.proof(TENANT, audit_id, None, datetime.now(UTC).replace(tzinfo=None))


def test_reads_cached_before_a_retention_run_do_not_show_what_it_deleted(runtime: Runtime) -> None:
    """Events and pages of a window in the past are cached for an hour; a deletion must not
    leave them served from the cache."""
    from auditlog.errors import NotFound

    expiring = _events("dave", 2, 90)
    status, _ = asyncio.run(runtime.ingest.write_batch(WRITER, {"events": expiring}))
    assert status == 202
    now = datetime.now(UTC)
    window = [
        ("start_time", (now - timedelta(days=2)).isoformat()),
        ("end_time", (now - timedelta(hours=1)).isoformat()),  # closed: the long TTL
    ]
    wait_for(lambda: runtime.store.get(TENANT, expiring[1]["audit_id"]) is not None, timeout=10)
    now = now.replace(tzinfo=None)  # the service's clock is naive UTC
    for _ in range(2):  # the second read of each is served from the cache
        event = orjson.loads(runtime.reader.get(WRITER, TENANT, expiring[0]["audit_id"]))
        assert event["user_id"] == "dave"
        page = orjson.loads(runtime.reader.page(WRITER, window, now).body)
        assert len(page["events"]) == 2

    assert runtime.retention.run((now + timedelta(days=120)).date(), dry_run=False)["deleted"] == 2
    with pytest.raises(NotFound):
        runtime.reader.get(WRITER, TENANT, expiring[0]["audit_id"])
    assert orjson.loads(runtime.reader.page(WRITER, window, now).body)["events"] == []


def test_a_repeated_get_is_served_from_the_cache_and_not_found_is_not_cached(runtime: Runtime) -> None:
    from auditlog import metrics
    from auditlog.errors import NotFound

    def hits() -> float:
        return metrics.CACHE.labels("hit")._value.get()

    event = _events("erin", 1, 90)[0]
    missing = str(uuid.uuid4())
    asyncio.run(runtime.ingest.write_batch(WRITER, {"events": [event]}))
    wait_for(lambda: runtime.store.get(TENANT, event["audit_id"]) is not None, timeout=10)
    first = runtime.reader.get(WRITER, TENANT, event["audit_id"].upper())
    before = hits()
    assert runtime.reader.get(WRITER, TENANT, event["audit_id"]) == first, "the id's case does not matter"
    assert hits() == before + 1
    assert orjson.loads(first)["audit_id"] == event["audit_id"]

    # "Not found" is not cached: the write that makes the id appear is found at once.
    for _ in range(2):
        with pytest.raises(NotFound):
            runtime.reader.get(WRITER, TENANT, missing)
    assert hits() == before + 1
    late = {**_events("erin", 1, 90)[0], "audit_id": missing}
    asyncio.run(runtime.ingest.write_batch(WRITER, {"events": [late]}))

    def found() -> bool:
        try:
            return bool(runtime.reader.get(WRITER, TENANT, missing))
        except NotFound:
            return False

    wait_for(found, timeout=10)
    assert orjson.loads(runtime.reader.get(WRITER, TENANT, missing))["user_id"] == "erin"


def test_a_hold_matches_a_hashed_field_by_its_clear_value(runtime: Runtime) -> None:
    from auditlog.errors import InvalidInput
    from auditlog.model.policy import PiiRule, TenantPolicy

    tenant = "hashed-holds"
    writer = Principal("svc", tenant, frozenset({"audit_writer"}))
    rules = [PiiRule(field="user_id", action="hash"), PiiRule(field="resource_id", action="mask")]
    runtime.policies.put(tenant, TenantPolicy(pii_rules=rules))
    events = _events("dave", 3, 90) + _events("erin", 2, 90)
    asyncio.run(runtime.ingest.write_batch(writer, {"events": events}))
    wait_for(lambda: runtime.store.count() == 5, timeout=10)
    stored = runtime.store.get(tenant, events[0]["audit_id"])
    assert stored is not None and str(stored[3]).startswith("hmac-sha256:"), "user_id is stored hashed"

    with pytest.raises(InvalidInput) as masked:
        runtime.holds.place(ADMIN, {"tenant_id": tenant, "reason": "x", "resource_id": "r-1"})
    assert masked.value.details[0].field == "resource_id"
    runtime.holds.place(ADMIN, {"tenant_id": tenant, "reason": "case 7", "user_id": "dave"})

    later = datetime.now(UTC) + timedelta(days=120)
    dry = runtime.retention.run(later.date(), dry_run=True)
    assert dry["would_delete"] == 2 and dry["held"] == {tenant: 3}, "the dry run shows what the hold keeps"
    runtime.retention.run(later.date(), dry_run=False)
    kept = [e["audit_id"] for e in events if runtime.store.get(tenant, e["audit_id"]) is not None]
    assert kept == [e["audit_id"] for e in events[:3]], "dave's events are held, erin's are gone"


def test_a_hold_on_a_field_masked_after_it_was_placed_keeps_the_whole_tenant(runtime: Runtime) -> None:
    from auditlog.model.policy import PiiRule, TenantPolicy

    tenant = "masked-later"
    writer = Principal("svc", tenant, frozenset({"audit_writer"}))
    asyncio.run(runtime.ingest.write_batch(writer, {"events": _events("frank", 2, 90)}))
    runtime.holds.place(ADMIN, {"tenant_id": tenant, "reason": "case 8", "user_id": "frank"})
    runtime.policies.put(tenant, TenantPolicy(pii_rules=[PiiRule(field="user_id", action="mask")]))
    asyncio.run(runtime.ingest.write_batch(writer, {"events": _events("frank", 2, 90)}))
    wait_for(lambda: runtime.store.count() == 4, timeout=10)
    later = datetime.now(UTC) + timedelta(days=120)
    assert runtime.retention.run(later.date(), dry_run=False)["deleted"] == 0, "a legal hold errs on keeping"
