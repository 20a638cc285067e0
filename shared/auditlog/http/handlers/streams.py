"""Log streams: their administration (tenant admins for their own tenant, platform admins for
any; every change is an audit event of the tenant) and the scheduled delivery job (GCP)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from auditlog.auth import access
from auditlog.http.call import Call, json_response
from auditlog.streams.model import Stream, StreamState


def _recorded(call: Call, stream: Stream, status: int = 200, **audit: Any) -> Response:
    document = stream.model_dump(mode="json")
    call.audit.tenants = (stream.tenant_id,)
    call.audit.resource_id = stream.stream_id
    for name, value in audit.items():
        setattr(call.audit, name, value)
    return json_response(document, status)


async def create_stream(call: Call) -> Response:
    stream = await run_in_threadpool(call.runtime.streams.create, call.caller, call.body)
    return _recorded(call, stream, 201, request=stream.model_dump(mode="json", exclude={"status"}))


async def list_streams(call: Call) -> Response:
    tenant = access.listed_tenant(call.caller, call.args["tenant_id"])
    call.audit.tenants = (tenant,) if tenant else None
    streams = await run_in_threadpool(call.runtime.streams.listing, tenant)
    return json_response({"streams": [s.model_dump(mode="json") for s in streams]})


async def get_stream(call: Call) -> Response:
    stream = await run_in_threadpool(call.runtime.streams.get, call.caller, call.args["stream_id"])
    return _recorded(call, stream)


async def patch_stream(call: Call) -> Response:
    book = call.runtime.streams
    before = await run_in_threadpool(book.get, call.caller, call.args["stream_id"])
    stream = await run_in_threadpool(book.patch, call.caller, call.args["stream_id"], call.body)
    return _recorded(
        call,
        stream,
        request=stream.model_dump(mode="json", exclude={"status"}),
        response={"previous": before.model_dump(mode="json", exclude={"status"})},
    )


async def delete_stream(call: Call) -> Response:
    stream = await run_in_threadpool(call.runtime.streams.delete, call.caller, call.args["stream_id"])
    return _recorded(call, stream, response=stream.model_dump(mode="json", exclude={"status"}))


async def pause_stream(call: Call) -> Response:
    book, stream_id = call.runtime.streams, call.args["stream_id"]
    why = "paused by an administrator"
    stream = await run_in_threadpool(book.set_state, call.caller, stream_id, StreamState.PAUSED, why)
    return _recorded(call, stream)


async def resume_stream(call: Call) -> Response:
    stream = await run_in_threadpool(
        call.runtime.streams.set_state, call.caller, call.args["stream_id"], StreamState.ACTIVE
    )
    return _recorded(call, stream)


async def replay_stream(call: Call) -> Response:
    book, stream_id = call.runtime.streams, call.args["stream_id"]
    stream = await run_in_threadpool(book.replay, call.caller, stream_id, call.body)
    return _recorded(call, stream, request=call.body if isinstance(call.body, dict) else None)


async def test_stream(call: Call) -> Response:
    runtime = call.runtime
    stored = await run_in_threadpool(runtime.streams.owned, call.caller, call.args["stream_id"])
    outcome = await run_in_threadpool(runtime.stream_delivery.test, stored)
    call.audit.tenants = (stored.tenant_id,)
    call.audit.resource_id = stored.stream_id
    call.audit.response = outcome.model_dump(mode="json")
    return json_response(outcome.model_dump(mode="json"))


async def run_streams(call: Call) -> Response:
    """One scheduled round (GCP): deliver for up to the budget, then answer the counts."""
    budget = call.runtime.settings.stream_run_budget_seconds
    delivered = await run_in_threadpool(call.runtime.stream_delivery.run_once, budget)
    return json_response({"delivered": delivered})
