"""The route table declares every rule, and the OpenAPI document is built from it.

Each route names who may call it (a capability, or public with a reason), how it is recorded
(an audit action, or why not), and what it costs (a bucket, or free with a reason); the HTTP app
enforces them (``http/app.py``), and these tests hold the table to that."""

from __future__ import annotations

import re

import pytest

from auditlog.auth.access import Capability, roles_granting
from auditlog.http.openapi import build_document, who_may
from auditlog.http.routes import ROUTES
from auditlog.http.rules import (
    Audited,
    Events,
    Free,
    NotAudited,
    Public,
    Requests,
    Route,
    Window,
)

pytestmark = pytest.mark.unit

IDS = [r.operation_id for r in ROUTES]


def test_operation_ids_and_method_paths_are_unique() -> None:
    assert len(set(IDS)) == len(IDS)
    assert len({(r.method, r.path) for r in ROUTES}) == len(ROUTES)


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_every_route_declares_access_audit_and_cost(route: Route) -> None:
    assert isinstance(route.access, (Capability, Public)), "access: a capability, or Public(why)"
    assert isinstance(route.audit, (Audited, NotAudited)), "audit: Audited(action) or NotAudited(why)"
    assert isinstance(route.cost, (Free, Requests, Events, Window)), "cost: a bucket, or Free(why)"
    for reason in (route.access, route.audit, route.cost):
        if isinstance(reason, (Public, NotAudited, Free)):
            assert len(reason.why) >= 10, f"{route.operation_id}: say why ({reason!r})"
    functions = ("ingest", "query", "retention", "streams", "*")
    assert route.summary and route.errors and route.function in functions


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_the_rules_fit_together(route: Route) -> None:
    if isinstance(route.access, Public):
        # Nobody to charge or to name in a record.
        assert isinstance(route.cost, Free) and isinstance(route.audit, NotAudited)
    else:
        assert not isinstance(route.cost, Free), "an authenticated route is charged to its caller"
        assert 401 in route.errors and 403 in route.errors
    if isinstance(route.cost, Events):
        assert route.body is not None, "events are counted in the body"
    if isinstance(route.audit, Audited):
        assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", route.audit.action)
    if route.method in ("POST", "PUT") and route.body is not None:
        assert 415 in route.errors and 413 in route.errors
    path_params = set(re.findall(r"\{(\w+)\}", route.template))
    assert path_params == {p.name for p in route.params if p.where == "path"}


def test_reads_of_events_are_recorded_and_writes_are_their_own_record() -> None:
    by_id = {r.operation_id: r for r in ROUTES}
    for op in ("searchEvents", "getEvent", "exportEvents", "getEventProof"):
        assert isinstance(by_id[op].audit, Audited), op
    for op in ("ingestEvent", "ingestBatch"):
        assert isinstance(by_id[op].audit, NotAudited) and isinstance(by_id[op].cost, Events)


def test_the_document_is_the_route_table() -> None:
    document = build_document(ROUTES)
    documented = {
        (method.upper(), path, op["operationId"])
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    assert documented == {(r.method, r.template, r.operation_id) for r in ROUTES}
    for route in ROUTES:
        op = document["paths"][route.template][route.method.lower()]
        assert who_may(route) in op["description"]
        assert str(route.answer.status) in op["responses"]
        assert {str(c) for c in route.errors} <= set(op["responses"])
        if isinstance(route.access, Public):
            assert "security" not in op
        else:
            assert op["security"] == [{"bearerAuth": []}]
            assert op["x-capability"] == route.access.value
            roles = roles_granting(route.access)
            assert all(role in op["description"] for role in roles)
        names = {p["name"] for p in op.get("parameters", [])}
        assert names == {p.name for p in route.params}
        if route.body is not None:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/" + route.body.model.__name__)
            assert route.body.model.__name__ in document["components"]["schemas"]
