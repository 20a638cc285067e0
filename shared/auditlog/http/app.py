"""The HTTP app: matches a request to its route and enforces the route's rules, in one place and
in this order, before the handler runs: authenticate -> tenant allowlist -> rate limit ->
capability -> handler -> audit record (``rules.py``). It is also the one place where errors
become HTTP answers (``{"error": {"code", "message", "details", "request_id"}}``).

A refused request is charged too: one token of its caller's request bucket, so a stolen token used
from outside the allowlist, or with the wrong roles, is throttled like any caller.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import uuid_utils
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from auditlog import logs, metrics
from auditlog.auth import access
from auditlog.auth.allowlist import check_allowlist
from auditlog.auth.identity import Principal, bearer_token
from auditlog.errors import (
    AuditLogError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    NotYetSequenced,
    RateLimited,
    Unauthenticated,
)
from auditlog.http.call import Call, Streamed, json_response
from auditlog.http.params import parse_args, read_json
from auditlog.http.routes import ROUTES
from auditlog.http.rules import Audited, Events, Public, Requests, Route, Window
from auditlog.ingest.service import utc_now
from auditlog.model import values
from auditlog.runtime import Runtime

log = logging.getLogger("auditlog.http")

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
        request_id = request.headers.get("x-request-id") or uuid_utils.uuid4().hex
        correlation_id = request.headers.get("x-correlation-id") or request_id
        started = time.perf_counter()
        bound = {
            "request_id": request_id,
            "correlation_id": correlation_id,
            **logs.trace_fields(
                self._project,
                request.headers.get("x-cloud-trace-context"),
                request.headers.get("traceparent"),
            ),
        }
        token = logs.bind_request(bound)
        try:
            route_name, response = await self._answer(request, request_id, correlation_id)
            response.headers["X-Request-ID"] = request_id
            response.headers["X-Correlation-ID"] = correlation_id
            elapsed = time.perf_counter() - started
            _observe(request, response, route_name, request_id, correlation_id, elapsed)
        finally:
            logs.unbind_request(token)
        return response

    async def _answer(self, request: Request, request_id: str, correlation_id: str) -> tuple[str, Response]:
        route_name = "unmatched"
        call: Call | None = None
        try:
            route, params = self._match(request.method, request.url.path)
            route_name = route.operation_id
            call = Call(
                request, self._runtime_factory(), route, params, request_id, correlation_id, self._serves
            )
            return route_name, await _run(call)
        except AuditLogError as exc:
            return route_name, await _refusal_or_error(call, exc, request_id)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id, "route": route_name})
            error = AuditLogError("internal error; the request id identifies it in the logs")
            return route_name, json_response(error.body(request_id), 500)


async def _run(call: Call) -> Response:
    route = call.route
    if not isinstance(route.access, Public):
        await _admit(call)
    call.args = parse_args(route, call.query(), call.path_params)
    if route.body is not None and not call.body_read:
        await _read_body(call)
    try:
        answer = await route.handler(call)
    except tuple(_RECORDED_FAILURES) as exc:
        if isinstance(route.audit, Audited) and call.principal is not None:
            call.audit.status = _RECORDED_FAILURES[type(exc)]
            await _record(call, route.audit.action)
        raise
    if isinstance(answer, Streamed):
        return await _streamed(call, answer)
    if isinstance(route.audit, Audited):
        await _record(call, route.audit.action)
    return answer


async def _admit(call: Call) -> None:
    """Authenticate, then the tenant's allowlist, the route's cost and its capability. A refusal
    costs one request token first (a 429 then answers instead of the 403)."""
    route, runtime = call.route, call.runtime
    headers = call.request.headers
    # Behind API Gateway the caller's token moves to X-Forwarded-Authorization and the gateway's
    # own Google ID token (for Cloud Run's IAM check) takes Authorization. Either header carries
    # a token the verifier must accept, so preferring the forwarded one opens nothing.
    token = bearer_token(headers.get("x-forwarded-authorization") or headers.get("authorization"))
    principal = runtime.verifier.verify(token)  # verified tokens are cached: no I/O per request
    call.principal = principal
    policy = runtime.policies.get(principal.tenant_id)
    limits = runtime.limits
    try:
        if policy.ip_allowlist:  # most tenants have none: skip parsing the address
            check_allowlist(call.address(), policy.ip_allowlist)
        assert not isinstance(route.access, Public)
        access.require(principal, route.access)
    except Forbidden:
        limits.charge_requests(principal.tenant_id, principal.subject, 1, policy.rate_limit)
        raise
    cost = route.cost
    if isinstance(cost, Requests):
        limits.charge_requests(principal.tenant_id, principal.subject, cost.tokens, policy.rate_limit)
    elif isinstance(cost, Window):
        tokens = _window_tokens(call.query(), cost.days, runtime.settings.default_window_days)
        limits.charge_requests(principal.tenant_id, principal.subject, tokens, policy.rate_limit)
    elif isinstance(cost, Events):
        assert route.body is not None, f"{route.operation_id}: an Events cost needs a body"
        await _read_body(call)
        events = cost.count(call.body)
        limits.charge_events(principal.tenant_id, principal.subject, events, policy.rate_limit)


async def _read_body(call: Call) -> None:
    assert call.route.body is not None
    call.body = await read_json(call.request, call.route.body.limit)
    call.body_read = True


def _window_tokens(query: list[tuple[str, str]], per_days: int, default_days: int) -> int:
    """One token per started ``per_days`` of the window asked for (the handler refuses a window
    that does not parse; it is charged one token here)."""
    found: dict[str, datetime] = {}
    for name in ("start_time", "end_time"):
        given = [v for k, v in query if k == name]
        if len(given) == 1:
            try:
                found[name] = values.moment(name, given[0])
            except AuditLogError:
                return 1
    end = found.get("end_time") or utc_now()
    start = found.get("start_time")
    days = default_days if start is None else max(0.0, (end - start).total_seconds() / 86400)
    return max(1, math.ceil(days / per_days))


async def _record(call: Call, action: str, status: str | None = None) -> None:
    """Write the call's audit record (see read/self_audit.py), durable on return."""
    note, principal = call.audit, call.caller
    await run_in_threadpool(
        functools.partial(
            call.runtime.self_audit.record,
            principal,
            call.context(),
            action=action,
            tenants=note.tenants or (principal.tenant_id,),
            status=status or note.status,
            resource_id=note.resource_id,
            request=note.request,
            response=note.response,
            responses=note.responses,
            now=utc_now(),
        )
    )


