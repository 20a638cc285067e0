"""The Python SDK against a real local HTTP server scripted per test (pytest-httpserver):
retries, backoff, Retry-After, error mapping, token handling and the logger's policies."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from auditlog_sdk import (
    AuditLogger,
    AuthenticationError,
    BadRequestError,
    BufferFullError,
    Client,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

pytestmark = pytest.mark.unit
FAST = RetryPolicy(attempts=4, base_seconds=0.01, max_seconds=2.0)
TOKEN = "eyJ.secret-token.sig"


def _error(status: int, code: str, field: str | None = None) -> Response:
    details = [{"field": field, "problem": "is wrong"}] if field else []
    body = {"error": {"code": code, "message": f"{code} happened", "details": details, "request_id": "req-1"}}
    return Response(json.dumps(body), status, content_type="application/json")


class Script:
    """Answers in order; records every request's headers and body."""

    def __init__(self, *answers: Response) -> None:
        self.answers = list(answers)
        self.seen: list[Request] = []
        self.bodies: list[Any] = []

    def __call__(self, request: Request) -> Response:
        self.seen.append(request)
        self.bodies.append(json.loads(request.data) if request.data else None)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _ok(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def test_5xx_and_connection_errors_are_retried_with_the_same_audit_id(httpserver: HTTPServer) -> None:
    script = Script(
        _error(503, "unavailable"), _error(500, "internal"), _ok({"audit_id": "x", "status": "accepted"}, 202)
    )
    httpserver.expect_request("/api/v1/audit/events", method="POST").respond_with_handler(script)
    with Client(httpserver.url_for(""), token=TOKEN, retry=FAST) as client:
        assert client.ingest_event({"event_type": "a"})["status"] == "accepted"
    assert len(script.seen) == 3
    ids = {body["audit_id"] for body in script.bodies}
    assert len(ids) == 1, "every attempt carries the same client-set audit_id"


def test_retry_after_is_honoured(httpserver: HTTPServer) -> None:
    limited = Response(
        json.dumps({"error": {"code": "resource_exhausted", "message": "slow down"}}),
        429,
        headers={"Retry-After": "1"},
        content_type="application/json",
    )
    script = Script(limited, _ok({"events": [], "next_page_token": None}))
    httpserver.expect_request("/api/v1/audit/events", method="GET").respond_with_handler(script)
    started = time.monotonic()
    with Client(httpserver.url_for(""), token=TOKEN, retry=FAST) as client:
        client.search_events()
    assert time.monotonic() - started >= 0.95, "waited as Retry-After said, not the short backoff"
    assert len(script.seen) == 2


def test_persistent_429_raises_rate_limited_with_retry_after(httpserver: HTTPServer) -> None:
    limited = Response(
        json.dumps({"error": {"code": "resource_exhausted", "message": "no"}}),
        429,
        headers={"Retry-After": "0"},
        content_type="application/json",
    )
    script = Script(limited)
    httpserver.expect_request("/api/v1/audit/events", method="GET").respond_with_handler(script)
    with (
        Client(httpserver.url_for(""), token=TOKEN, retry=FAST) as client,
        pytest.raises(RateLimitedError) as raised,
    ):
        client.search_events()
    assert raised.value.retry_after == 0 and len(script.seen) == FAST.attempts


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "invalid_argument", BadRequestError),
        (401, "unauthenticated", AuthenticationError),
        (403, "permission_denied", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (409, "not_sequenced", ConflictError),
        (413, "payload_too_large", BadRequestError),
    ],
)
def test_4xx_maps_to_its_error_and_is_not_retried(
    httpserver: HTTPServer, status: int, code: str, kind: type
) -> None:
    script = Script(_error(status, code, field="user_id"))
    httpserver.expect_request("/api/v1/audit/events/abc").respond_with_handler(script)
    with Client(httpserver.url_for(""), token=TOKEN, retry=FAST) as client, pytest.raises(kind) as raised:
        client.get_event("abc")
    error = raised.value
    assert (error.status, error.code, error.request_id, error.fields) == (status, code, "req-1", ["user_id"])
    assert len(script.seen) == 1
    assert TOKEN not in str(error) and TOKEN not in repr(error)


def test_5xx_after_every_attempt_is_a_server_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/readyz").respond_with_handler(Script(_error(503, "unavailable")))
    with Client(httpserver.url_for(""), retry=FAST) as client, pytest.raises(ServerError):
        client.readyz()


def test_a_legal_hold_is_not_resent_after_a_5xx_but_is_after_429(httpserver: HTTPServer) -> None:
    script = Script(_error(503, "unavailable"))
    httpserver.expect_request("/api/v1/admin/legal-holds", method="POST").respond_with_handler(script)
    with Client(httpserver.url_for(""), token=TOKEN, retry=FAST) as client, pytest.raises(ServerError):
        client.place_legal_hold({"tenant_id": "t", "reason": "r"})
    assert len(script.seen) == 1, "placing twice would make two holds"


def test_unreachable_server_is_a_transport_error_after_retries() -> None:
    with Client("http://127.0.0.1:9", retry=FAST) as client, pytest.raises(TransportError):
        client.healthz()


def test_token_provider_is_called_per_request_and_never_shown(httpserver: HTTPServer) -> None:
    script = Script(_ok({"status": "ok"}))
    httpserver.expect_request("/api/v1/audit/checkpoints/latest").respond_with_handler(script)
    tokens = iter(["first-token", "second-token"])
    client = Client(httpserver.url_for(""), token=lambda: next(tokens), retry=FAST)
    client.get_latest_checkpoint()
    client.get_latest_checkpoint()
    assert [r.headers["Authorization"] for r in script.seen] == ["Bearer first-token", "Bearer second-token"]
    assert "token" not in repr(client).lower()
    client.close()


