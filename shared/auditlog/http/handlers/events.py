"""Reading events: search, get one, export."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from auditlog.errors import FieldProblem, InvalidInput
from auditlog.http.call import Call, Streamed
from auditlog.ingest.service import utc_now
from auditlog.read.rendering import ExportFormat

EXPORT_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/x-ndjson"}


def described(params: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The filters of a read as recorded in its audit event (cursors left out)."""
    out: dict[str, list[str]] = {}
    for name, value in params:
        if name != "page_token":
            out.setdefault(name, []).append(value)
    return out


async def search_events(call: Call) -> Response:
    params = call.query()
    page = await run_in_threadpool(call.runtime.reader.page, call.caller, params, utc_now())
    call.audit.tenants = page.tenants
    call.audit.request = {"filters": described(params)}
    call.audit.response = {"events": page.events}
    return Response(page.body, 200, media_type="application/json")


async def get_event(call: Call) -> Response:
    reader = call.runtime.reader
    audit_id: str = call.args["audit_id"]
    tenant = reader.tenant(call.caller, call.args["tenant_id"])
    call.audit.tenants = (tenant,)
    call.audit.resource_id = audit_id
    event = await run_in_threadpool(reader.get, tenant, audit_id)
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
    call.audit.tenants = tenants
    call.audit.request = {"filters": described(params)}
    filename = f"audit-events.{'csv' if fmt == 'csv' else 'ndjson'}"
    return Streamed(
        body,
        EXPORT_MEDIA_TYPES[fmt],
        {"Content-Disposition": f'attachment; filename="{filename}"'},
        rows=lambda: int(counted.rows),
    )
