"""A local stand-in for API Gateway: one port, each path forwarded to the function that owns it.

The route table is ``auditlog.http.routes.ROUTES``, the same one the functions dispatch on, so the gateway
and the functions cannot disagree about who serves what. Bodies stream both ways.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from auditlog.http.routes import ROUTES

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}


class LocalGateway:
    def __init__(self, function_urls: dict[str, str]) -> None:
        """``function_urls`` maps a function name (ingest, query, retention) to its base URL."""
        self._routes = [(route.method, route.pattern, route.function) for route in ROUTES]
        self._urls = function_urls
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, read=3600.0))

    def _target(self, method: str, path: str) -> str | None:
        """The function serving (method, path); for a known path with another method, any
        function serving the path, which answers 405 itself."""
        fallback = None
        for route_method, pattern, function in self._routes:
            if pattern.match(path):
                # Routes every function serves (health, openapi) go to the query function.
                url = self._urls["query" if function == "*" else function]
                if route_method == method:
                    return url
                fallback = fallback or url
        return fallback

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self._client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        base = self._target(request.method, request.url.path)
        if base is None:
            response: Any = JSONResponse(
                {"error": {"code": "not_found", "message": f"no such path: {request.url.path}",
                           "details": [], "request_id": ""}},
                404,
            )  # fmt: skip
            await response(scope, receive, send)
            return
        upstream = self._client.build_request(
            request.method,
            base + request.url.path,
            params=request.url.query,
            headers=[(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP],
            content=request.stream(),
        )
        answer = await self._client.send(upstream, stream=True)
        response = StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers={k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP},
            background=BackgroundTask(answer.aclose),
        )
        await response(scope, receive, send)
