"""The event stores' leaf digests (computed in the engine for the verifier) against the reference
leaf encoding, on awkward values; and the property that makes orjson the JCS encoder."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.backends.embedded.duckdb_store import DuckDBEventStore
from auditlog.ledger.leaves import event_leaf_hash, leaf_bytes, record_from_row
from auditlog.model.event import COLUMNS
from auditlog.ports.store import WriteBatch

pytestmark = pytest.mark.integration

AWKWARD = [
    "plain",
    'quote " and \\ backslash',
    "nl\n tab\t cr\r",
    "é ß 漢字 😀",
    "\u2028\u2029",
    "/a/b",
    "\x7f",
]
CONTROL = "bell \x07 and unit separator \x1f"


def _event(i: int, text: str) -> dict[str, object]:
    return {
        "audit_id": str(uuid.uuid4()),
        "timestamp": f"2026-11-2{i % 6}T12:34:56.{i:06d}Z",
        "event_type": "t",
        "user_id": text,
        "session_id": None,
        "ip_address": None,
        "user_agent": text,
        "resource_type": "r",
        "resource_id": None,
        "action": "a",
        "status": "success",
        "request_data": orjson.dumps({"k": text, "n": [1, 2.5]}, option=orjson.OPT_SORT_KEYS).decode(),
        "response_data": None,
        "metadata": None,
        "tenant_id": "acme",
        "service_name": None,
        "correlation_id": None,
        "retention_period_days": 90,
        "created_at": "2026-11-26T00:00:00.000001Z",
        "partition_date": f"2026-11-2{i % 6}",
    }


def test_duckdb_digests_equal_the_reference_leaf_hashes(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    events = [_event(i, t) for i, t in enumerate([*AWKWARD, CONTROL])]
    store.append(WriteBatch(events, 1))  # type: ignore[arg-type]
    digests = {
        a: h
        for chunk in store.leaf_digests(["acme"])
        for a, h in zip(chunk.audit_ids, chunk.digests, strict=True)
    }
    for event in events:
        row = store.get("acme", str(event["audit_id"]))
        assert row is not None
        assert record_from_row(row) == {c: event[c] for c in COLUMNS}, "the stored row is the record"
        reference = event_leaf_hash(event)
        if event["user_id"] == CONTROL:
            # DuckDB writes \u001F where JCS has \u001f: the verifier re-checks such rows itself.
            assert digests[str(event["audit_id"])] != reference
        else:
            assert digests[str(event["audit_id"])] == reference, event["user_id"]
    store.close()


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(COLUMNS),
        st.one_of(st.none(), st.text(), st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)),
    )
)
def test_leaf_bytes_are_rfc8785(record: dict[str, object]) -> None:
    full = {c: record.get(c) for c in COLUMNS}
    assert leaf_bytes(full) == rfc8785.dumps(full)


def test_duckdb_committed_records_are_the_records_a_stream_sends(tmp_path: Path) -> None:
    """``committed_many`` (a log stream's read): DuckDB writes each record; parsed, it is exactly
    the committed record (whose leaf hash a receiver recomputes), awkward text included, with the
    columns the stream's filter reads; another tenant's ids and unknown ids are not found."""
    store = DuckDBEventStore(tmp_path / "e.duckdb")
    events = [_event(i, t) for i, t in enumerate([*AWKWARD, CONTROL])]
    events[0]["metadata"] = '{"region":"eu"}'
    events[1]["tenant_id"] = "globex"
    store.append(WriteBatch(events, 1))  # type: ignore[arg-type]
    ids = [str(e["audit_id"]) for e in events] + [str(uuid.uuid4())]
    found = store.committed_many("acme", ids)
    assert set(found) == {str(e["audit_id"]) for e in events if e["tenant_id"] == "acme"}
    for event in events:
        got = found.get(str(event["audit_id"]))
        if event["tenant_id"] != "acme":
            continue
        assert got is not None
        assert orjson.loads(got.record) == {c: event[c] for c in COLUMNS}, event["user_id"]
        assert event_leaf_hash(orjson.loads(got.record)) == event_leaf_hash(event)
        assert (got.event_type, got.service_name, got.status, got.metadata) == (
            event["event_type"], event["service_name"], event["status"], event["metadata"]
        )
    store.close()
