"""The HTTP app: matches a request to its route and enforces the route's rules, in one place and
in this order: authenticate -> tenant allowlist -> rate limit -> capability (``admission.py``)
-> handler -> audit record (``recording.py``), as each route declares them (``rules.py``). It is
also the one place where errors become HTTP answers
(``{"error": {"code", "message", "details", "request_id"}}``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import uuid_utils
from starlette.requests import Request
from starlette.responses import Response

from auditlog import logs, metrics
from auditlog.errors import (
    AuditLogError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    NotYetSequenced,
    RateLimited,
    Unauthenticated,
)
from auditlog.http.admission import admit, read_body
from auditlog.http.call import Call, Streamed, json_response
from auditlog.http.params import parse_args
from auditlog.http.recording import RefusalGate, record, record_refusal, streamed
from auditlog.http.routes import ROUTES
from auditlog.http.rules import Audited, Public, Route
from auditlog.runtime import Runtime

log = logging.getLogger("auditlog.http")

MAX_CLIENT_REQUEST_ID = 128
MAX_CORRELATION_ID = 256  # as an event's correlation_id
_REFUSALS: dict[type[AuditLogError], str] = {
    Unauthenticated: "unauthenticated",
    Forbidden: "forbidden",
    RateLimited: "rate_limited",
}
# Failures an audited read still records (the caller asked, and was told this).
_RECORDED_FAILURES: dict[type[AuditLogError], str] = {
    NotFound: "not_found",
    NotYetSequenced: "not_sequenced",
}


class Api:
    """Dispatches requests to the routes of some functions (all of them locally)."""

    def __init__(
        self,
        runtime_factory: Callable[[], Runtime],
        functions: set[str] | None = None,
        *,
        project: str = "-",
        routes: tuple[Route, ...] = ROUTES,
    ) -> None:
        """``project``: the Google Cloud project that trace ids in log lines belong to."""
        self._runtime_factory = runtime_factory
        self._project = project
        self._serves = frozenset(functions) if functions is not None else None
        self._refusals = RefusalGate()
        self._routes = [
            (r, r.pattern)
            for r in routes
            if functions is None or r.function == "*" or r.function in functions
        ]

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed: list[str] = []
        for route, pattern in self._routes:
            found = pattern.match(path)
            if found:
                if route.method == method:
                    return route, found.groupdict()
                allowed.append(route.method)
        if allowed:
            raise MethodNotAllowed(f"{method} is not allowed here; use {', '.join(allowed)}")
        raise NotFound(f"no such path: {path}")

    async def handle(self, request: Request) -> Response:
        # The request id is the server's; the caller's X-Request-ID is kept apart, so a caller
        # cannot make its request pass for another one.
        request_id = uuid_utils.uuid4().hex
        client_request_id = header_id(request.headers.get("x-request-id"), MAX_CLIENT_REQUEST_ID)
        correlation_id = header_id(request.headers.get("x-correlation-id"), MAX_CORRELATION_ID) or request_id
        started = time.perf_counter()
        bound = {
            "request_id": request_id,
            "correlation_id": correlation_id,
            **({"client_request_id": client_request_id} if client_request_id else {}),
            **logs.trace_fields(
                self._project,
                request.headers.get("x-cloud-trace-context"),
                request.headers.get("traceparent"),
            ),
        }
        token = logs.bind_request(bound)
        try:
            route_name, response = await self._answer(request, request_id, correlation_id, client_request_id)
            response.headers["X-Request-ID"] = request_id
            response.headers["X-Correlation-ID"] = correlation_id
            if client_request_id:
                response.headers["X-Client-Request-ID"] = client_request_id
            elapsed = time.perf_counter() - started
            _observe(request, response, route_name, request_id, correlation_id, elapsed)
        finally:
            logs.unbind_request(token)
        return response

    async def _answer(
        self, request: Request, request_id: str, correlation_id: str, client_request_id: str | None
    ) -> tuple[str, Response]:
        route_name = "unmatched"
        call: Call | None = None
        try:
            route, params = self._match(request.method, request.url.path)
            route_name = route.operation_id
            runtime = self._runtime_factory()
            call = Call(
                request, runtime, route, params, request_id, correlation_id, client_request_id, self._serves
            )
            return route_name, await _run(call)
        except AuditLogError as exc:
            return route_name, await _refusal_or_error(call, exc, request_id, self._refusals)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id, "route": route_name})
            error = AuditLogError("internal error; the request id identifies it in the logs")
            return route_name, json_response(error.body(request_id), 500)


async def _run(call: Call) -> Response:
    route = call.route
    if not isinstance(route.access, Public):
        await admit(call)
    call.args = parse_args(route, call.query(), call.path_params)
    if route.body is not None and not call.body_read:
        await read_body(call)
    try:
        answer = await route.handler(call)
    except tuple(_RECORDED_FAILURES) as exc:
        if isinstance(route.audit, Audited) and call.principal is not None:
            call.audit.status = _RECORDED_FAILURES[type(exc)]
            await record(call, route.audit.action)
        raise
    if isinstance(answer, Streamed):
        return await streamed(call, answer)
    if isinstance(route.audit, Audited):
        await record(call, route.audit.action)
    return answer


async def _refusal_or_error(
    call: Call | None, exc: AuditLogError, request_id: str, gate: RefusalGate
) -> Response:
    refusal = _REFUSALS.get(type(exc))
    if refusal is not None:
        metrics.REFUSALS.labels(refusal).inc()
    if isinstance(exc, Forbidden) and call is not None and call.principal is not None:
        await record_refusal(call, exc, gate)
    response = json_response(exc.body(request_id), exc.status)
    if isinstance(exc, (RateLimited, NotYetSequenced)):
        # (A rate limit is not recorded as an audit event: that would add load exactly when
        # overloaded.)
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


def header_id(value: str | None, limit: int) -> str | None:
    """A caller's id from a header, as the service keeps it: printable ASCII, at most ``limit``."""
    if not value:
        return None
    kept = "".join(c for c in value[: limit * 2] if " " < c <= "~")[:limit]
    return kept or None


def _observe(
    request: Request, response: Response, route: str, request_id: str, correlation_id: str, elapsed: float
) -> None:
    metrics.HTTP_REQUESTS.labels(route, str(response.status_code)).inc()
    metrics.HTTP_SECONDS.labels(route).observe(elapsed)
    if response.status_code >= 500:
        level = logging.ERROR
    elif response.status_code >= 400:
        level = logging.INFO
    else:
        level = logging.DEBUG
    extra: dict[str, Any] = {
        "request_id": request_id,
        "correlation_id": correlation_id,
        "route": route,
        "status": response.status_code,
        "latency_ms": round(elapsed * 1000, 2),
    }
    log.log(level, "%s %s %s", request.method, request.url.path, response.status_code, extra=extra)
