"""One request on its way through the app and a handler: who is calling, the typed arguments and
body the route declared, and what its audit record will say."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from auditlog.auth.allowlist import client_address
from auditlog.auth.identity import Principal
from auditlog.http.rules import Route
from auditlog.read.self_audit import RequestContext
from auditlog.runtime import Runtime

MAX_USER_AGENT = 1024  # as an event's user_agent


@dataclass(slots=True)
class AuditNote:
    """What the handler tells the app to record (for routes declared ``Audited``). ``tenants``:
    the tenants touched (default: the caller's); ``responses``: a response per tenant, where
    they differ (a retention run)."""

    tenants: tuple[str, ...] | None = None
    status: str = "success"
    resource_id: str | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    requests: dict[str, dict[str, Any]] | None = None
    responses: dict[str, dict[str, Any]] | None = None


@dataclass(slots=True)
class Streamed:
    """A streamed answer. ``rows`` tells how many rows have been sent so far; the app records it,
    and whether the stream ended, when it ends."""

    body: Iterator[bytes]
    media_type: str
    headers: dict[str, str]
    rows: Callable[[], int]


@dataclass(slots=True)
class Call:
    request: Request
    runtime: Runtime
    route: Route
    path_params: dict[str, str]
    request_id: str
    correlation_id: str
    client_request_id: str | None = None
    serves: frozenset[str] | None = None  # the Cloud Function's routes; None: every route (local)
    principal: Principal | None = None
    args: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    body_read: bool = False
    audit: AuditNote = field(default_factory=AuditNote)

    @property
    def caller(self) -> Principal:
        """The admitted caller (set by the app before any handler of a non-public route runs)."""
        if self.principal is None:
            raise RuntimeError(f"{self.route.operation_id} is public: it has no caller")
        return self.principal

    def query(self) -> list[tuple[str, str]]:
        return list(self.request.query_params.multi_items())

    def address(self) -> str | None:
        """The caller's address: the socket peer, or the configured number of hops from the
        right of X-Forwarded-For when trusted proxies stand in front."""
        client = self.request.client
        forwarded = ",".join(self.request.headers.getlist("x-forwarded-for")) or None
        return client_address(
            client.host if client else None, forwarded, self.runtime.settings.trusted_proxy_hops
        )

    def context(self) -> RequestContext:
        agent = self.request.headers.get("user-agent")
        return RequestContext(
            request_id=self.request_id,
            correlation_id=self.correlation_id,
            ip_address=self.address(),
            user_agent=agent[:MAX_USER_AGENT] if agent else None,
            client_request_id=self.client_request_id,
        )


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")
