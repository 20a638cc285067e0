"""The HTTP API: one route table, shared by the Cloud Functions and the local server.

Each route belongs to one function (ingest, query, retention). A Cloud Function serves its own
routes; the local server serves them all. This module is the one place where errors become HTTP.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import uuid_utils
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from auditlog import logs, metrics
from auditlog.auth import access
from auditlog.auth.access import Capability
from auditlog.auth.allowlist import check_allowlist, client_address
from auditlog.auth.identity import Principal, bearer_token
from auditlog.errors import (
    AuditLogError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    NotYetSequenced,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    UnsupportedMediaType,
)
from auditlog.ingest.service import utc_now
from auditlog.ledger.proofs import manifest_lines
from auditlog.model.event import MAX_BATCH_BODY_BYTES, MAX_SINGLE_BODY_BYTES, validated
from auditlog.model.policy import TenantPolicy
from auditlog.read.rendering import ExportFormat
from auditlog.read.self_audit import RequestContext
from auditlog.runtime import Runtime

log = logging.getLogger("auditlog.http.app")

Handler = Callable[["Call"], Awaitable[Response]]


@dataclass(slots=True)
class Call:
    """One request on its way through a handler."""

    request: Request
    runtime: Runtime
    path_params: dict[str, str]
    request_id: str
    correlation_id: str
    verified: Principal | None = None
    serves: frozenset[str] | None = None  # the Cloud Function's routes; None: every route (local)

    def principal(self) -> Principal:
        """The verified caller, from an allowed address (checked once per request)."""
        if self.verified is None:
            # Behind API Gateway the caller's token moves to X-Forwarded-Authorization and the
            # gateway's own Google ID token (for Cloud Run's IAM check) takes Authorization.
            # Either header carries a token the verifier must accept, so preferring the forwarded
            # one opens nothing.
            headers = self.request.headers
            token = bearer_token(headers.get("x-forwarded-authorization") or headers.get("authorization"))
            self.verified = self.runtime.verifier.verify(token)
            # After `verified` is set, so that a refusal is recorded as an audit event; before
            # any rate limit, so that a stolen token used from elsewhere cannot drain the buckets.
            policy = self.runtime.policies.get(self.verified.tenant_id)
            if policy.ip_allowlist:  # most tenants have none: skip parsing the address
                check_allowlist(self.address(), policy.ip_allowlist)
        return self.verified

    def address(self) -> str | None:
        """The caller's address: the socket peer, or the configured number of hops from the
        right of X-Forwarded-For when trusted proxies stand in front."""
        client = self.request.client
        forwarded = ",".join(self.request.headers.getlist("x-forwarded-for")) or None
        return client_address(
            client.host if client else None, forwarded, self.runtime.settings.trusted_proxy_hops
        )

    def reading(self) -> Principal:
        """The caller of a read, admitted by its read bucket."""
        principal = self.principal()
        policy = self.runtime.policies.get(principal.tenant_id)
        self.runtime.limits.check_read(principal.tenant_id, principal.subject, policy.rate_limit)
        return principal

    async def record(self, principal: Principal, **event: Any) -> None:
        """Write one of the service's own audit events (see self_audit.py), durable on return."""
        await run_in_threadpool(
            functools.partial(
                self.runtime.self_audit.record, principal, self.context(), now=utc_now(), **event
            )
        )

    def context(self) -> RequestContext:
        return RequestContext(
            request_id=self.request_id,
            correlation_id=self.correlation_id,
            ip_address=self.address(),
            user_agent=self.request.headers.get("user-agent"),
        )

    def params(self) -> list[tuple[str, str]]:
        return list(self.request.query_params.multi_items())


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    function: str
    operation_id: str
    handler: Handler

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


async def read_json(call: Call, limit: int) -> Any:
    content_type = call.request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(
            "send the body as application/json",
            [FieldProblem("Content-Type", "must be application/json")],
        )
    declared = call.request.headers.get("content-length")
    too_large = PayloadTooLarge(
        f"the body is larger than {limit} bytes",
        [FieldProblem("body", f"is larger than {limit} bytes")],
    )
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in call.request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise too_large
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            "the body is not valid JSON", [FieldProblem("body", f"is not valid JSON ({exc})")]
        ) from None


# -- handlers ----------------------------------------------------------------------------------


