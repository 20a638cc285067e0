"""The event model: what is accepted, what is refused and why, and the stored record."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from auditlog.model.event import (
    COLUMNS,
    MAX_JSON_DEPTH,
    MAX_JSON_OBJECT_BYTES,
    AuditEventIn,
    EventRejected,
    format_timestamp,
    json_depth,
    parse_event,
    parse_rfc3339,
    to_stored,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 12, 0, 0)


def valid(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "timestamp": "2026-11-26T10:00:00Z",
        "event_type": "user.login",
        "user_id": "alice",
        "resource_type": "session",
        "action": "create",
    }
    event.update(overrides)
    return event


def problems(raw: Any, prefix: str = "") -> dict[str, str]:
    with pytest.raises(EventRejected) as caught:
        parse_event(raw, prefix)
    return {p.field: p.problem for p in caught.value.problems}


def stored(raw: dict[str, Any], now: datetime = NOW) -> dict[str, Any]:
    event = parse_event(raw)
    return dict(
        to_stored(
            event,
            tenant_id="acme",
            audit_id="0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
            default_retention_days=90,
            now=now,
            max_future=timedelta(minutes=5),
        )
    )


def test_columns_are_the_seed_schema_in_order() -> None:
    assert COLUMNS == (
        "audit_id", "timestamp", "event_type", "user_id", "session_id", "ip_address",
        "user_agent", "resource_type", "resource_id", "action", "status", "request_data",
        "response_data", "metadata", "tenant_id", "service_name", "correlation_id",
        "retention_period_days", "created_at", "partition_date",
    )  # fmt: skip


def test_minimal_event_is_accepted_with_defaults() -> None:
    record = stored(valid())
    assert record["status"] == "success"
    assert record["retention_period_days"] == 90
    assert record["tenant_id"] == "acme"
    assert record["created_at"] == format_timestamp(NOW)
    assert list(record) == list(COLUMNS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T10:00:00Z", datetime(2026, 11, 26, 10, 0, 0)),
        ("2026-11-26t10:00:00z", datetime(2026, 11, 26, 10, 0, 0)),
        ("2026-11-27T01:30:00+02:00", datetime(2026, 11, 26, 23, 30, 0)),
        ("2026-11-26T10:00:00.123456789-05:00", datetime(2026, 11, 26, 15, 0, 0, 123456)),
        ("2026-11-26T10:00:00.5Z", datetime(2026, 11, 26, 10, 0, 0, 500000)),
    ],
)
def test_timestamps_with_offsets_become_utc(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2026-11-26T10:00:00", "2026-11-26", "20261126T100000Z", "2026-13-01T00:00:00Z", "yesterday", ""],
)
def test_timestamps_without_offset_or_malformed_are_refused(text: str) -> None:
    assert "timestamp" in problems(valid(timestamp=text))


def test_partition_date_is_the_utc_date_of_the_timestamp() -> None:
    record = stored(valid(timestamp="2026-11-26T01:00:00+03:00"))
    assert record["partition_date"] == "2026-11-25"


def test_every_missing_required_field_is_named() -> None:
    assert problems({}) == {
        "timestamp": "is required",
        "event_type": "is required",
        "user_id": "is required",
        "resource_type": "is required",
        "action": "is required",
    }


def test_unknown_field_is_named() -> None:
    assert problems(valid(colour="red")) == {"colour": "is not a known field"}


@pytest.mark.parametrize("name", ["created_at", "partition_date"])
def test_server_fields_cannot_be_sent(name: str) -> None:
    assert problems(valid(**{name: "2026-11-26"})) == {name: "is set by the server and cannot be sent"}


def test_server_field_and_other_problems_are_reported_together() -> None:
    found = problems(valid(created_at="x", user_id=5), prefix="events[3]")
    assert set(found) == {"events[3].created_at", "events[3].user_id"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("user_id", 5),
        ("retention_period_days", "90"),
        ("retention_period_days", 89),
        ("retention_period_days", 2556),
        ("retention_period_days", True),
        ("audit_id", "not-a-uuid"),
        ("audit_id", "0193a1b27c4d7e8f9a0b1c2d3e4f5a6b"),
        ("ip_address", "300.1.1.1"),
        ("request_data", [1, 2]),
        ("metadata", "text"),
        ("event_type", ""),
        ("event_type", "has space"),
        ("user_agent", "x" * 1025),
        ("status", "x" * 33),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: str, value: Any) -> None:
    assert field in problems(valid(**{field: value}))


def test_retention_bounds_are_inclusive() -> None:
    assert stored(valid(retention_period_days=2555))["retention_period_days"] == 2555
    assert stored(valid(retention_period_days=90))["retention_period_days"] == 90


def test_ip_addresses_are_normalised() -> None:
    assert stored(valid(ip_address="2001:DB8:0:0:0:0:0:1"))["ip_address"] == "2001:db8::1"


def test_client_uuid_is_normalised_to_lower_case() -> None:
    event = parse_event(valid(audit_id="0193A1B2-7C4D-7E8F-9A0B-1C2D3E4F5A6B"))
    assert event.audit_id == "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"


def test_json_objects_are_bounded_in_depth_and_size() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(MAX_JSON_DEPTH):
        node["x"] = {}
        node = node["x"]
    for field, value in (("request_data", deep), ("metadata", {"blob": "x" * MAX_JSON_OBJECT_BYTES})):
        with pytest.raises(EventRejected) as caught:
            stored(valid(**{field: value}))
        assert [p.field for p in caught.value.problems] == [field]
    assert stored(valid(metadata={"a": {"b": [1, 2, {"c": None}]}}))["metadata"] == (
        '{"a":{"b":[1,2,{"c":null}]}}'
    )
    at_limit: dict[str, Any] = {}
    node = at_limit
    for _ in range(MAX_JSON_DEPTH - 1):
        node["x"] = {"s": "}}}]]]{{{"}
        node = node["x"]
    assert stored(valid(request_data=at_limit))["request_data"]


@pytest.mark.parametrize(
    ("text", "depth"),
    [(b"{}", 1), (b'{"a":[1,{"b":2}]}', 3), (b'{"a":"[[[{{{"}', 1), (b'{"a":"\\"}', 1), (b"[]", 1)],
)
def test_json_depth_ignores_brackets_inside_strings(text: bytes, depth: int) -> None:
    assert json_depth(text) == depth


def test_whole_event_is_bounded() -> None:
    half = "x" * (MAX_JSON_OBJECT_BYTES - 100)
    with pytest.raises(EventRejected) as caught:
        stored(valid(request_data={"a": half}, response_data={"a": half}, metadata={"a": half}))
    assert [p.field for p in caught.value.problems] == ["body"]


def test_future_timestamp_is_refused_beyond_the_skew() -> None:
    assert stored(valid(timestamp="2026-11-26T12:04:59Z"))
    with pytest.raises(EventRejected) as caught:
        stored(valid(timestamp="2026-11-26T12:05:01Z"))
    assert caught.value.problems[0].field == "timestamp"


def test_timestamp_older_than_its_retention_is_refused() -> None:
    with pytest.raises(EventRejected):
        stored(valid(timestamp="2026-08-01T00:00:00Z"))
    assert stored(valid(timestamp="2026-08-01T00:00:00Z", retention_period_days=365))


def test_stored_record_is_json_native() -> None:
    record = stored(valid(timestamp="2026-11-26T10:00:00.5+01:00", metadata={"k": "v"}))
    assert record["timestamp"] == "2026-11-26T09:00:00.500000Z"
    assert record["created_at"] == "2026-11-26T12:00:00.000000Z"
    assert record["partition_date"] == "2026-11-26"
    assert record["metadata"] == '{"k":"v"}'


def test_format_timestamp_is_rfc3339_utc_microseconds() -> None:
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, 6)) == "2026-01-02T03:04:05.000006Z"


def test_openapi_schema_of_the_input_refuses_unknown_fields() -> None:
    schema = AuditEventIn.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"timestamp", "event_type", "user_id", "resource_type", "action"}
