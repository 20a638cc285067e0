"""A Standard Webhooks receiver for the stream tests: a real HTTP server (uvicorn, in a thread)
that verifies each delivery with the `standardwebhooks` package (the specification's reference
library, not our code), stores what it accepted, and can be told to refuse or to stop."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import free_port


@dataclass
class WebhookReceiver:
    secret: str
    port: int = field(default_factory=free_port)
    batches: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    refusals: int = 0
    answer: int = 204  # what to answer a valid delivery with (e.g. 503 to refuse)
    retry_after: str | None = None
    directory: Path | None = None  # each accepted body is also kept here, as a receiver would
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            with self._lock:
                self.refusals += 1
            return Response(status_code=401)
        if self.answer >= 300:
            headers = {"retry-after": self.retry_after} if self.retry_after else {}
            return Response(status_code=self.answer, headers=headers)
        with self._lock:
            self.batches.append(payload if isinstance(payload, dict) else json.loads(body))
            self.ids.append(request.headers["webhook-id"])
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                (self.directory / f"{len(self.ids):06d}.json").write_bytes(body)
        return Response(status_code=self.answer)

    def start(self) -> None:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def events(self) -> list[dict[str, Any]]:
        """Every event received, in arrival order (hash-only leaves included)."""
        with self._lock:
            return [e for b in self.batches for e in b["events"]]
