"""Cloud Logging's trace fields from either trace header, and request fields on every line."""

from __future__ import annotations

import logging

import orjson
import pytest

from auditlog import logs

pytestmark = pytest.mark.unit
TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.parametrize(
    ("cloud", "parent", "expected"),
    [
        (f"{TRACE}/42;o=1", None, {logs.TRACE_KEY: f"projects/p/traces/{TRACE}", logs.SPAN_KEY: "42"}),
        (TRACE.upper(), None, {logs.TRACE_KEY: f"projects/p/traces/{TRACE}"}),
        (
            None,
            f"00-{TRACE}-b7ad6b7169203331-01",
            {logs.TRACE_KEY: f"projects/p/traces/{TRACE}", logs.SPAN_KEY: "b7ad6b7169203331"},
        ),
        (None, "garbage", {}),
        ("not-a-trace", None, {}),
        (None, None, {}),
    ],
)
def test_trace_fields(cloud: str | None, parent: str | None, expected: dict[str, str]) -> None:
    assert logs.trace_fields("p", cloud, parent) == expected


def test_bound_request_fields_reach_every_line_of_the_request() -> None:
    record = logging.makeLogRecord({"msg": "deep inside", "levelname": "WARNING", "levelno": 30})
    token = logs.bind_request({"request_id": "r1", "correlation_id": "c1"})
    try:
        inside = orjson.loads(logs.JsonFormatter().format(record))
    finally:
        logs.unbind_request(token)
    outside = orjson.loads(logs.JsonFormatter().format(record))
    assert inside["request_id"] == "r1" and inside["correlation_id"] == "c1"
    assert inside["severity"] == "WARNING" and inside["message"] == "deep inside"
    assert "request_id" not in outside
