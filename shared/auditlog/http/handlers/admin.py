"""Administration: legal holds, erasures, tenant policies, retention."""

from __future__ import annotations

import functools
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from auditlog.auth import access
from auditlog.errors import FieldProblem, Forbidden
from auditlog.http.call import Call, json_response
from auditlog.ingest.service import utc_now
from auditlog.model.event import validated
from auditlog.model.policy import TenantPolicy


async def place_hold(call: Call) -> Response:
    hold = await run_in_threadpool(call.runtime.holds.place, call.caller, call.body)
    document = hold.model_dump(mode="json")
    call.audit.tenants = (hold.tenant_id,)
    call.audit.resource_id = hold.hold_id
    call.audit.request = document
    return json_response(document, 201)


async def list_holds(call: Call) -> Response:
    tenant = access.listed_tenant(call.caller, call.args["tenant_id"])
    call.audit.tenants = (tenant,) if tenant else None
    holds = await run_in_threadpool(call.runtime.holds.all, tenant)
    return json_response({"holds": [h.model_dump(mode="json") for h in holds]})


async def release_hold(call: Call) -> Response:
    hold = await run_in_threadpool(call.runtime.holds.release, call.caller, call.args["hold_id"])
    document = hold.model_dump(mode="json")
    call.audit.tenants = (hold.tenant_id,)
    call.audit.resource_id = hold.hold_id
    call.audit.response = document
    return json_response(document)


async def erase_subject(call: Call) -> Response:
    erasure = await run_in_threadpool(call.runtime.erasures.erase, call.caller, call.body)
    document = erasure.model_dump(mode="json")
    # The record names the subject by its hash only: the log must not keep what it erased.
    call.audit.tenants = (erasure.tenant_id,)
    call.audit.resource_id = erasure.erasure_id
    call.audit.response = document
    return json_response(document)


async def list_erasures(call: Call) -> Response:
    tenant = access.listed_tenant(call.caller, call.args["tenant_id"])
    call.audit.tenants = (tenant,) if tenant else None
    found = await run_in_threadpool(call.runtime.erasures.listing, tenant)
    return json_response({"erasures": [e.model_dump(mode="json") for e in found]})


async def get_policy(call: Call) -> Response:
    tenant = access.administrable_tenant(call.caller, call.args["tenant_id"])
    call.audit.tenants = (tenant,)
    call.audit.resource_id = tenant
    policy = await run_in_threadpool(call.runtime.policies.get, tenant)
    return json_response(policy.model_dump(mode="json"))


async def put_policy(call: Call) -> Response:
    tenant = access.administrable_tenant(call.caller, call.args["tenant_id"])
    policy = validated(TenantPolicy, call.body, "policy")
    before = await run_in_threadpool(call.runtime.policies.get, tenant)
    if policy.rate_limit != before.rate_limit and not access.is_platform_admin(call.caller):
        # Rate limits protect the platform: a tenant's administrator may not raise its own.
        raise Forbidden(
            "a tenant's rate limits are set by platform administrators",
            [FieldProblem("rate_limit", "differs from the current limits; only the platform may change it")],
        )
    await run_in_threadpool(call.runtime.policies.put, tenant, policy)
    document = policy.model_dump(mode="json")
    call.audit.tenants = (tenant,)
    call.audit.resource_id = tenant
    call.audit.request = {"policy": document}
    call.audit.response = {"previous": before.model_dump(mode="json")}
    return json_response(document)


async def preview_retention(call: Call) -> Response:
    tenant = access.listed_tenant(call.caller, call.args["tenant_id"])
    report: dict[str, Any] = await run_in_threadpool(
        call.runtime.retention.preview, utc_now().date(), tenant
    )
    call.audit.tenants = (tenant,) if tenant else None
    call.audit.request = {"as_of": report["as_of"]}
    call.audit.response = {"would_delete": report["would_delete"]}
    return json_response(report)


async def run_retention(call: Call) -> Response:
    now = utc_now()
    dry_run: bool = call.args["dry_run"]
    retention = call.runtime.retention
    # A real run is one bounded step of the sweep; a dry run counts everything at once.
    work = (
        functools.partial(retention.run, now.date(), dry_run=True)
        if dry_run
        else functools.partial(retention.sweep, now.date())
    )
    report: dict[str, Any] = await run_in_threadpool(work)
    per_tenant: dict[str, int] = report["per_tenant"]
    counted = "would_delete" if dry_run else "deleted"
    call.audit.tenants = tuple(sorted(per_tenant)) or (call.caller.tenant_id,)
    call.audit.request = {"dry_run": report["dry_run"], "as_of": report["as_of"]}
    call.audit.responses = {t: {counted: per_tenant.get(t, 0)} for t in call.audit.tenants}
    return json_response(report)
