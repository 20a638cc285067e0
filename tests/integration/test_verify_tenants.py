"""Verifying several tenants in one pass (one scan of the store for a group of tenants, the next
group's digests computed while one is checked) gives each tenant exactly the report verifying it
alone gives, in order, and an earlier checkpoint only to its own tenant."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from auditlog.auth.identity import Principal
from auditlog.ledger.verify import GROUP_LEAVES, _groups, _spans, verify_tenant, verify_tenants
from auditlog.runtime import Runtime
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

TENANTS = ["alpha", "bravo", "charlie"]


def _write(rt: Runtime, tenant: str, n: int, audit_ids: list[str] | None = None) -> list[str]:
    writer = Principal("svc", tenant, frozenset({"audit_writer"}))
    ts = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    events = [
        {
            "audit_id": audit_ids[i] if audit_ids else str(uuid.uuid4()),
            "timestamp": ts,
            "event_type": "record.read",
            "user_id": f"user-{i % 3}",
            "resource_type": "record",
            "action": "read",
        }
        for i in range(n)
    ]
    status, _ = asyncio.run(rt.ingest.write_batch(writer, {"events": events}))
    assert status == 202
    ids = [str(e["audit_id"]) for e in events]
    wait_for(lambda: rt.backends.integrity.state(tenant).frontier.size == n, timeout=10)
    # The writer stages leaves before it appends, so sequenced is not yet stored: wait for both.
    wait_for(lambda: all(rt.store.get(tenant, i) is not None for i in ids), timeout=10)
    return ids


@pytest.mark.parametrize("group_leaves", [GROUP_LEAVES, 100, 1], ids=["one-group", "two-groups", "alone"])
def test_each_tenant_gets_the_report_it_gets_alone(runtime: Runtime, group_leaves: int) -> None:
    ids = {tenant: _write(runtime, tenant, 40 + 10 * i) for i, tenant in enumerate(TENANTS)}
    earlier = {t: runtime.sequencer.checkpoint(t, force=True) for t in TENANTS}
    tampered, removed = ids["bravo"][7], ids["alpha"][3]
    cur = runtime.store._cursor()  # what an attacker with the database file could do
    cur.execute("UPDATE events SET user_id = 'mallory' WHERE audit_id = CAST(? AS UUID)", [tampered])
    cur.execute("DELETE FROM events WHERE audit_id = CAST(? AS UUID)", [removed])
    log, keys = runtime.backends.integrity, {runtime.signer.key_id: runtime.signer.public_key}
    since = earlier["charlie"]

    together = list(
        verify_tenants(
            runtime.store, log, keys, TENANTS, since=since, progress=None, group_leaves=group_leaves
        )
    )

    assert [r.tenant_id for r in together] == TENANTS
    alone = [
        verify_tenant(runtime.store, log, keys, t, since=since if t == "charlie" else None, progress=None)
        for t in TENANTS
    ]
    assert [r.as_dict() for r in together] == [r.as_dict() for r in alone]
    assert [r.events for r in together] == [39, 50, 60]
    assert together[2].ok, "the earlier checkpoint is checked for its own tenant only"
    assert [(f.kind, f.audit_id, f.leaf_index) for f in together[0].findings] == [("deleted", removed, 3)]
    assert [(f.kind, f.audit_id, f.leaf_index) for f in together[1].findings] == [("edited", tampered, 7)]
    assert list(verify_tenants(runtime.store, log, keys, [], progress=None)) == []


def test_an_audit_id_two_tenants_share_is_checked_against_each_ones_leaf(runtime: Runtime) -> None:
    """Audit ids are the writers' to choose, so two tenants may use the same one: checked in one
    scan, each event is held against its own tenant's leaf."""
    shared = [str(uuid.uuid4()) for _ in range(5)]
    _write(runtime, "alpha", 5, shared)
    _write(runtime, "bravo", 5, shared)
    for tenant in ("alpha", "bravo"):
        runtime.sequencer.checkpoint(tenant, force=True)
    runtime.store._cursor().execute(
        "UPDATE events SET status = 'failure' WHERE tenant_id = 'bravo' AND audit_id = CAST(? AS UUID)",
        [shared[2]],
    )
    log, keys = runtime.backends.integrity, {runtime.signer.key_id: runtime.signer.public_key}

    alpha, bravo = verify_tenants(runtime.store, log, keys, ["alpha", "bravo"], progress=None)

    assert alpha.ok and alpha.events == 5, alpha.as_dict()
    assert [(f.kind, f.audit_id) for f in bravo.findings] == [("edited", shared[2])]


def test_groups_hold_consecutive_tenants_up_to_the_limit_and_a_tenant_once() -> None:
    sizes = [("a", 40), ("b", 50), ("c", 200), ("d", 0), ("e", 10)]
    assert _groups(sizes, 100) == [["a", "b"], ["c"], ["d", "e"]]
    assert _groups([("a", 40), ("a", 40), ("e", 10)], 100) == [["a"], ["a", "e"]]
    assert _groups([], 100) == []


def test_spans_merge_missing_leaves_that_are_close() -> None:
    assert _spans([], gap=4) == []
    assert _spans([0, 1, 2, 5, 20, 21, 40], gap=4) == [[0, 6], [20, 22], [40, 41]]
