"""The Python SDK's log-stream operations against a local HTTP server scripted per test
(pytest-httpserver): each method's request (method, path, query, body), its typed answer, and
which of them are not resent after an ambiguous failure."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from auditlog_sdk import AsyncClient, Client, RetryPolicy, ServerError
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

pytestmark = pytest.mark.unit
FAST = RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=0.1)
TOKEN = "eyJ.secret-token.sig"
STREAM_ID = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
BASE = f"/api/v1/admin/streams/{STREAM_ID}"

SHOWN: dict[str, Any] = {
    "stream_id": STREAM_ID,
    "tenant_id": "acme",
    "name": "to the SIEM",
    "destination": {"type": "webhook", "url": "https://siem.example/in", "secret_set": True},
    "format": "json",
    "filter": {
        "event_types": [],
        "service_names": [],
        "statuses": [],
        "metadata": {},
        "include_self_audit": False,
    },
    "batch_size": 500,
    "batch_wait_seconds": 1.0,
    "failing_after_seconds": 86400.0,
    "created_at": "2026-11-26T12:00:00+00:00",
    "created_by": "admin",
    "status": {"state": "active", "delivered_leaf_index": None, "next_leaf_index": 0},
}


class Recorder:
    """Answers ``status`` with ``body`` (error answers first, if any); keeps every request."""

    def __init__(self, body: Any, status: int = 200, failures: int = 0) -> None:
        self.body, self.status, self.failures = body, status, failures
        self.seen: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.seen.append(request)
        if len(self.seen) <= self.failures:
            error = {"error": {"code": "unavailable", "message": "try later"}}
            return Response(json.dumps(error), 503, content_type="application/json")
        return Response(json.dumps(self.body), self.status, content_type="application/json")

    @property
    def json(self) -> Any:
        return json.loads(self.seen[-1].data) if self.seen[-1].data else None


CASES: list[tuple[str, str, Any, Callable[[Client], Any], Any]] = [
    # (method, path, body sent, call, answer returned)
    (
        "POST",
        "/api/v1/admin/streams",
        {"tenant_id": "acme", "name": "n", "destination": {"type": "webhook", "url": "u", "secret": "s"}},
        lambda c: c.create_stream(
            {"tenant_id": "acme", "name": "n", "destination": {"type": "webhook", "url": "u", "secret": "s"}}
        ),
        SHOWN,
    ),
    ("GET", BASE, None, lambda c: c.get_stream(STREAM_ID), SHOWN),
    ("PATCH", BASE, {"batch_size": 50}, lambda c: c.update_stream(STREAM_ID, {"batch_size": 50}), SHOWN),
    ("DELETE", BASE, None, lambda c: c.delete_stream(STREAM_ID), SHOWN),
    ("POST", BASE + "/pause", None, lambda c: c.pause_stream(STREAM_ID), SHOWN),
    ("POST", BASE + "/resume", None, lambda c: c.resume_stream(STREAM_ID), SHOWN),
    (
        "POST",
        BASE + "/replay",
        {"from_leaf_index": 0},
        lambda c: c.replay_stream(STREAM_ID, from_leaf_index=0),
        SHOWN,
    ),
    (
        "POST",
        BASE + "/replay",
        {"from_time": "2026-11-26T12:00:00+00:00"},
        lambda c: c.replay_stream(STREAM_ID, from_time=datetime(2026, 11, 26, 12, tzinfo=UTC)),
        SHOWN,
    ),
    (
        "POST",
        BASE + "/test",
        None,
        lambda c: c.test_stream(STREAM_ID),
        {"ok": False, "status_code": 401, "detail": "refused"},
    ),
    ("POST", "/api/v1/audit/streams/run", None, lambda c: c.run_streams(), {"delivered": {"s": 3}}),
]


@pytest.mark.parametrize(("method", "path", "sent", "call", "answer"), CASES)
def test_each_stream_operation_sends_its_request_and_returns_the_answer(
    httpserver: HTTPServer,
    method: str,
    path: str,
    sent: Any,
    call: Callable[[Client], Any],
    answer: Any,
) -> None:
    recorder = Recorder(answer)
    httpserver.expect_request(path, method=method).respond_with_handler(recorder)
    with Client(httpserver.url_for(""), token=TOKEN, retry=FAST) as client:
        returned = call(client)
    assert returned == answer
    assert recorder.json == sent
    assert recorder.seen[-1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_list_streams_unwraps_the_list_and_names_the_tenant(httpserver: HTTPServer) -> None:
    recorder = Recorder({"streams": [SHOWN]})
    httpserver.expect_request("/api/v1/admin/streams", method="GET").respond_with_handler(recorder)
    with Client(httpserver.url_for(""), token=TOKEN, retry=FAST) as client:
        assert client.list_streams(tenant_id="acme") == [SHOWN]
        assert client.list_streams() == [SHOWN]
    assert [r.args.get("tenant_id") for r in recorder.seen] == ["acme", None]


def test_stream_ids_are_escaped_in_the_path(httpserver: HTTPServer) -> None:
    recorder = Recorder(SHOWN)
    httpserver.expect_request("/api/v1/admin/streams/a/b", method="GET").respond_with_handler(recorder)
    with Client(httpserver.url_for(""), token=TOKEN, retry=FAST) as client:
        client.get_stream("a/b")
    assert recorder.seen[0].environ["RAW_URI"] == "/api/v1/admin/streams/a%2Fb"


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("/api/v1/admin/streams", lambda c: c.create_stream({"tenant_id": "acme"})),
        (BASE + "/test", lambda c: c.test_stream(STREAM_ID)),
    ],
)
def test_creating_and_testing_are_not_resent_after_a_5xx(
    httpserver: HTTPServer, path: str, call: Callable[[Client], Any]
) -> None:
    recorder = Recorder(SHOWN, failures=5)
    httpserver.expect_request(path, method="POST").respond_with_handler(recorder)
    with Client(httpserver.url_for(""), token=TOKEN, retry=FAST) as client, pytest.raises(ServerError):
        call(client)
    assert len(recorder.seen) == 1, "a second stream, or a second test event"


def test_pausing_is_resent_after_a_5xx(httpserver: HTTPServer) -> None:
    recorder = Recorder(SHOWN, failures=1)
    httpserver.expect_request(BASE + "/pause", method="POST").respond_with_handler(recorder)
    with Client(httpserver.url_for(""), token=TOKEN, retry=FAST) as client:
        assert client.pause_stream(STREAM_ID)["stream_id"] == STREAM_ID
    assert len(recorder.seen) == 2


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"from_leaf_index": 3, "from_time": "2026-11-26T12:00:00Z"}, {"from_time": datetime(2026, 11, 26)}],
)
def test_replay_needs_exactly_one_aware_starting_point(kwargs: dict[str, Any]) -> None:
    with Client("http://127.0.0.1:9", retry=FAST) as client, pytest.raises(ValueError):
        client.replay_stream(STREAM_ID, **kwargs)


def test_the_async_client_has_the_same_stream_operations(httpserver: HTTPServer) -> None:
    shown, listed, tested = (
        Recorder(SHOWN),
        Recorder({"streams": [SHOWN]}),
        Recorder({"ok": True, "detail": "x"}),
    )
    httpserver.expect_request(BASE + "/replay", method="POST").respond_with_handler(shown)
    httpserver.expect_request("/api/v1/admin/streams", method="GET").respond_with_handler(listed)
    httpserver.expect_request(BASE + "/test", method="POST").respond_with_handler(tested)

    async def run() -> tuple[Any, Any, Any]:
        async with AsyncClient(httpserver.url_for(""), token=TOKEN, retry=FAST) as client:
            return (
                await client.replay_stream(STREAM_ID, from_leaf_index=7),
                await client.list_streams(),
                await client.test_stream(STREAM_ID),
            )

    replayed, streams, test = asyncio.run(run())
    assert (replayed, streams, test) == (SHOWN, [SHOWN], {"ok": True, "detail": "x"})
    assert shown.json == {"from_leaf_index": 7}
