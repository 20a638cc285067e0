"""Writing events, one at a time and in batches: every field round-trips, retries are idempotent."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import LocalService
from tests.e2e.helpers import (
    BATCH,
    COLUMNS,
    EVENTS,
    client,
    event,
    new_tenant,
    post_batch,
    post_one,
    rfc3339,
    search,
    utc,
    wait_get,
    wait_ids,
    z,
)

pytestmark = pytest.mark.e2e

_Z_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

NESTED_REQUEST = {
    "query": {"page": 2, "filters": [{"field": "status", "op": "in", "values": ["a", "b"]}]},
    "flags": [True, False, None],
    "ratio": 0.125,
    "big": 9007199254740993,
    "negative": -42,
    "text": 'quotes " and \\ backslash, commas, \n newlines, \t tabs, ünïcødé ☃ 😀',
    "empty": {},
    "nothing": [],
}


def _created_at_near(value: str, before: datetime, after: datetime) -> None:
    assert _Z_TIME.match(value), value
    created = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before - timedelta(seconds=2) <= created <= after + timedelta(seconds=2)


def test_single_event_every_field_round_trips(service: LocalService) -> None:
    tenant = new_tenant("ingest")
    happened = utc(-timedelta(hours=3), micro=123456)
    audit_id = str(uuid.uuid4())
    body = {
        "audit_id": audit_id,
        # An offset of +05:30 and nine fraction digits: stored as UTC, truncated to microseconds.
        "timestamp": rfc3339(happened, timedelta(hours=5, minutes=30)).replace(".123456", ".123456789"),
        "event_type": "invoice.update",
        "user_id": "user-42@example.com",
        "session_id": "sess-9f8e7d",
        "ip_address": "2001:0DB8:0000:0000:0000:0000:0000:0001",
        "user_agent": 'Mozilla/5.0 (X11; Linux x86_64) "quoted", with, commas',
        "resource_type": "invoice",
        "resource_id": "inv/2026/0042",
        "action": "update",
        "status": "failure",
        "request_data": NESTED_REQUEST,
        "response_data": {"code": 409, "errors": [{"reason": "conflict", "detail": None}]},
        "metadata": {"region": "eu-west-1", "geo": {"country": "DE", "city": "Köln"}, "n": 7},
        "service_name": "billing-api",
        "correlation_id": "corr-0001-abc",
        "retention_period_days": 400,
    }
    before = datetime.now(UTC)
    with client(service, tenant) as c:
        answer = post_one(c, body)
        after = datetime.now(UTC)
        leaf_hash = answer.pop("leaf_hash")
        assert answer == {"audit_id": audit_id, "status": "accepted"}
        assert len(leaf_hash) == 64 and int(leaf_hash, 16) >= 0, "the receipt is a hex SHA-256"
        got = wait_get(c, audit_id)

        assert list(got) == COLUMNS
        expected: dict[str, Any] = {
            **body,
            "timestamp": z(happened),
            "ip_address": "2001:db8::1",
            "tenant_id": tenant,
            "partition_date": happened.date().isoformat(),
            "created_at": got["created_at"],
        }
        assert got == expected
        _created_at_near(got["created_at"], before, after)
        # A search shows the same object as a get.
        assert search(c)["events"] == [got]


def test_minimal_event_gets_server_defaults(service: LocalService) -> None:
    tenant = new_tenant("ingest")
    happened = utc(-timedelta(minutes=10), micro=0)
    before = datetime.now(UTC)
    with client(service, tenant) as c:
        answer = post_one(c, event(timestamp=rfc3339(happened)))
        after = datetime.now(UTC)
        assert answer["status"] == "accepted"
        assigned = uuid.UUID(answer["audit_id"])
        assert str(assigned) == answer["audit_id"]
        assert assigned.version == 7  # the server assigns UUIDv7 ids
        got = wait_get(c, answer["audit_id"])
    assert got["timestamp"] == z(happened)
    assert got["timestamp"].endswith(".000000Z")
    assert got["status"] == "success"
    assert got["retention_period_days"] == 90
    assert got["tenant_id"] == tenant
    for optional in (
        "session_id",
        "ip_address",
        "user_agent",
        "resource_id",
        "request_data",
        "response_data",
        "metadata",
        "service_name",
        "correlation_id",
    ):
        assert got[optional] is None, optional
    _created_at_near(got["created_at"], before, after)


def test_two_events_without_audit_id_get_distinct_ids(service: LocalService) -> None:
    with client(service, new_tenant("ingest")) as c:
        first = post_one(c, event())
        second = post_one(c, event())
        assert first["audit_id"] != second["audit_id"]
        assert second["status"] == first["status"] == "accepted"
        wait_ids(c, [first["audit_id"], second["audit_id"]])


def test_ipv4_is_kept_and_ipv6_forms_are_normalised(service: LocalService) -> None:
    cases = {
        "192.168.10.1": "192.168.10.1",
        "0.0.0.0": "0.0.0.0",
        "255.255.255.255": "255.255.255.255",
        "FE80:0000:0000:0000:0202:B3FF:FE1E:8329": "fe80::202:b3ff:fe1e:8329",
        "2001:db8:0:0:1:0:0:1": "2001:db8::1:0:0:1",
        "::1": "::1",
    }
    events = [event(audit_id=str(uuid.uuid4()), ip_address=given) for given in cases]
    with client(service, new_tenant("ingest")) as c:
        post_batch(c, events)
        stored = {e["audit_id"]: e for e in wait_ids(c, [e["audit_id"] for e in events])}
    for sent, (given, normal) in zip(events, cases.items(), strict=True):
        assert stored[sent["audit_id"]]["ip_address"] == normal, given


def test_partition_date_is_the_utc_date_even_when_the_offset_moves_the_date(service: LocalService) -> None:
    two_days_ago = utc(-timedelta(days=2))
    late = two_days_ago.replace(hour=23, minute=30, second=0, microsecond=0)  # next day at +05:00
    early = two_days_ago.replace(hour=2, minute=15, second=0, microsecond=0)  # previous day at -05:00
    ahead = event(audit_id=str(uuid.uuid4()), timestamp=rfc3339(late, timedelta(hours=5)))
    behind = event(audit_id=str(uuid.uuid4()), timestamp=rfc3339(early, timedelta(hours=-5)))
    assert ahead["timestamp"].startswith((late + timedelta(days=1)).date().isoformat())
    assert behind["timestamp"].startswith((early - timedelta(days=1)).date().isoformat())
    with client(service, new_tenant("ingest")) as c:
        post_batch(c, [ahead, behind])
        stored = {e["audit_id"]: e for e in wait_ids(c, [ahead["audit_id"], behind["audit_id"]])}
    assert stored[ahead["audit_id"]]["partition_date"] == late.date().isoformat()
    assert stored[ahead["audit_id"]]["timestamp"] == z(late)
    assert stored[behind["audit_id"]]["partition_date"] == early.date().isoformat()
    assert stored[behind["audit_id"]]["timestamp"] == z(early)


def test_retention_default_and_explicit_values(service: LocalService) -> None:
    old = utc(-timedelta(days=200))
    cases = [
        event(audit_id=str(uuid.uuid4())),  # default
        event(audit_id=str(uuid.uuid4()), retention_period_days=90),
        event(audit_id=str(uuid.uuid4()), retention_period_days=2555),
        event(audit_id=str(uuid.uuid4()), retention_period_days=None),
        # Older than the default retention, but within its own.
        event(audit_id=str(uuid.uuid4()), timestamp=rfc3339(old), retention_period_days=365),
    ]
    with client(service, new_tenant("ingest")) as c:
        answer = post_batch(c, cases)
        assert answer["accepted"] == 5 and answer["rejected"] == 0
        stored = {
            e["audit_id"]: e
            for e in wait_ids(
                c, [e["audit_id"] for e in cases], {"start_time": rfc3339(old - timedelta(days=1))}
            )
        }
    assert [stored[e["audit_id"]]["retention_period_days"] for e in cases] == [90, 90, 2555, 90, 365]
    assert stored[cases[-1]["audit_id"]]["partition_date"] == old.date().isoformat()


def test_explicit_tenant_id_matching_the_token_is_accepted(service: LocalService) -> None:
    tenant = new_tenant("ingest")
    with client(service, tenant) as c:
        answer = post_one(c, event(tenant_id=tenant))
        assert answer["status"] == "accepted"
        assert wait_get(c, answer["audit_id"])["tenant_id"] == tenant


def test_batch_events_round_trip_in_request_order(service: LocalService) -> None:
    tenant = new_tenant("batch")
    base = utc(-timedelta(hours=2), micro=0)
    events = [
        event(
            audit_id=str(uuid.uuid4()),
            timestamp=rfc3339(base - timedelta(seconds=i), timedelta(hours=-(i % 3))),
            user_id=f"user-{i}",
            session_id=f"s-{i}",
            ip_address=f"10.0.0.{i}",
            user_agent=f"agent {i}",
            resource_id=f"res-{i}",
            status="success" if i % 2 else "denied",
            request_data={"i": i, "nested": {"list": list(range(i))}},
            response_data={"ok": i % 2 == 1},
            metadata={"idx": str(i)},
            service_name="svc",
            correlation_id=f"c-{i}",
            retention_period_days=90 + i,
        )
        for i in range(8)
    ]
    without_id = event(user_id="no-id")
    before = datetime.now(UTC)
    with client(service, tenant) as c:
        answer = post_batch(c, [*events, without_id])
        after = datetime.now(UTC)
        assert answer["accepted"] == 9 and answer["duplicates"] == 0 and answer["rejected"] == 0
        results = answer["results"]
        assert [r["index"] for r in results] == list(range(9))
        assert all(r["status"] == "accepted" and r["errors"] is None for r in results)
        assert [r["audit_id"] for r in results[:8]] == [e["audit_id"] for e in events]
        assigned = results[8]["audit_id"]
        assert uuid.UUID(assigned).version == 7
        stored = {e["audit_id"]: e for e in wait_ids(c, [*(e["audit_id"] for e in events), assigned])}
    assert len(stored) == 9
    for i, sent in enumerate(events):
        got = stored[sent["audit_id"]]
        happened = base - timedelta(seconds=i)
        assert got == {
            **sent,
            "timestamp": z(happened),
            "tenant_id": tenant,
            "partition_date": happened.date().isoformat(),
            "created_at": got["created_at"],
        }
        _created_at_near(got["created_at"], before, after)
    # One batch, one server clock reading.
    assert len({e["created_at"] for e in stored.values()}) == 1
    assert stored[assigned]["user_id"] == "no-id"


def test_batch_with_invalid_events_stores_the_valid_ones(service: LocalService) -> None:
    tenant = new_tenant("batch")
    good = [event(audit_id=str(uuid.uuid4()), user_id=f"good-{i}") for i in range(4)]
    no_user = event()
    del no_user["user_id"]
    events: list[Any] = [
        good[0],
        good[1],
        event(timestamp="2026-01-01T00:00:00"),  # no offset
        no_user,
        good[2],
        "not an event",
        event(retention_period_days="90", colour="red"),
        event(tenant_id="someone-else"),
        good[3],
    ]
    with client(service, tenant) as c:
        response = c.post(BATCH, json={"events": events})
        assert response.status_code == 202, response.text
        answer = response.json()
        results = answer["results"]
        assert [r["index"] for r in results] == list(range(len(events)))
        assert [r["status"] for r in results] == [
            "accepted",
            "accepted",
            "rejected",
            "rejected",
            "accepted",
            "rejected",
            "rejected",
            "rejected",
            "accepted",
        ]
        assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (4, 0, 5)

        def fields(i: int) -> set[str]:
            assert results[i]["audit_id"] is None
            assert all(e["problem"] for e in results[i]["errors"])
            return {e["field"] for e in results[i]["errors"]}

        assert fields(2) == {"events[2].timestamp"}
        assert fields(3) == {"events[3].user_id"}
        assert fields(5) == {"events[5]"}
        assert fields(6) == {"events[6].retention_period_days", "events[6].colour"}
        assert fields(7) == {"events[7].tenant_id"}
        for i, sent in zip((0, 1, 4, 8), good, strict=True):
            assert results[i]["audit_id"] == sent["audit_id"]
            assert results[i]["errors"] is None

        stored = wait_ids(c, [e["audit_id"] for e in good])
        assert sorted(e["user_id"] for e in stored) == ["good-0", "good-1", "good-2", "good-3"]


# -- idempotency --------------------------------------------------------------------------------


def test_single_retry_with_the_same_audit_id_is_stored_once(service: LocalService) -> None:
    audit_id = str(uuid.uuid4())
    with client(service, new_tenant("idem")) as c:
        first = post_one(c, event(audit_id=audit_id, user_id="first"))
        receipt = first.pop("leaf_hash")
        assert receipt is not None
        assert first == {"audit_id": audit_id, "status": "accepted"}
        # A retry, even with other content (and the id in upper case), is the same event, and
        # is answered with the first version's receipt: that is the version stored.
        assert post_one(c, event(audit_id=audit_id, user_id="second")) == {
            "audit_id": audit_id,
            "status": "duplicate",
            "leaf_hash": receipt,
        }
        assert post_one(c, event(audit_id=audit_id.upper(), user_id="third")) == {
            "audit_id": audit_id,
            "status": "duplicate",
            "leaf_hash": receipt,
        }
        marker = post_one(c, event(user_id="marker"))  # written after the retries
        events = wait_ids(c, [audit_id, marker["audit_id"]])
    assert sorted(e["user_id"] for e in events) == ["first", "marker"]


def test_batch_retry_and_repeats_within_a_batch_are_duplicates(service: LocalService) -> None:
    single_id, repeated_id, fresh_id = (str(uuid.uuid4()) for _ in range(3))
    with client(service, new_tenant("idem")) as c:
        post_one(c, event(audit_id=single_id, user_id="single"))
        answer = post_batch(
            c,
            [
                event(audit_id=single_id, user_id="single-again"),  # sent before, alone
                event(audit_id=repeated_id, user_id="repeat-1"),
                event(audit_id=fresh_id, user_id="fresh"),
                event(audit_id=repeated_id, user_id="repeat-2"),  # twice in this batch
            ],
        )
        assert [(r["audit_id"], r["status"]) for r in answer["results"]] == [
            (single_id, "duplicate"),
            (repeated_id, "accepted"),
            (fresh_id, "accepted"),
            (repeated_id, "duplicate"),
        ]
        assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 2, 0)

        # The whole batch again: everything is a duplicate, answered with the first receipts.
        again = post_batch(c, [event(audit_id=i) for i in (single_id, repeated_id, fresh_id)])
        assert [r["status"] for r in again["results"]] == ["duplicate"] * 3
        first_receipts = [r["leaf_hash"] for r in answer["results"][1:3]]
        assert [r["leaf_hash"] for r in again["results"][1:]] == first_receipts
        assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 3, 0)

        marker = post_one(c, event(user_id="marker"))
        events = wait_ids(c, [single_id, repeated_id, fresh_id, marker["audit_id"]])
    assert sorted(e["user_id"] for e in events) == ["fresh", "marker", "repeat-1", "single"]


def test_same_audit_id_in_another_tenant_is_another_event(service: LocalService) -> None:
    audit_id = str(uuid.uuid4())
    with client(service, new_tenant("idem-a")) as a, client(service, new_tenant("idem-b")) as b:
        assert post_one(a, event(audit_id=audit_id, user_id="in-a"))["status"] == "accepted"
        assert post_one(b, event(audit_id=audit_id, user_id="in-b"))["status"] == "accepted"
        assert post_batch(b, [event(audit_id=audit_id)])["results"][0]["status"] == "duplicate"
        got_a = wait_get(a, audit_id)
        got_b = wait_get(b, audit_id)
        assert (got_a["user_id"], got_b["user_id"]) == ("in-a", "in-b")
        assert [e["user_id"] for e in wait_ids(a, [audit_id])] == ["in-a"]
        assert [e["user_id"] for e in wait_ids(b, [audit_id])] == ["in-b"]


def test_batch_of_the_maximum_size_is_accepted(service: LocalService) -> None:
    events = [event(audit_id=str(uuid.uuid4()), user_id=f"u{i}") for i in range(1000)]
    with client(service, new_tenant("batch")) as c:
        response = c.post(BATCH, json={"events": events})
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1000
        assert len(wait_ids(c, [e["audit_id"] for e in events])) == 1000
        # The single endpoint takes one event, not a batch.
        assert c.post(EVENTS, json={"events": events[:1]}).status_code == 400


def test_a_rejected_batch_item_echoes_the_audit_id_it_was_sent_with(service: LocalService) -> None:
    sent = str(uuid.uuid4()).upper()
    with client(service, new_tenant("echo")) as c:
        answer = post_batch(c, [event(audit_id=sent, action=""), event()])
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["audit_id"] == sent.lower()
    assert answer["results"][1]["audit_id"] is not None
