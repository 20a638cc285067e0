"""Admission: the rules a route declares that run before its handler, in this order:
authenticate -> tenant allowlist -> rate limit -> capability (``rules.py``).

A refused request is charged too: one token of its caller's request bucket, so a stolen token
used from outside the allowlist, or with the wrong roles, is throttled like any caller (a 429
then answers instead of the 403).

Delegation: a service identity listed in ``AUDITLOG_DELEGATE_SUBJECTS`` (the Backstage backend)
may act for a person with ``X-Auditlog-Actor`` (and optionally ``X-Auditlog-Actor-Tenant`` and
``X-Auditlog-Actor-Roles``). The person becomes the caller, recorded with ``via`` naming the
service; the person's roles are the asserted ones that the service itself holds, so delegation
never widens what the service may do, and another tenant may be asserted only by a service that
may read every tenant.
"""

from __future__ import annotations

from datetime import datetime
from math import ceil

from auditlog.auth import access
from auditlog.auth.allowlist import check_allowlist
from auditlog.auth.identity import MAX_SUBJECT_LENGTH, Principal, bearer_token
from auditlog.errors import AuditLogError, FieldProblem, Forbidden
from auditlog.http.call import Call
from auditlog.http.params import read_json
from auditlog.http.rules import Events, Public, Requests, Window
from auditlog.ingest.service import utc_now
from auditlog.model import values
from auditlog.model.tenant import check_tenant_id

ACTOR = "x-auditlog-actor"
ACTOR_TENANT = "x-auditlog-actor-tenant"
ACTOR_ROLES = "x-auditlog-actor-roles"


async def admit(call: Call) -> None:
    route, runtime = call.route, call.runtime
    headers = call.request.headers
    # Behind API Gateway the caller's token moves to X-Forwarded-Authorization and the gateway's
    # own Google ID token (for Cloud Run's IAM check) takes Authorization. Either header carries
    # a token the verifier must accept, so preferring the forwarded one opens nothing.
    token = bearer_token(headers.get("x-forwarded-authorization") or headers.get("authorization"))
    principal = runtime.verifier.verify(token)  # verified tokens are cached: no I/O per request
    call.principal = principal
    limits = runtime.limits
    try:
        if ACTOR in headers:
            call.principal = principal = acting_for(call, principal)
        policy = runtime.policies.get(principal.tenant_id)
        if policy.ip_allowlist:  # most tenants have none: skip parsing the address
            check_allowlist(call.address(), policy.ip_allowlist)
        assert not isinstance(route.access, Public)
        access.require(principal, route.access)
    except Forbidden:
        policy = runtime.policies.get(principal.tenant_id)
        limits.charge_requests(principal.tenant_id, principal.subject, 1, policy.rate_limit)
        raise
    cost = route.cost
    if isinstance(cost, Requests):
        limits.charge_requests(principal.tenant_id, principal.subject, cost.tokens, policy.rate_limit)
    elif isinstance(cost, Window):
        tokens = window_tokens(call.query(), cost.days, runtime.settings.default_window_days)
        limits.charge_requests(principal.tenant_id, principal.subject, tokens, policy.rate_limit)
    elif isinstance(cost, Events):
        await read_body(call)
        events = cost.count(call.body)
        limits.charge_events(principal.tenant_id, principal.subject, events, policy.rate_limit)


def acting_for(call: Call, service: Principal) -> Principal:
    """The person a delegate acts for (see the module's docstring)."""
    headers = call.request.headers
    if service.subject not in call.runtime.settings.delegate_subjects:
        raise Forbidden(
            "this caller may not act for others",
            [FieldProblem("X-Auditlog-Actor", "is accepted only from configured delegates")],
        )
    actor = headers[ACTOR].strip()
    if not actor or len(actor) > MAX_SUBJECT_LENGTH:
        raise Forbidden(
            "X-Auditlog-Actor must name the person",
            [FieldProblem("X-Auditlog-Actor", f"must be 1 to {MAX_SUBJECT_LENGTH} characters")],
        )
    tenant = check_tenant_id(headers.get(ACTOR_TENANT, service.tenant_id).strip(), "X-Auditlog-Actor-Tenant")
    if tenant != service.tenant_id and access.Capability.CROSS_TENANT not in access.capabilities(service):
        raise Forbidden(
            "this delegate may act only within its own tenant",
            [FieldProblem("X-Auditlog-Actor-Tenant", "names a tenant the delegate may not read")],
        )
    asserted = headers.get(ACTOR_ROLES)
    roles = service.roles
    if asserted is not None:
        roles = frozenset(r.strip() for r in asserted.split(",") if r.strip()) & service.roles
    platform = tenant == call.runtime.settings.platform_tenant
    return Principal(actor, tenant, roles, service.permissions, platform=platform, via=service.subject)


async def read_body(call: Call) -> None:
    assert call.route.body is not None, f"{call.route.operation_id} declares no body"
    call.body = await read_json(call.request, call.route.body.limit)
    call.body_read = True


def window_tokens(query: list[tuple[str, str]], per_days: int, default_days: int) -> int:
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
    days = float(default_days) if start is None else max(0.0, (end - start).total_seconds() / 86400)
    return max(1, ceil(days / per_days))