async def _streamed(call: Call, answer: Streamed) -> Response:
    """The stream's first chunk is read before answering, so a store error is still a proper
    error answer; the audit record is written when the stream ends, with its row count."""
    audit = call.route.audit
    first = await run_in_threadpool(next, answer.body, b"")

    async def stream() -> AsyncIterator[bytes]:
        complete = False
        try:
            yield first
            async for piece in iterate_in_threadpool(answer.body):
                yield piece
            complete = True
        finally:
            if isinstance(audit, Audited):
                call.audit.response = {"events": answer.rows()}
                await _record(call, audit.action, "success" if complete else "incomplete")

    return StreamingResponse(stream(), media_type=answer.media_type, headers=answer.headers)


async def _refusal_or_error(call: Call | None, exc: AuditLogError, request_id: str) -> Response:
    refusal = _REFUSALS.get(type(exc))
    if refusal is not None:
        metrics.REFUSALS.labels(refusal).inc()
    if isinstance(exc, Forbidden) and call is not None and call.principal is not None:
        await _record_refusal(call, call.principal, exc)
    response = json_response(exc.body(request_id), exc.status)
    if isinstance(exc, (RateLimited, NotYetSequenced)):
        # (A rate limit is not recorded as an audit event: that would add load exactly when
        # overloaded.)
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


async def _record_refusal(call: Call, principal: Principal, exc: Forbidden) -> None:
    """A refused attempt by an authenticated caller is itself an audit event of its tenant."""
    call.audit.tenants = (principal.tenant_id,)
    call.audit.request = {"operation": call.route.operation_id, "path": call.request.url.path}
    call.audit.response = {"reason": exc.message}
    try:
        await _record(call, "access.denied", "denied")
    except Exception:  # the refusal is answered even if its record cannot be written
        log.exception("could not record a refused request", extra={"request_id": call.request_id})


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
