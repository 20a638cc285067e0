"""The witness's HTTP interface: ``POST /add-checkpoint`` (the submission prefix) and
``GET /<origin hash>/checkpoint`` (the monitoring prefix), both at the root, and ``GET /healthz``
(the witness's vkey). ``respond`` routes one request; ``create_app`` serves it with uvicorn
(``auditlog witness serve``) and functions/witness hands it functions-framework's requests."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from auditlog.witness.service import MAX_BODY_BYTES, Answer, Witness

_HASH = re.compile(r"[0-9a-f]{64}")
_CHECKPOINT = re.compile(r"/([^/]+)/checkpoint")


def _response(answer: Answer) -> Response:
    return PlainTextResponse(answer.body, status_code=answer.status, media_type=answer.media_type)


async def _add_checkpoint(witness: Witness, request: Request) -> Response:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return _response(Answer(400, f"a request is at most {MAX_BODY_BYTES} bytes\n"))
    # The state write is a blocking call: off the event loop, one request at a time per worker
    # thread (the state's own transaction keeps racing requests apart).
    return _response(await run_in_threadpool(witness.add_checkpoint, body))


async def _checkpoint(witness: Witness, origin_hash: str) -> Response:
    if not _HASH.fullmatch(origin_hash):
        return _response(Answer(404, "not an origin hash (64 lowercase hex digits)\n"))
    return _response(await run_in_threadpool(witness.checkpoint, origin_hash))


async def respond(witness: Witness, request: Request) -> Response:
    """One request to the witness, whatever serves it."""
    path, method = request.url.path, request.method
    if path == "/add-checkpoint":
        if method != "POST":
            return _response(Answer(405, "POST a checkpoint to /add-checkpoint\n"))
        return await _add_checkpoint(witness, request)
    if method not in ("GET", "HEAD"):
        return _response(Answer(405, f"{method} is not served here\n"))
    if path == "/healthz":
        return PlainTextResponse(witness.key.vkey + "\n")
    if match := _CHECKPOINT.fullmatch(path):
        return await _checkpoint(witness, match.group(1))
    return _response(Answer(404, "not a witness route\n"))


def create_app(witness: Witness) -> Starlette:
    async def route(request: Request) -> Response:
        return await respond(witness, request)

    return Starlette(routes=[Route("/{path:path}", route, methods=["GET", "HEAD", "POST"])])