async def ingest_event(call: Call) -> Response:
    principal = call.principal()
    access.require(principal, Capability.WRITE)  # before reading a body it may not send
    body = await read_json(call, MAX_SINGLE_BODY_BYTES)
    correlation = call.request.headers.get("x-correlation-id")
    answer = await call.runtime.ingest.write_one(principal, body, correlation)
    return json_response(answer, 202)


async def ingest_batch(call: Call) -> Response:
    principal = call.principal()
    access.require(principal, Capability.WRITE)  # before reading a body it may not send
    body = await read_json(call, MAX_BATCH_BODY_BYTES)
    status, result = await call.runtime.ingest.write_batch(
        principal, body, call.request.headers.get("x-correlation-id")
    )
    return json_response(result, status)


async def search_events(call: Call) -> Response:
    principal = call.reading()
    page = await run_in_threadpool(
        call.runtime.reader.page, principal, call.params(), utc_now(), call.context()
    )
    return Response(page, 200, media_type="application/json")


async def get_event(call: Call) -> Response:
    principal = call.reading()
    _only_params(call, "tenant_id")
    tenant = call.request.query_params.get("tenant_id")
    event = await run_in_threadpool(
        call.runtime.reader.get, principal, call.path_params["audit_id"], tenant, utc_now(), call.context()
    )
    return Response(event, 200, media_type="application/json")


_EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/x-ndjson"}


