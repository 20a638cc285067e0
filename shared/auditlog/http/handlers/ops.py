"""For operators and load balancers: liveness, readiness, metrics, the API document."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from auditlog import metrics
from auditlog.http.call import Call, json_response

# A function probes only what it uses (and may reach: ingest has no BigQuery access).
USES: dict[str, frozenset[str]] = {
    "ingest": frozenset({"queue", "state"}),
    "query": frozenset({"store", "queue", "cache", "state", "integrity"}),
    "retention": frozenset({"store", "queue", "cache", "state", "integrity"}),
}


async def metrics_text(call: Call) -> Response:
    return Response(metrics.exposition(), 200, media_type=metrics.CONTENT_TYPE)


async def healthz(call: Call) -> Response:
    return json_response({"status": "ok"})


# Without these the service still answers correctly, only slower or with less protection: the
# cache (Redis) fails open, and the claims stand in for the registry. Down, they make the service
# "degraded" (200, so a load balancer keeps routing to it; an alert reads the body or the
# auditlog_dependency_up metric); any other dependency down makes it "unavailable" (503).
OPTIONAL = frozenset({"cache"})


async def readyz(call: Call) -> Response:
    checks: dict[str, Any] = {}
    down: set[str] = set()
    probes = call.runtime.probes()
    needed = set(probes) if call.serves is None else set().union(*(USES[f] for f in call.serves))
    for name, probe in probes.items():
        if name not in needed:
            continue
        started = time.perf_counter()
        try:
            await run_in_threadpool(probe)
            checks[name] = {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
        except Exception as exc:  # a readiness probe reports, it does not raise
            down.add(name)
            checks[name] = {"ok": False, "error": type(exc).__name__, "required": name not in OPTIONAL}
        metrics.DEPENDENCY_UP.labels(name).set(0 if name in down else 1)
    if down - OPTIONAL:
        return json_response({"status": "unavailable", "checks": checks}, 503)
    return json_response({"status": "degraded" if down else "ok", "checks": checks})


async def openapi_document(call: Call) -> Response:
    from auditlog.http.openapi import build_document
    from auditlog.http.routes import ROUTES

    return json_response(build_document(ROUTES))
