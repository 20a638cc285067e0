"""Reading events: search, get one, export."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from auditlog.errors import FieldProblem, InvalidInput
from auditlog.http.call import Call, Streamed
from auditlog.ingest.service import utc_now
from auditlog.read.rendering import ExportFormat
from auditlog.read.self_audit import bounded_filters

EXPORT_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/x-ndjson"}


def note_filters(call: Call, tenants: tuple[str, ...], params: list[tuple[str, str]]) -> None:
    """The read's filters in its audit records: bounded, and each tenant's PII rules applied to
    them, so the record keeps no personal value the events themselves do not."""
    runtime = call.runtime
    filters, omitted = bounded_filters(params)
    call.audit.tenants = tenants
    call.audit.requests = {}
    for tenant in tenants:
        rules = runtime.policies.get(tenant).pii_rules
        request: dict[str, Any] = {"filters": runtime.protector.recorded_filters(tenant, rules, filters)}
        if omitted:
            request["omitted"] = omitted
        call.audit.requests[tenant] = request


async def search_events(call: Call) -> Response:
    params = call.query()
    page = await run_in_threadpool(call.runtime.reader.page, call.caller, params, utc_now())
    note_filters(call, page.tenants, params)
    call.audit.response = {"events": page.events}
    return Response(page.body, 200, media_type="application/json")


async def get_event(call: Call) -> Response:
    reader = call.runtime.reader
    audit_id: str = call.args["audit_id"]
    tenant = reader.tenant(call.caller, call.args["tenant_id"])
    call.audit.tenants = (tenant,)
    call.audit.resource_id = audit_id
    event = await run_in_threadpool(reader.get, call.caller, tenant, audit_id)
    return Response(event, 200, media_type="application/json")


async def export_events(call: Call) -> Streamed:
    fmt: ExportFormat = call.args["format"]
    manifest: bool = call.args["manifest"] or call.args["proofs"]
    if manifest and fmt != "json":
        raise InvalidInput(
            "an integrity manifest comes with format=json only",
            [FieldProblem("format", "must be json when manifest=true")],
        )
    reader, params, now = call.runtime.reader, call.query(), utc_now()
    counted: Any
    if manifest:
        tenants, counted = await run_in_threadpool(reader.export_committed, call.caller, params, now)
        if len(tenants) != 1:
            raise InvalidInput(
                "an export with a manifest covers one tenant",
                [FieldProblem("tenant_id", "must name one tenant when manifest=true")],
            )
        body = call.runtime.proofs.manifest(tenants[0], iter(counted), with_proofs=call.args["proofs"])
    else:
        tenants, counted = await run_in_threadpool(reader.export_rendered, call.caller, params, now, fmt)
        body = iter(counted)
    note_filters(call, tenants, params)
    filename = f"audit-events.{'csv' if fmt == 'csv' else 'ndjson'}"
    return Streamed(
        body,
        EXPORT_MEDIA_TYPES[fmt],
        {"Content-Disposition": f'attachment; filename="{filename}"'},
        rows=lambda: int(counted.rows),
    )
