"""The OpenAPI 3.1 document, generated from the route table and the models it names: paths,
methods, operation ids, who may call each (from ``access.ROLE_CAPABILITIES``), parameters,
bodies, answers and errors. Nothing here lists a route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from auditlog import __version__
from auditlog.auth.access import roles_granting
from auditlog.http.rules import Param, Public, Route
from auditlog.model.event import ErrorBody

_ERRORS = {
    400: "Invalid input; `details` names each field and problem.",
    401: "Missing or invalid bearer token.",
    403: "The token's roles or tenant do not allow this, or the caller's address is outside the "
    "tenant's IP allowlist.",
    404: "Not found (also when it belongs to another tenant).",
    410: "Gone: retention deleted a record it holds.",
    422: "Cannot be answered as asked (an entry larger than a bundle's 65,535 bytes).",
    409: "Not yet sequenced (`not_sequenced`); the Retry-After header says when to retry.",
    413: "The body or batch is too large.",
    415: "The body is not application/json.",
    429: "Rate limited; the Retry-After header says when to retry.",
    503: "A dependency is down; retry later.",
}
_KINDS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "flag": {"type": "boolean"},
    "count": {"type": "integer"},
    "uuid": {"type": "string", "format": "uuid"},
    "tenant": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"},
    "time": {"type": "string", "format": "date-time"},
    "map": {"type": "object", "additionalProperties": {"type": "string"}},
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _parameter(param: Param) -> dict[str, Any]:
    schema = dict(_KINDS[param.kind])
    if param.choices is not None:
        schema["enum"] = list(param.choices)
    if param.minimum is not None:
        schema["minimum"] = param.minimum
    if param.maximum is not None:
        schema["maximum"] = param.maximum
    if param.default is not None:
        schema["default"] = param.default
    if param.repeated:
        schema = {"type": "array", "items": schema}
    out: dict[str, Any] = {"name": param.name, "in": param.where, "schema": schema}
    if param.where == "path" or param.required:
        out["required"] = True
    if param.repeated or param.kind == "map":
        out["explode"] = True
    if param.kind == "map":
        out["style"] = "deepObject"
    if param.description:
        out["description"] = param.description
    return out


def who_may(route: Route) -> str:
    """The sentence that says who may call a route, from the role table."""
    if isinstance(route.access, Public):
        return "Public: no token needed."
    return f"Roles: {', '.join(roles_granting(route.access))}."


def _answer(route: Route) -> dict[str, Any]:
    answer = route.answer
    if answer.model is not None:
        return _json(answer.model, answer.description)
    if answer.media_types == ("application/json",):
        return {"description": answer.description}
    content = {m: {"schema": {"type": "string"}} for m in answer.media_types}
    return {"description": answer.description, "content": content}


def operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "description": " ".join(filter(None, [route.description, who_may(route)])),
        "responses": {
            str(route.answer.status): _answer(route),
            **{str(code): _json(ErrorBody, _ERRORS[code]) for code in route.errors},
        },
    }
    if route.capability is not None:
        op["security"] = [{"bearerAuth": []}]
        op["x-capability"] = route.capability.value
    if route.params:
        op["parameters"] = [_parameter(p) for p in route.params]
        for parameter in op["parameters"]:
            if parameter["name"] in route.multi_segment:
                # Several path segments (c2sp.org/tlog-tiles paths): the gateway's `{name=**}`.
                parameter["x-google-parameter"] = {"pattern": "**"}
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.body.model)}},
        }
    return op


def build_document(routes: tuple[Route, ...]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.template, {})[route.method.lower()] = operation(route)
    inputs = {r.body.model for r in routes if r.body is not None}
    outputs = {r.answer.model for r in routes if r.answer.model is not None} | {ErrorBody}
    models = sorted(inputs | outputs, key=lambda m: m.__name__)
    _, schemas = models_json_schema(
        [(m, "validation" if m in inputs else "serialization") for m in models],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Audit Log API",
            "version": __version__,
            "description": "Multi-tenant, tamper-evident audit events.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }

