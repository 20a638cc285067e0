"""The one parser of what a request carries besides its token: declared path and query
parameters (``rules.Param``), and JSON bodies. Every refusal names the parameter or field."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from auditlog.errors import FieldProblem, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from auditlog.http.rules import Param, Route
from auditlog.model import values
from auditlog.model.tenant import check_tenant_id


def parse_value(param: Param, value: str) -> Any:
    """One value of ``param``, typed; ``InvalidInput`` naming it otherwise."""
    name = param.name
    if param.kind == "flag":
        return values.flag(name, value)
    if param.kind == "count":
        return values.count(name, value, minimum=param.minimum, maximum=param.maximum)
    if param.kind == "uuid":
        return values.uuid_text(name, value)
    if param.kind == "tenant":
        return check_tenant_id(value, name)
    if param.kind == "time":
        return values.moment(name, value)
    if param.choices is not None and value not in param.choices:
        raise values.invalid(name, f"must be one of {', '.join(param.choices)}")
    return value


def parse_args(route: Route, query: list[tuple[str, str]], path: dict[str, str]) -> dict[str, Any]:
    """The route's declared parameters, typed, with their defaults; an undeclared query
    parameter is refused unless the route parses the open-ended rest itself."""
    args: dict[str, Any] = {}
    declared = {p.name for p in route.params if p.where == "query"}
    if not route.open_query:
        for name, _ in query:
            if name not in declared:
                raise InvalidInput(
                    f"unknown query parameter {name!r}", [FieldProblem(name, "is not a known parameter")]
                )
    for param in route.params:
        if param.where == "path":
            args[param.name] = parse_value(param, path[param.name])
            continue
        given = [v for k, v in query if k == param.name]
        if len(given) > 1 and not param.repeated:
            raise values.invalid(param.name, "is given more than once")
        if not given:
            if param.required:
                raise values.invalid(param.name, "is required")
            args[param.name] = [] if param.repeated else param.default
            continue
        parsed = [parse_value(param, v) for v in given]
        args[param.name] = parsed if param.repeated else parsed[0]
    return args


async def read_json(request: Request, limit: int) -> Any:
    """The body as JSON: application/json, at most ``limit`` bytes (checked while reading)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(
            "send the body as application/json",
            [FieldProblem("Content-Type", "must be application/json")],
        )
    declared = request.headers.get("content-length")
    too_large = PayloadTooLarge(
        f"the body is larger than {limit} bytes",
        [FieldProblem("body", f"is larger than {limit} bytes")],
    )
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise too_large
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            "the body is not valid JSON", [FieldProblem("body", f"is not valid JSON ({exc})")]
        ) from None
