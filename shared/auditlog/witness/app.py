"""The witness's HTTP interface: ``POST /add-checkpoint`` (the submission prefix) and
``GET /<origin hash>/checkpoint`` (the monitoring prefix), both at the root."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from auditlog.witness.service import MAX_BODY_BYTES, Answer, Witness

_HASH = re.compile(r"[0-9a-f]{64}")


def _response(answer: Answer) -> Response:
    return PlainTextResponse(answer.body, status_code=answer.status, media_type=answer.media_type)


def create_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _response(Answer(400, f"a request is at most {MAX_BODY_BYTES} bytes\n"))
        # The state write is a blocking call: off the event loop, one request at a time per
        # worker thread (the state's own transaction keeps racing requests apart).
        return _response(await run_in_threadpool(witness.add_checkpoint, body))

    async def checkpoint(request: Request) -> Response:
        origin_hash = request.path_params["origin_hash"]
        if not _HASH.fullmatch(origin_hash):
            return _response(Answer(404, "not an origin hash (64 lowercase hex digits)\n"))
        return _response(await run_in_threadpool(witness.checkpoint, origin_hash))

    async def healthz(request: Request) -> Response:
        return PlainTextResponse(witness.key.vkey + "\n")

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/{origin_hash}/checkpoint", checkpoint, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