async def export_events(call: Call) -> Response:
    principal = call.reading()
    requested = call.request.query_params.get("format", "json")
    if requested not in _EXPORT_FORMATS:
        raise InvalidInput("format must be csv or json", [FieldProblem("format", "must be csv or json")])
    fmt: ExportFormat = "csv" if requested == "csv" else "json"
    media_type = _EXPORT_FORMATS[fmt]
    manifest = _flag(call, "manifest")
    proofs = _flag(call, "proofs")
    if (manifest or proofs) and fmt != "json":
        raise InvalidInput(
            "an integrity manifest comes with format=json only",
            [FieldProblem("format", "must be json when manifest=true")],
        )
    reader = call.runtime.reader
    body: Iterator[bytes]
    if manifest or proofs:
        tenants, chunks = await run_in_threadpool(
            reader.export, principal, call.params(), utc_now(), call.context()
        )
        if len(tenants) != 1:
            raise InvalidInput(
                "an export with a manifest covers one tenant",
                [FieldProblem("tenant_id", "must name one tenant when manifest=true")],
            )
        body = manifest_lines(
            call.runtime.backends.integrity,
            call.runtime.signer,
            tenants[0],
            chunks,
            recanonicalise=call.runtime.proofs.recanonicalise,
            with_proofs=proofs,
        )
    else:
        _, body = await run_in_threadpool(
            reader.export_rendered, principal, call.params(), utc_now(), fmt, call.context()
        )
    # The first chunk is read before answering, so a store error is still a proper error answer.
    first = await run_in_threadpool(next, body, b"")
    filename = f"audit-events.{'csv' if fmt == 'csv' else 'ndjson'}"

    async def stream() -> Any:
        yield first
        async for piece in iterate_in_threadpool(body):
            yield piece

    return StreamingResponse(
        stream(),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _flag(call: Call, name: str) -> bool:
    value = call.request.query_params.get(name, "false")
    if value not in ("true", "false"):
        raise InvalidInput(f"{name} must be true or false", [FieldProblem(name, "must be true or false")])
    return value == "true"


def _int_param(call: Call, name: str) -> int | None:
    value = call.request.query_params.get(name)
    return None if value is None else _non_negative_int(name, value)


def _non_negative_int(name: str, value: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise InvalidInput(
            f"{name} must be a non-negative integer", [FieldProblem(name, "must be a non-negative integer")]
        )
    return int(value)


def _only_params(call: Call, *names: str) -> None:
    unknown = [k for k, _ in call.params() if k not in names]
    if unknown:
        raise InvalidInput(
            f"unknown query parameter {unknown[0]!r}", [FieldProblem(unknown[0], "is not a known parameter")]
        )


async def get_public_key(call: Call) -> Response:
    _only_params(call)
    return json_response(call.runtime.proofs.public_keys())


async def get_latest_checkpoint(call: Call) -> Response:
    principal = call.reading()
    _only_params(call, "tenant_id")
    tenant = call.request.query_params.get("tenant_id")
    return json_response(await run_in_threadpool(call.runtime.proofs.latest, principal, tenant))


async def get_checkpoint(call: Call) -> Response:
    principal = call.reading()
    _only_params(call, "tenant_id")
    tree_size = _non_negative_int("tree_size", call.path_params["tree_size"])
    tenant = call.request.query_params.get("tenant_id")
    return json_response(await run_in_threadpool(call.runtime.proofs.at_size, principal, tenant, tree_size))


async def get_event_proof(call: Call) -> Response:
    principal = call.reading()
    _only_params(call, "tenant_id", "tree_size")
    tree_size = _int_param(call, "tree_size")
    tenant = call.request.query_params.get("tenant_id")
    proof = await run_in_threadpool(
        call.runtime.proofs.proof,
        principal,
        call.path_params["audit_id"],
        tenant,
        tree_size,
        utc_now(),
        call.context(),
    )
    return json_response(proof)


async def get_consistency_proof(call: Call) -> Response:
    principal = call.reading()
    _only_params(call, "tenant_id", "first", "second")
    first = _int_param(call, "first")
    if first is None:
        raise InvalidInput("first is required", [FieldProblem("first", "is required")])
    second = _int_param(call, "second")
    tenant = call.request.query_params.get("tenant_id")
    return json_response(
        await run_in_threadpool(call.runtime.proofs.consistency, principal, tenant, first, second)
    )


async def run_integrity(call: Call) -> Response:
    principal = call.principal()
    access.require(principal, Capability.ADMIN)
    _only_params(call)
    added = await run_in_threadpool(call.runtime.sequencer.run_once)
    return json_response({"integrated": added})


def _hold_json(hold: Any) -> dict[str, Any]:
    return dict(hold.model_dump(mode="json"))


async def place_hold(call: Call) -> Response:
    principal = call.principal()
    access.require(principal, Capability.ADMIN)
    body = await read_json(call, MAX_SINGLE_BODY_BYTES)
    hold = await run_in_threadpool(call.runtime.holds.place, principal, body)
    await call.record(
        principal,
        action="legal_hold.place",
        tenants=[hold.tenant_id],
        resource_id=hold.hold_id,
        request=_hold_json(hold),
    )
    return json_response(_hold_json(hold), 201)


async def list_holds(call: Call) -> Response:
    principal = call.principal()
    _only_params(call, "tenant_id")
    holds = await run_in_threadpool(
        call.runtime.holds.listing, principal, call.request.query_params.get("tenant_id")
    )
    return json_response({"holds": [_hold_json(h) for h in holds]})


async def release_hold(call: Call) -> Response:
    principal = call.principal()
    _only_params(call)
    hold = await run_in_threadpool(call.runtime.holds.release, principal, call.path_params["hold_id"])
    await call.record(
        principal,
        action="legal_hold.release",
        tenants=[hold.tenant_id],
        resource_id=hold.hold_id,
        response=_hold_json(hold),
    )
    return json_response(_hold_json(hold))


async def erase_subject(call: Call) -> Response:
    principal = call.principal()
    access.require(principal, Capability.ADMIN)
    _only_params(call)
    body = await read_json(call, MAX_SINGLE_BODY_BYTES)
    erasure = await run_in_threadpool(call.runtime.erasures.erase, principal, body)
    document = erasure.model_dump(mode="json")
    # The record names the subject by its hash only: the log must not keep what it erased.
    await call.record(
        principal,
        action="subject.erase",
        tenants=[erasure.tenant_id],
        resource_id=erasure.erasure_id,
        response=document,
    )
    return json_response(document)


async def list_erasures(call: Call) -> Response:
    principal = call.principal()
    _only_params(call, "tenant_id")
    found = await run_in_threadpool(
        call.runtime.erasures.listing, principal, call.request.query_params.get("tenant_id")
    )
    return json_response({"erasures": [e.model_dump(mode="json") for e in found]})


async def run_retention(call: Call) -> Response:
    principal = call.principal()
    dry_run = call.request.query_params.get("dry_run", "false")
    if dry_run not in ("true", "false"):
        raise InvalidInput(
            "dry_run must be true or false", [FieldProblem("dry_run", "must be true or false")]
        )
    now = utc_now()
    report = await run_in_threadpool(
        call.runtime.retention.run_for, principal, now.date(), dry_run=dry_run == "true"
    )
    per_tenant: dict[str, int] = report["per_tenant"]
    for tenant in sorted(per_tenant) or [principal.tenant_id]:
        await call.record(
            principal,
            action="retention.run",
            tenants=[tenant],
            request={"dry_run": report["dry_run"], "as_of": report["as_of"]},
            response={"deleted" if not report["dry_run"] else "would_delete": per_tenant.get(tenant, 0)},
        )
    return json_response(report)


async def get_policy(call: Call) -> Response:
    principal = call.principal()
    access.require(principal, Capability.ADMIN)
    policy = await run_in_threadpool(call.runtime.policies.get, call.path_params["tenant_id"])
    return json_response(policy.model_dump(mode="json"))


async def put_policy(call: Call) -> Response:
    principal = call.principal()
    access.require(principal, Capability.ADMIN)
    tenant = call.path_params["tenant_id"]
    body = await read_json(call, MAX_SINGLE_BODY_BYTES)
    policy = validated(TenantPolicy, body, "policy")
    before = await run_in_threadpool(call.runtime.policies.get, tenant)
    await run_in_threadpool(call.runtime.policies.put, tenant, policy)
    await call.record(
        principal,
        action="policy.update",
        tenants=[tenant],
        resource_id=tenant,
        request={"policy": policy.model_dump(mode="json")},
        response={"previous": before.model_dump(mode="json")},
    )
    return json_response(policy.model_dump(mode="json"))


async def metrics_text(call: Call) -> Response:
    return Response(metrics.exposition(), 200, media_type=metrics.CONTENT_TYPE)


async def healthz(call: Call) -> Response:
    return json_response({"status": "ok"})


async def readyz(call: Call) -> Response:
    checks: dict[str, Any] = {}
    ok = True
    backends = call.runtime.backends
    probes: dict[str, Callable[[], object]] = {
        "store": backends.store.ping,
        "queue": backends.queue.depth,
        "cache": lambda: backends.cache.get("auditlog:readyz"),
        "state": lambda: backends.state.get("readyz", "probe"),
        "integrity": lambda: backends.integrity.latest_checkpoint("auditlog-readyz"),
    }
    # A function probes only what it uses (and may reach: ingest has no BigQuery access).
    needed = set(probes) if call.serves is None else set().union(*(_USES[f] for f in call.serves))
    for name, probe in probes.items():
        if name not in needed:
            continue
        started = time.perf_counter()
        try:
            await run_in_threadpool(probe)
            checks[name] = {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
        except Exception as exc:  # a readiness probe reports, it does not raise
            ok = False
            checks[name] = {"ok": False, "error": type(exc).__name__}
    return json_response({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)


_USES: dict[str, frozenset[str]] = {
    "ingest": frozenset({"queue", "state"}),
    "query": frozenset({"store", "queue", "cache", "state", "integrity"}),
    "retention": frozenset({"store", "queue", "cache", "state", "integrity"}),
}


async def openapi_document(call: Call) -> Response:
    from auditlog.http.openapi import build_document

    return json_response(build_document())


async def _record_refusal(call: Call, principal: Principal, operation: str, exc: Forbidden) -> None:
    """A refused attempt by an authenticated caller is itself an audit event of its tenant."""
    try:
        await call.record(
            principal,
            action="access.denied",
            tenants=[principal.tenant_id],
            status="denied",
            request={"operation": operation, "path": call.request.url.path},
            response={"reason": exc.message},
        )
    except Exception:  # the refusal is answered even if its record cannot be written
        log.exception("could not record a refused request", extra={"request_id": call.request_id})


ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/v1/audit/events", "ingest", "ingestEvent", ingest_event),
    Route("POST", "/api/v1/audit/events/batch", "ingest", "ingestBatch", ingest_batch),
    Route("GET", "/api/v1/audit/events", "query", "searchEvents", search_events),
    Route("GET", "/api/v1/audit/events/export", "query", "exportEvents", export_events),
    Route("GET", "/api/v1/audit/events/{audit_id}", "query", "getEvent", get_event),
    Route("GET", "/api/v1/audit/events/{audit_id}/proof", "query", "getEventProof", get_event_proof),
    Route("GET", "/api/v1/audit/checkpoints/latest", "query", "getLatestCheckpoint", get_latest_checkpoint),
    Route("GET", "/api/v1/audit/checkpoints/{tree_size}", "query", "getCheckpoint", get_checkpoint),
    Route("GET", "/api/v1/audit/proofs/consistency", "query", "getConsistencyProof", get_consistency_proof),
    Route("GET", "/api/v1/audit/public-key", "query", "getPublicKey", get_public_key),
    Route("POST", "/api/v1/audit/retention/run", "retention", "runRetention", run_retention),
    Route("POST", "/api/v1/audit/integrity/run", "retention", "runIntegrity", run_integrity),
    Route("POST", "/api/v1/admin/legal-holds", "retention", "placeLegalHold", place_hold),
    Route("GET", "/api/v1/admin/legal-holds", "retention", "listLegalHolds", list_holds),
    Route("DELETE", "/api/v1/admin/legal-holds/{hold_id}", "retention", "releaseLegalHold", release_hold),
    Route("POST", "/api/v1/admin/erasures", "retention", "eraseSubject", erase_subject),
    Route("GET", "/api/v1/admin/erasures", "retention", "listErasures", list_erasures),
    Route("GET", "/api/v1/admin/tenants/{tenant_id}/policy", "retention", "getTenantPolicy", get_policy),
    Route("PUT", "/api/v1/admin/tenants/{tenant_id}/policy", "retention", "putTenantPolicy", put_policy),
    Route("GET", "/healthz", "*", "healthz", healthz),
    Route("GET", "/metrics", "*", "metrics", metrics_text),
    Route("GET", "/readyz", "*", "readyz", readyz),
    Route("GET", "/openapi.json", "*", "openapi", openapi_document),
)


_REFUSALS: dict[type[AuditLogError], str] = {
    Unauthenticated: "unauthenticated",
    Forbidden: "forbidden",
    RateLimited: "rate_limited",
}


class Api:
    """Dispatches requests to the routes of some functions (all of them locally)."""

    def __init__(
        self,
        runtime_factory: Callable[[], Runtime],
        functions: set[str] | None = None,
        *,
        project: str = "-",
    ) -> None:
        """``project``: the Google Cloud project that trace ids in log lines belong to."""
        self._runtime_factory = runtime_factory
        self._project = project
        self._serves = frozenset(functions) if functions is not None else None
        self._routes = [
            (r, r.pattern)
            for r in ROUTES
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
            return await self._handle(request, request_id, correlation_id, started)
        finally:
            logs.unbind_request(token)

    async def _handle(
        self, request: Request, request_id: str, correlation_id: str, started: float
    ) -> Response:
        route_name = "unmatched"
        call: Call | None = None
        try:
            route, params = self._match(request.method, request.url.path)
            route_name = route.operation_id
            call = Call(
                request, self._runtime_factory(), params, request_id, correlation_id, serves=self._serves
            )
            response = await route.handler(call)
        except AuditLogError as exc:
            refusal = _REFUSALS.get(type(exc))
            if refusal is not None:
                metrics.REFUSALS.labels(refusal).inc()
            if isinstance(exc, Forbidden) and call is not None and call.verified is not None:
                await _record_refusal(call, call.verified, route_name, exc)
            response = json_response(exc.body(request_id), exc.status)
            if isinstance(exc, (RateLimited, NotYetSequenced)):
                # (A rate limit is not recorded as an audit event: that would add load exactly
                # when overloaded.)
                response.headers["Retry-After"] = str(exc.retry_after_seconds)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id, "route": route_name})
            response = json_response(
                AuditLogError("internal error; the request id identifies it in the logs").body(request_id),
                500,
            )
        response.headers["X-Request-ID"] = request_id
        response.headers["X-Correlation-ID"] = correlation_id
        elapsed = time.perf_counter() - started
        metrics.HTTP_REQUESTS.labels(route_name, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(route_name).observe(elapsed)
        if response.status_code >= 500:
            level = logging.ERROR
        elif response.status_code >= 400:
            level = logging.INFO
        else:
            level = logging.DEBUG
        log.log(
            level,
            "%s %s %s",
            request.method,
            request.url.path,
            response.status_code,
            extra={
                "request_id": request_id,
                "correlation_id": correlation_id,
                "route": route_name,
                "status": response.status_code,
                "latency_ms": round(elapsed * 1000, 2),
            },
        )
        return response
