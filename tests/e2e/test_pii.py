"""PII rules are applied before anything is published, stored or logged: the raw values of
protected fields appear nowhere the service keeps data, while hashed values stay searchable."""

from __future__ import annotations

import signal
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import orjson
import pytest

from auditlog.backends.embedded.local_keys import AesKeyWrapper
from auditlog.backends.embedded.sqlite_state import SqliteStateStore
from auditlog.ingest.pii import PiiProtector, TenantSecrets
from auditlog.ingest.subjects import SubjectKeys
from auditlog.runtime.keys import WRAPPING_KEY_FILE
from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e

RULES = [
    {"field": "user_id", "action": "hash"},
    {"field": "ip_address", "action": "mask"},
    {"field": "request_data.card.number", "action": "drop"},
    {"field": "metadata.email", "action": "hash"},
]


def test_protected_values_appear_nowhere_and_hashes_stay_searchable(fresh_service: LocalService) -> None:
    tenant = f"pii-{uuid.uuid4().hex[:8]}"
    raw = {
        "user": f"alice-{uuid.uuid4().hex}",
        "ip": "203.0.113.77",
        "card": f"4111{uuid.uuid4().int % 10**12:012d}",
        "email": f"{uuid.uuid4().hex}@example.com",
    }
    with fresh_service.client("auditlog-platform", ["system_admin"]) as admin:
        assert (
            admin.put(f"/api/v1/admin/tenants/{tenant}/policy", json={"pii_rules": RULES}).status_code == 200
        )
    event: dict[str, Any] = {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "payment.create",
        "user_id": raw["user"],
        "ip_address": raw["ip"],
        "resource_type": "payment",
        "action": "create",
        "request_data": {"card": {"number": raw["card"], "brand": "visa"}},
        "metadata": {"email": raw["email"], "plan": "pro"},
    }
    with fresh_service.client(tenant, ["audit_writer", "audit_reader", "audit_export"]) as client:
        assert client.post("/api/v1/audit/events", json=event).status_code == 202
        assert client.post("/api/v1/audit/events/batch", json={"events": [event]}).status_code == 202
        events = wait_for(lambda: len(e := client.get("/api/v1/audit/events").json()["events"]) == 2 and e)
        exported = client.get("/api/v1/audit/events/export", params={"format": "csv"}).content

    stored = events[0]
    assert stored["user_id"].startswith("hmac-sha256:")
    assert stored["ip_address"] == "***"
    assert stored["request_data"] == {"card": {"brand": "visa"}}
    assert stored["metadata"]["plan"] == "pro"
    # equal values stay equal, so a hashed field can still be searched
    assert events[0]["user_id"] == events[1]["user_id"]
    with fresh_service.client(tenant, ["audit_reader"]) as client:
        same_user = client.get("/api/v1/audit/events", params={"user_id": stored["user_id"]}).json()
        assert len(same_user["events"]) == 2
        by_email = client.get(
            "/api/v1/audit/events", params={"metadata.email": stored["metadata"]["email"]}
        ).json()
        assert len(by_email["events"]) == 2

    fresh_service.stop(signal.SIGTERM)  # drains the writer, closes the stores
    db = duckdb.connect(str(fresh_service.data_dir / "events.duckdb"), read_only=True)
    table_text = orjson.dumps(db.execute("SELECT * FROM events").fetchall(), default=str).decode()
    db.close()
    journal = (fresh_service.data_dir / "queue.sqlite3").read_bytes()
    wal = fresh_service.data_dir / "queue.sqlite3-wal"
    journal += wal.read_bytes() if wal.exists() else b""
    assert fresh_service.log_path is not None
    log_text = fresh_service.log_path.read_text()
    for name, value in raw.items():
        assert value not in table_text, f"raw {name} reached the event store"
        assert value.encode() not in journal, f"raw {name} reached the queue"
        assert value not in log_text, f"raw {name} reached the logs"
        assert value.encode() not in exported, f"raw {name} reached an export"
    assert "visa" in table_text, "the check would see a value that is stored"

    # The hash a reader can compute for a value it knows, with the tenant's key (kept wrapped
    # by the key beside the stores, so the state file alone does not give it away).
    state = SqliteStateStore(fresh_service.data_dir / "state.sqlite3")
    with pytest.raises(RuntimeError, match="readable"):
        PiiProtector(TenantSecrets(state), SubjectKeys(state)).hash_for_search(tenant, raw["user"])
    wrapper = AesKeyWrapper((fresh_service.data_dir / WRAPPING_KEY_FILE).read_bytes())
    protector = PiiProtector(TenantSecrets(state, wrapper), SubjectKeys(state, wrapper=wrapper))
    assert protector.hash_for_search(tenant, raw["user"]) == stored["user_id"]
