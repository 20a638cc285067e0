"""A webhook receiver for the stream benchmark, in a process of its own: it verifies each
delivery's Standard Webhooks signature with the `standardwebhooks` package, checks that leaf
indices arrive contiguous, counts the events, and answers ``GET /stats``.

    python -m bench.stream_receiver --port P --secret whsec_...
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import orjson
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def create_app(secret: str) -> Starlette:
    verifier = Webhook(secret)
    stats: dict[str, Any] = {
        "events": 0,
        "batches": 0,
        "refused": 0,
        "gaps": 0,
        "first_at": None,
        "last_at": None,
    }
    expected: dict[str, int] = {}

    async def hook(request: Request) -> Response:
        body = await request.body()
        try:
            verifier.verify(body, dict(request.headers), json_parse=False)
        except WebhookVerificationError:
            stats["refused"] += 1
            return Response(status_code=401)
        batch = orjson.loads(body)
        first, last = batch["first_leaf_index"], batch["last_leaf_index"]
        nxt = expected.get(batch["stream_id"])
        if nxt is not None and first != nxt:
            if first > nxt:
                stats["gaps"] += 1
            if last < nxt:
                return Response(status_code=204)  # a re-sent batch: already counted
        expected[batch["stream_id"]] = last + 1
        now = time.time()
        stats["first_at"] = stats["first_at"] or now
        stats["last_at"] = now
        stats["events"] += len(batch["events"])
        stats["batches"] += 1
        return Response(status_code=204)

    async def read(request: Request) -> Response:
        return JSONResponse(stats)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"]), Route("/stats", read, methods=["GET"])])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.secret), host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
