"""PII protection sits before the queue: what ingest publishes to the real journal already has
the protected fields hashed, masked or dropped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditlog.admin.policies import PolicyBook
from auditlog.auth.identity import Principal
from auditlog.backends.embedded.sqlite_journal import SqliteJournalQueue
from auditlog.backends.embedded.sqlite_state import SqliteStateStore
from auditlog.ingest.pii import PiiProtector, TenantSecrets
from auditlog.ingest.service import IngestRules, IngestService
from auditlog.ingest.subjects import SubjectKeys
from auditlog.model.policy import PiiRule, TenantPolicy

pytestmark = pytest.mark.integration


def test_the_queue_payload_holds_no_raw_protected_value(tmp_path: Path) -> None:
    state = SqliteStateStore(tmp_path / "state.sqlite3")
    queue = SqliteJournalQueue(tmp_path / "queue.sqlite3")
    policies = PolicyBook(state, TenantPolicy())
    policies.put(
        "acme",
        TenantPolicy(
            pii_rules=[
                PiiRule(field="user_id", action="hash"),
                PiiRule(field="session_id", action="drop"),
                PiiRule(field="response_data.ssn", action="mask"),
            ]
        ),
    )
    ingest = IngestService(
        queue,
        IngestRules(timedelta(minutes=5)),
        policies,
        PiiProtector(TenantSecrets(state), SubjectKeys(state)),
    )
    event: dict[str, Any] = {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "profile.read",
        "user_id": "raw-user-7f3a",
        "session_id": "raw-session-91c2",
        "resource_type": "profile",
        "action": "read",
        "response_data": {"ssn": "078-05-1120", "status": "visible-control"},
    }
    writer = Principal("svc", "acme", frozenset({"audit_writer"}))
    status, body = asyncio.run(ingest.write_batch(writer, {"events": [event, event]}))
    assert status == 202 and body["accepted"] == 2

    payload = orjson.dumps([b.events for b in queue.pull(0, 100, timeout=0)])
    assert b"visible-control" in payload, "the check sees what is published"
    for raw in (b"raw-user-7f3a", b"raw-session-91c2", b"078-05-1120"):
        assert raw not in payload
    queue.close()
    state.close()
