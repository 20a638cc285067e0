"""The Python SDK against the real local server: writes, the logger under load, paging, export
to a file, errors, proofs, administration and the async client."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from auditlog_sdk import (
    AsyncClient,
    AuditLogger,
    AuthenticationError,
    BadRequestError,
    Client,
    NotFoundError,
    PermissionDeniedError,
)

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e


def _event(i: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "sdk.test",
        "user_id": f"user-{i % 5}",
        "resource_type": "thing",
        "resource_id": f"r-{i}",
        "action": "touch",
        **extra,
    }


def _client(service: LocalService, tenant: str, roles: list[str] | None = None) -> Client:
    return Client(
        service.url, token=service.token(tenant, roles or ["audit_writer", "audit_reader", "audit_export"])
    )


def test_write_read_page_and_verify(service: LocalService) -> None:
    tenant = f"sdk-{uuid.uuid4().hex[:8]}"
    with _client(service, tenant) as client:
        one = client.ingest_event(_event())
        again = client.ingest_event({**_event(), "audit_id": one["audit_id"]})
        assert one["status"] == "accepted" and again["status"] == "duplicate"
        batch = client.ingest_batch([_event(i) for i in range(1, 45)])
        assert batch["accepted"] == 44
        wait_for(lambda: len(list(client.iter_events(page_size=10))) == 45, timeout=10)
        assert len(client.search_events(page_size=10, user_id="user-1")["events"]) == 9
        assert client.get_event(one["audit_id"])["resource_id"] == "r-0"
        proof = client.verify_event(one["audit_id"], receipt=one["leaf_hash"])
        assert proof["record"]["audit_id"] == one["audit_id"]
        latest = client.get_latest_checkpoint()
        consistency = client.get_consistency_proof(1, latest["tree_size"])
        assert consistency["second"] == latest["tree_size"]


def test_errors_are_typed_and_name_the_field(service: LocalService) -> None:
    tenant = f"sdk-{uuid.uuid4().hex[:8]}"
    with _client(service, tenant) as client:
        with pytest.raises(BadRequestError) as bad:
            client.ingest_event({"event_type": "x"})
        assert "user_id" in bad.value.fields and bad.value.request_id
        with pytest.raises(NotFoundError):
            client.get_event(str(uuid.uuid4()))
    with Client(service.url, token="not-a-token") as anonymous, pytest.raises(AuthenticationError):
        anonymous.search_events()
    with _client(service, tenant, ["audit_writer"]) as writer, pytest.raises(PermissionDeniedError):
        writer.search_events()


def test_logger_under_load_stores_every_event_once(service: LocalService) -> None:
    tenant = f"sdk-load-{uuid.uuid4().hex[:8]}"
    client = _client(service, tenant)
    logger = AuditLogger(client, flush_seconds=0.2, max_buffer=5_000)
    ids: list[str] = []
    lock = threading.Lock()

    def produce(worker: int) -> None:
        mine = [logger.log(_event(worker * 10_000 + i)) for i in range(5_000)]
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logger.close()
    assert (logger.sent, logger.refused, logger.failed, logger.dropped) == (20_000, 0, 0, 0)
    seen = wait_for(
        lambda: len(found := [e["audit_id"] for e in client.iter_events(page_size=400)]) == 20_000 and found,
        timeout=30,
    )
    assert sorted(seen) == sorted(ids), "every event exactly once"
    client.close()


def test_export_to_a_file_with_progress(service: LocalService, tmp_path: Path) -> None:
    tenant = f"sdk-{uuid.uuid4().hex[:8]}"
    with _client(service, tenant) as client:
        client.ingest_batch([_event(i) for i in range(30)])
        wait_for(lambda: len(client.search_events(page_size=100)["events"]) == 30)
        seen: list[tuple[int, int]] = []
        out = tmp_path / "export.ndjson"
        written = client.export_events(out, progress=lambda b, n: seen.append((b, n)))
        lines = out.read_bytes().splitlines()
        assert written == out.stat().st_size and len(lines) == 30 and seen[-1] == (written, 30)
        assert {orjson.loads(line)["tenant_id"] for line in lines} == {tenant}


def test_administration(service: LocalService) -> None:
    tenant = f"sdk-admin-{uuid.uuid4().hex[:8]}"
    with Client(service.url, token=service.token("auditlog-platform", ["system_admin"])) as admin:
        hold = admin.place_legal_hold({"tenant_id": tenant, "reason": "sdk test"})
        assert any(h["hold_id"] == hold["hold_id"] for h in admin.list_legal_holds(tenant_id=tenant))
        assert admin.release_legal_hold(hold["hold_id"])["released_at"]
        assert admin.erase_subject(tenant, "nobody")["status"] == "done"
        assert len(admin.list_erasures(tenant_id=tenant)) == 1
        policy = admin.get_tenant_policy(tenant)
        assert (
            admin.put_tenant_policy(tenant, {**policy, "default_retention_days": 120})[
                "default_retention_days"
            ]
            == 120
        )
        assert admin.run_retention(dry_run=True)["dry_run"] is True
        assert admin.preview_retention(tenant_id=tenant)["per_tenant"] == {tenant: 0}
        assert "integrated" in admin.run_integrity()
        assert admin.healthz() and admin.readyz()["status"] == "ok"
        assert "auditlog_http_requests_total" in admin.metrics()
        assert "paths" in admin.openapi() and admin.get_public_key()["keys"]


def test_async_client(service: LocalService) -> None:
    tenant = f"sdk-async-{uuid.uuid4().hex[:8]}"

    async def run() -> list[str]:
        async with AsyncClient(
            service.url, token=service.token(tenant, ["audit_writer", "audit_reader"])
        ) as client:
            written = await asyncio.gather(*(client.ingest_event(_event(i)) for i in range(10)))
            for _ in range(100):
                found = [e["audit_id"] async for e in client.iter_events(page_size=3)]
                if len(found) == 10:
                    break
                await asyncio.sleep(0.05)
            assert sorted(found) == sorted(w["audit_id"] for w in written)
            return found

    assert len(asyncio.run(run())) == 10
