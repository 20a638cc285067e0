"""The tenant's log in the transparency-log ecosystem's formats (c2sp.org): the checkpoint as a
signed note, the verifier keys, hash tiles and entry bundles. The tenant is the token's (platform
callers may name one)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from auditlog.http.call import Call, json_response
from auditlog.http.handlers.ledger import tenant_of

# A tile of a given width never changes; the checkpoint does, so clients may keep it seconds only.
_IMMUTABLE = "private, max-age=31536000, immutable"
_MUTABLE = "private, max-age=2"
_BYTES = "application/octet-stream"


async def get_log_checkpoint(call: Call) -> Response:
    note = await run_in_threadpool(call.runtime.proofs.note, tenant_of(call))
    return Response(
        note, media_type="text/plain; charset=utf-8", headers={"cache-control": _MUTABLE}
    )


async def get_verifier_keys(call: Call) -> Response:
    cosigning = call.runtime.cosigning
    witnesses = [w.key for w in cosigning.witnesses] if cosigning else []
    keys = call.runtime.proofs.verifier_keys(
        call.args["tenant_id"], witnesses, cosigning.quorum if cosigning else 0
    )
    return json_response(keys.model_dump(mode="json"))


async def get_tile(call: Call) -> Response:
    tenant = tenant_of(call)
    call.audit.resource_id = call.args["tile"]
    data = await run_in_threadpool(call.runtime.proofs.tile, tenant, call.args["tile"])
    return Response(data, media_type=_BYTES, headers={"cache-control": _IMMUTABLE})


async def get_entry_bundle(call: Call) -> Response:
    tenant = tenant_of(call)
    call.audit.resource_id = "entries/" + call.args["index"]
    data = await run_in_threadpool(call.runtime.proofs.entries, tenant, call.args["index"])
    return Response(data, media_type=_BYTES, headers={"cache-control": _IMMUTABLE})
