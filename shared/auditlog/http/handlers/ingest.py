"""Writing events."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from auditlog.http.call import Call, json_response
from auditlog.model.event import MAX_BATCH_EVENTS


def batch_size(body: Any) -> int:
    """The events a batch body charges: its number of events, or one when it is malformed (the
    service then refuses it by name)."""
    events = body.get("events") if isinstance(body, dict) else None
    if isinstance(events, list) and 1 <= len(events) <= MAX_BATCH_EVENTS:
        return len(events)
    return 1


async def ingest_event(call: Call) -> Response:
    correlation = call.request.headers.get("x-correlation-id")
    answer = await call.runtime.ingest.write_one(call.caller, call.body, correlation)
    return json_response(answer, 202)


async def ingest_batch(call: Call) -> Response:
    correlation = call.request.headers.get("x-correlation-id")
    status, result = await call.runtime.ingest.write_batch(call.caller, call.body, correlation)
    return json_response(result, status)
