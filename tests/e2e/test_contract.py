"""The served API matches its documents: the checked-in OpenAPI file and the response models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from auditlog.model.event import AuditEventOut, BatchIngestResult, ErrorBody, EventPage, IngestResult
from tests.conftest import ROOT, LocalService, wait_for

pytestmark = pytest.mark.e2e


def test_served_openapi_document_is_the_checked_in_one(service: LocalService) -> None:
    served = orjson.loads(service.client().get("/openapi.json").content)
    checked_in = orjson.loads((ROOT / "openapi" / "openapi.json").read_bytes())
    assert served == checked_in, "run `make openapi` and commit openapi/openapi.json"


def test_every_route_is_documented_with_its_operation_id(service: LocalService) -> None:
    from auditlog.http.routes import ROUTES

    document = orjson.loads(service.client().get("/openapi.json").content)
    documented = {
        (method.upper(), path, op["operationId"])
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    assert {(r.method, r.template, r.operation_id) for r in ROUTES} == documented


def test_responses_conform_to_their_models(service: LocalService) -> None:
    tenant = f"contract-{uuid.uuid4().hex[:8]}"
    ts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    event = {
        "timestamp": ts,
        "event_type": "a.b",
        "user_id": "u",
        "resource_type": "r",
        "action": "x",
        "request_data": {"q": [1, {"z": None}]},
    }
    with service.client(tenant) as client:
        one = client.post("/api/v1/audit/events", json=event)
        IngestResult.model_validate(one.json())
        batch = client.post("/api/v1/audit/events/batch", json={"events": [event, {"bad": 1}]})
        BatchIngestResult.model_validate(batch.json())
        audit_id = one.json()["audit_id"]
        wait_for(lambda: client.get(f"/api/v1/audit/events/{audit_id}").status_code == 200)
        got = client.get(f"/api/v1/audit/events/{audit_id}")
        AuditEventOut.model_validate(got.json())
        page = client.get("/api/v1/audit/events", params={"page_size": 1})
        EventPage.model_validate(page.json())
        error = client.get("/api/v1/audit/events", params={"nope": 1})
        assert error.status_code == 400
        body = ErrorBody.model_validate(error.json())
        assert body.error.request_id == error.headers["X-Request-ID"]