def _batch_answer(request: Request) -> Response:
    events = json.loads(request.data)["events"]
    results = [
        {
            "index": i,
            "status": "rejected" if e.get("action") == "bad" else "accepted",
            "audit_id": e["audit_id"],
            "leaf_hash": None,
            "errors": [{"field": f"events[{i}].action", "problem": "bad"}]
            if e.get("action") == "bad"
            else None,
        }
        for i, e in enumerate(events)
    ]
    return _ok({"results": results}, 202)


def test_logger_batches_reports_refusals_and_flushes_on_close(httpserver: HTTPServer) -> None:
    sizes: list[int] = []

    def handler(request: Request) -> Response:
        sizes.append(len(json.loads(request.data)["events"]))
        return _batch_answer(request)

    httpserver.expect_request("/api/v1/audit/events/batch", method="POST").respond_with_handler(handler)
    refused: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    client = Client(httpserver.url_for(""), token=TOKEN, retry=FAST)
    logger = AuditLogger(client, flush_seconds=10, on_refused=lambda e, errs: refused.append((e, errs)))
    for i in range(2500):
        logger.log({"event_type": "x", "action": "bad" if i == 7 else "ok"})
    logger.close()
    assert sum(sizes) == 2500 and max(sizes) <= 1000
    assert logger.sent == 2499 and logger.refused == 1
    assert refused[0][0]["action"] == "bad" and refused[0][1][0]["field"] == "events[7].action"
    client.close()


def test_logger_flushes_by_time(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/audit/events/batch", method="POST").respond_with_handler(_batch_answer)
    client = Client(httpserver.url_for(""), token=TOKEN, retry=FAST)
    logger = AuditLogger(client, flush_seconds=0.2)
    logger.log({"event_type": "x"})
    deadline = time.monotonic() + 5
    while logger.sent < 1:
        assert time.monotonic() < deadline, "a lone event is sent within the flush interval"
        time.sleep(0.02)
    logger.close()
    client.close()


def test_logger_full_buffer_policies(httpserver: HTTPServer) -> None:
    gate = threading.Event()

    def slow(request: Request) -> Response:
        gate.wait(5)
        return _batch_answer(request)

    httpserver.expect_request("/api/v1/audit/events/batch", method="POST").respond_with_handler(slow)
    client = Client(httpserver.url_for(""), token=TOKEN, retry=FAST)
    dropping = AuditLogger(client, max_buffer=5, on_full="drop", flush_seconds=0, batch_size=1)
    raising = AuditLogger(client, max_buffer=5, on_full="raise", flush_seconds=0, batch_size=1)
    time.sleep(0.05)
    for _ in range(20):
        dropping.log({"event_type": "x"})
    assert dropping.dropped >= 14, (
        "beyond the buffer (and the batch in flight) events are dropped and counted"
    )
    with pytest.raises(BufferFullError):
        for _ in range(20):
            raising.log({"event_type": "x"})
    blocking = AuditLogger(client, max_buffer=2, on_full="block", flush_seconds=0, batch_size=1)
    for _ in range(3):
        blocking.log({"event_type": "x"})
    started = time.monotonic()
    releaser = threading.Timer(0.3, gate.set)
    releaser.start()
    for _ in range(3):
        blocking.log({"event_type": "x"})  # waits for room once the server answers
    assert time.monotonic() - started >= 0.25
    for logger in (dropping, raising, blocking):
        logger.close()
    assert blocking.sent == 6
    client.close()


def test_logger_reports_batches_it_cannot_deliver() -> None:
    failed: list[int] = []
    client = Client("http://127.0.0.1:9", retry=RetryPolicy(attempts=2, base_seconds=0.01))
    logger = AuditLogger(client, flush_seconds=0, on_failed=lambda events, exc: failed.append(len(events)))
    logger.log({"event_type": "x"})
    logger.close()
    assert logger.failed == 1 and failed == [1]


def test_retry_after_as_an_http_date(httpserver: HTTPServer) -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    limited = Response("{}", 503, headers={"Retry-After": when}, content_type="application/json")
    script = Script(limited, _ok({"status": "ok"}))
    httpserver.expect_request("/readyz").respond_with_handler(script)
    started = time.monotonic()
    with Client(httpserver.url_for(""), retry=FAST) as client:
        client.readyz()
    assert time.monotonic() - started >= 0.9, "waited until the date the server gave"


def test_close_that_gives_up_reports_what_was_left(httpserver: HTTPServer) -> None:
    gate = threading.Event()

    def stuck(request: Request) -> Response:
        gate.wait(10)
        return _batch_answer(request)

    httpserver.expect_request("/api/v1/audit/events/batch", method="POST").respond_with_handler(stuck)
    failed: list[int] = []
    client = Client(httpserver.url_for(""), token=TOKEN, retry=FAST)
    logger = AuditLogger(
        client, flush_seconds=0, batch_size=1, on_failed=lambda events, exc: failed.append(len(events))
    )
    for _ in range(5):
        logger.log({"event_type": "x"})
    logger.close(timeout=0.2)
    gate.set()
    assert logger.failed >= 3 and sum(failed) == logger.failed, "events left at close are reported"
    client.close()
