"""Exports: CSV and NDJSON parse back to exactly what a search shows; filters apply; big exports
are complete."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import LocalService, wait_for
from tests.e2e.helpers import (
    COLUMNS,
    EXPORT,
    assert_error,
    client,
    event,
    new_tenant,
    post_batch,
    rfc3339,
    search,
    utc,
    wait_ids,
)

pytestmark = pytest.mark.e2e

JSON_COLUMNS = {"request_data", "response_data", "metadata"}

AWKWARD_TEXT = [
    'a "quoted" word',
    "comma, separated, values",
    "line one\nline two",
    "windows\r\nline end",
    "trailing backslash \\",
    "ünïcødé ☃ 😀 日本語",
    "  leading and trailing spaces  ",
    '"',
    ",",
    "=1+2",  # looks like a formula: CSV shows it as text ('=1+2), NDJSON as stored
]


def _csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(response.content.decode("utf-8"), newline=""))
    header = next(reader)
    assert header == COLUMNS
    rows = [dict(zip(header, row, strict=True)) for row in reader]
    return rows


def _ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.content
    if not body:
        return []
    assert body.endswith(b"\n")
    return [json.loads(line) for line in body[:-1].split(b"\n")]


def _as_csv(value: Any, column: str) -> str:
    if value is None:
        return ""
    if column in JSON_COLUMNS:
        raise AssertionError("compare JSON columns parsed")
    text = str(value)
    # A cell a spreadsheet would run as a formula is prefixed with ' (OWASP CSV injection).
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def _assert_csv_row_is(row: dict[str, str], expected: dict[str, Any]) -> None:
    for column in COLUMNS:
        if column in JSON_COLUMNS:
            if expected[column] is None:
                assert row[column] == "", column
            else:
                assert json.loads(row[column]) == expected[column], column
        else:
            assert row[column] == _as_csv(expected[column], column), column


@pytest.fixture(scope="module")
def awkward(service: LocalService) -> tuple[str, list[dict[str, Any]]]:
    """Events whose text and JSON hold quotes, commas, newlines and non-ASCII; and what a search
    shows for them (newest first)."""
    tenant = new_tenant("export")
    base = utc(-timedelta(hours=1), micro=0)
    events = []
    for i, text in enumerate(AWKWARD_TEXT):
        events.append(
            event(
                audit_id=str(uuid.uuid4()),
                timestamp=rfc3339(base - timedelta(seconds=i)),
                user_id=["alice", "bob"][i % 2],
                user_agent=text,
                resource_id=text,
                session_id=None if i % 3 == 0 else f"s,{i}",
                ip_address="2001:db8::1" if i % 2 else "10.1.2.3",
                request_data={"text": text, "nested": {"list": [text, i, None, True]}, f"k{text}": 1},
                response_data=None if i % 2 else {"ok": True, "n": i / 4},
                metadata={"region": ["eu", "us"][i % 2], "note": text},
                service_name="svc, with comma",
                correlation_id=f"corr-{i}",
                retention_period_days=90 + i,
            )
        )
    with client(service, tenant) as c:
        post_batch(c, events)
        shown = wait_ids(c, [e["audit_id"] for e in events])
    assert len(shown) == len(events)
    return tenant, shown


def test_csv_export_parses_back_to_the_events(
    service: LocalService, awkward: tuple[str, list[dict[str, Any]]]
) -> None:
    tenant, shown = awkward
    with client(service, tenant, ["audit_export"]) as c:
        response = c.get(EXPORT, params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert ".csv" in response.headers["content-disposition"]
    rows = _csv_rows(response)
    assert [r["audit_id"] for r in rows] == [e["audit_id"] for e in shown]
    for row, expected in zip(rows, shown, strict=True):
        _assert_csv_row_is(row, expected)
    # The awkward text really is in there, intact.
    assert {r["user_agent"] for r in rows} == {_as_csv(t, "user_agent") for t in AWKWARD_TEXT}
    assert {json.loads(r["metadata"])["note"] for r in rows} == set(AWKWARD_TEXT)


def test_ndjson_export_parses_back_to_the_events(
    service: LocalService, awkward: tuple[str, list[dict[str, Any]]]
) -> None:
    tenant, shown = awkward
    with client(service, tenant, ["audit_export"]) as c:
        response = c.get(EXPORT, params={"format": "json"})
        default = c.get(EXPORT)  # json is the default format
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert ".ndjson" in response.headers["content-disposition"]
    lines = _ndjson(response)
    assert lines == shown
    assert all(list(line) == COLUMNS for line in lines)
    assert default.status_code == 200 and _ndjson(default) == shown


@pytest.mark.parametrize(
    "params",
    [
        [("user_id", "bob")],
        [("metadata.region", "eu")],
        [("correlation_id", "corr-1"), ("correlation_id", "corr-4"), ("correlation_id", "corr-7")],
        [("user_id", "alice"), ("metadata.region", "eu"), ("service_name", "svc, with comma")],
        [("user_id", "nobody")],
    ],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p),
)
def test_export_filters_are_the_search_filters(
    service: LocalService, awkward: tuple[str, list[dict[str, Any]]], params: list[tuple[str, str]]
) -> None:
    tenant, shown = awkward
    with client(service, tenant, ["audit_export"]) as c:
        expected = search(c, [*params, ("page_size", "1000")])["events"]
        assert len(expected) < len(shown)
        as_json = _ndjson(c.get(EXPORT, params=[*params, ("format", "json")]))
        as_csv = _csv_rows(c.get(EXPORT, params=[*params, ("format", "csv")]))
    assert as_json == expected
    assert [r["audit_id"] for r in as_csv] == [e["audit_id"] for e in expected]


def test_export_time_bounds(service: LocalService, awkward: tuple[str, list[dict[str, Any]]]) -> None:
    tenant, shown = awkward
    start, end = shown[6]["timestamp"], shown[2]["timestamp"]
    with client(service, tenant, ["audit_export"]) as c:
        exported = _ndjson(c.get(EXPORT, params={"start_time": start, "end_time": end}))
    # start inclusive, end exclusive
    assert [e["audit_id"] for e in exported] == [e["audit_id"] for e in shown[3:7]]


def test_empty_export(service: LocalService) -> None:
    with client(service, new_tenant("export"), ["audit_export"]) as c:
        as_csv = c.get(EXPORT, params={"format": "csv"})
        as_json = c.get(EXPORT, params={"format": "json"})
    assert as_csv.status_code == as_json.status_code == 200
    assert _csv_rows(as_csv) == []
    assert as_json.content == b""


def test_export_window_may_be_longer_than_a_search_window(service: LocalService) -> None:
    old_ts = utc(-timedelta(days=1500))
    old = event(audit_id=str(uuid.uuid4()), timestamp=rfc3339(old_ts), retention_period_days=2555)
    recent = event(audit_id=str(uuid.uuid4()))
    start = rfc3339(utc(-timedelta(days=2000)))
    with client(service, new_tenant("export")) as c:
        post_batch(c, [old, recent])
        around = {
            "start_time": rfc3339(old_ts - timedelta(days=1)),
            "end_time": rfc3339(old_ts + timedelta(days=1)),
        }
        wait_ids(c, [old["audit_id"]], around)
        wait_ids(c, [recent["audit_id"]])
        assert_error(c.get("/api/v1/audit/events", params={"start_time": start}), 400, "start_time")
        exported = _ndjson(c.get(EXPORT, params={"start_time": start}))
        assert [e["audit_id"] for e in exported] == [recent["audit_id"], old["audit_id"]]
        # Without start_time an export covers the default window only.
        assert [e["audit_id"] for e in _ndjson(c.get(EXPORT))] == [recent["audit_id"]]
        too_long = rfc3339(utc(-timedelta(days=2600)))
        assert_error(c.get(EXPORT, params={"start_time": too_long}), 400, "start_time")


def test_a_few_thousand_rows_export_completely(service: LocalService) -> None:
    base = utc(-timedelta(hours=5), micro=0)
    total = 3000
    ids: list[str] = []
    with client(service, new_tenant("export-big")) as c:
        for chunk in range(3):
            events = [
                event(
                    audit_id=str(uuid.uuid4()),
                    # many ties: 10 events per millisecond
                    timestamp=rfc3339(base - timedelta(milliseconds=(chunk * 1000 + i) // 10)),
                    user_id=f"user-{i % 13}",
                    request_data={"i": chunk * 1000 + i, "text": "x" * (i % 50)},
                )
                for i in range(1000)
            ]
            assert post_batch(c, events)["accepted"] == 1000
            ids += [e["audit_id"] for e in events]
        wait_for(lambda: len(_ndjson(c.get(EXPORT))) == total, timeout=10, interval=0.1)

        as_json = c.get(EXPORT, params={"format": "json"})
        as_csv = c.get(EXPORT, params={"format": "csv"})
    assert as_json.status_code == as_csv.status_code == 200
    json_ids = [e["audit_id"] for e in _ndjson(as_json)]
    csv_rows = _csv_rows(as_csv)
    csv_ids = [r["audit_id"] for r in csv_rows]
    assert len(json_ids) == len(set(json_ids)) == total
    assert set(json_ids) == set(ids)
    assert csv_ids == json_ids
    keys = [(r["timestamp"], r["audit_id"]) for r in csv_rows]
    assert keys == sorted(keys, reverse=True)
    assert sorted(json.loads(r["request_data"])["i"] for r in csv_rows) == list(range(total))
