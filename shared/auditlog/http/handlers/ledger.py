"""The integrity log: keys, checkpoints, proofs, and the sequencing job."""

from __future__ import annotations

import functools

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from auditlog.auth import access
from auditlog.http.call import Call, json_response
from auditlog.ingest.service import utc_now
from auditlog.ledger.proofs import IntegrityReader


def tenant_of(call: Call) -> str:
    """The tenant a read of the log covers (the token's, or one a platform caller names)."""
    tenant = IntegrityReader.tenant(call.caller, call.args["tenant_id"])
    call.audit.tenants = (tenant,)
    return tenant


async def get_public_key(call: Call) -> Response:
    return json_response(call.runtime.proofs.public_keys().model_dump(mode="json"))


async def get_latest_checkpoint(call: Call) -> Response:
    checkpoint = await run_in_threadpool(call.runtime.proofs.latest, tenant_of(call))
    return json_response(checkpoint.model_dump(mode="json"))


async def get_checkpoint(call: Call) -> Response:
    tenant = tenant_of(call)
    checkpoint = await run_in_threadpool(call.runtime.proofs.at_size, tenant, call.args["tree_size"])
    return json_response(checkpoint.model_dump(mode="json"))


async def get_event_proof(call: Call) -> Response:
    tenant = tenant_of(call)
    call.audit.resource_id = call.args["audit_id"]
    proof = await run_in_threadpool(
        functools.partial(
            call.runtime.proofs.proof,
            tenant,
            call.args["audit_id"],
            call.args["tree_size"],
            utc_now(),
            self_audit_visible=access.may_see_self_audit(call.caller),
        )
    )
    return json_response(proof.model_dump(mode="json"))


async def get_consistency_proof(call: Call) -> Response:
    tenant = tenant_of(call)
    proof = await run_in_threadpool(
        call.runtime.proofs.consistency, tenant, call.args["first"], call.args["second"]
    )
    return json_response(proof.model_dump(mode="json"))


async def run_integrity(call: Call) -> Response:
    added = await run_in_threadpool(call.runtime.integrity_round)
    return json_response({"integrated": added})
