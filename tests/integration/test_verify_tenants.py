"""Verifying several tenants in one pass (the next tenant's digests computed while one is
checked) gives each tenant exactly the report verifying it alone gives, in order, and an
earlier checkpoint only to its own tenant."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from auditlog.identity import Principal
from auditlog.runtime import Runtime
from auditlog.verify import verify_tenant, verify_tenants
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

TENANTS = ["alpha", "bravo", "charlie"]


def _write(rt: Runtime, tenant: str, n: int) -> list[str]:
    writer = Principal("svc", tenant, frozenset({"audit_writer"}), frozenset())
    ts = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    events = [
        {
            "audit_id": str(uuid.uuid4()),
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
    wait_for(lambda: rt.backends.integrity.state(tenant).frontier.size == n, timeout=10)
    return [str(e["audit_id"]) for e in events]


def test_each_tenant_gets_the_report_it_gets_alone(runtime: Runtime) -> None:
    ids = {tenant: _write(runtime, tenant, 40 + 10 * i) for i, tenant in enumerate(TENANTS)}
    earlier = {t: runtime.sequencer.checkpoint(t, force=True) for t in TENANTS}
    tampered = ids["bravo"][7]
    runtime.store._cursor().execute(  # what an attacker with the database file could do
        "UPDATE events SET user_id = 'mallory' WHERE audit_id = CAST(? AS UUID)", [tampered]
    )
    log, keys = runtime.backends.integrity, {runtime.signer.key_id: runtime.signer.public_key}
    since = earlier["charlie"]

    together = list(verify_tenants(runtime.store, log, keys, TENANTS, since=since, progress=None))

    assert [r.tenant_id for r in together] == TENANTS
    alone = [
        verify_tenant(runtime.store, log, keys, t, since=since if t == "charlie" else None, progress=None)
        for t in TENANTS
    ]
    assert [r.as_dict() for r in together] == [r.as_dict() for r in alone]
    assert [r.events for r in together] == [40, 50, 60]
    assert together[0].ok and together[2].ok, "the earlier checkpoint is checked for its own tenant only"
    assert [(f.kind, f.audit_id) for f in together[1].findings] == [("edited", tampered)]
    assert list(verify_tenants(runtime.store, log, keys, [], progress=None)) == []
