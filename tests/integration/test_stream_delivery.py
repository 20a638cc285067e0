"""Streams on the embedded backends, in process: configuration refused with the field named,
the delivery's outcomes (a permanent refusal pauses, Retry-After is honoured, failing too long
marks the stream failing and a success clears it), leaves deleted by retention or left out by
the filter going as their hash alone, and replays by leaf index and by time."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditlog.auth.identity import Principal
from auditlog.errors import InvalidInput
from auditlog.runtime import Runtime, build_runtime
from auditlog.settings import Settings
from auditlog.streams.book import StreamBook
from auditlog.streams.model import StreamState
from tests.conftest import wait_for
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

TENANT = "streamed"
WRITER = Principal("svc", TENANT, frozenset({"audit_writer"}))
ADMIN = Principal("admin", TENANT, frozenset({"system_admin"}))


def _secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _events(n: int, event_type: str = "doc.read") -> list[dict[str, Any]]:
    return [
        {
            "audit_id": str(uuid.uuid4()),
            "timestamp": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "event_type": event_type,
            "user_id": "u",
            "resource_type": "doc",
            "action": "read",
        }
        for _ in range(n)
    ]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(Settings(data_dir=tmp_path / "data"))
    assert rt.stream_loop is not None
    rt.stream_loop.stop()  # the test runs the rounds itself
    rt.stream_loop = None
    yield rt
    rt.close()


def _write(rt: Runtime, events: list[dict[str, Any]]) -> None:
    """Write, and wait until the events are stored and in a signed checkpoint."""
    expected = rt.store.count() + len(events)
    asyncio.run(rt.ingest.write_batch(WRITER, {"events": events}))
    wait_for(lambda: rt.store.count() >= expected, timeout=10)
    wait_for(lambda: _signed(rt) >= expected, timeout=10)


def _signed(rt: Runtime) -> int:
    checkpoint = rt.backends.integrity.latest_checkpoint(TENANT)
    return 0 if checkpoint is None else checkpoint.tree_size


def _stream(receiver: WebhookReceiver, **more: Any) -> dict[str, Any]:
    hook = {"type": "webhook", "url": receiver.url, "secret": receiver.secret}
    return {
        "tenant_id": TENANT,
        "name": "s",
        "destination": hook,
        "start": "beginning",
        "batch_wait_seconds": 0,
        **more,
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"destination": {"type": "ftp", "url": "ftp://x"}}, "destination"),
        (
            {
                "destination": {
                    "type": "webhook",
                    "url": "https://10.1.2.3/hook",
                    "secret": "whsec_" + "A" * 32,
                }
            },
            "destination.url",
        ),
        (
            {
                "destination": {
                    "type": "webhook",
                    "url": "https://localhost/hook",
                    "secret": "whsec_" + "A" * 32,
                }
            },
            "destination.url",
        ),
        (
            {
                "destination": {
                    "type": "webhook",
                    "url": "http://example.com/hook",
                    "secret": "whsec_" + "A" * 32,
                }
            },
            "destination.url",
        ),
        (
            {"destination": {"type": "webhook", "url": "not a url", "secret": "whsec_" + "A" * 32}},
            "destination.url",
        ),
        ({"destination": {"type": "webhook", "url": "https://93.184.216.34/hook"}}, "destination.secret"),
        (
            {"destination": {"type": "webhook", "url": "https://93.184.216.34/hook", "secret": "hunter2"}},
            "destination.secret",
        ),
        ({"destination": {"type": "syslog", "host": "127.0.0.1", "port": 6514}}, "destination.host"),
        ({"destination": {"type": "pubsub", "topic": "my-topic"}}, "destination.pubsub.topic"),
        ({"filter": {"event_types": ["auditlog.events.search"]}}, "filter.event_types"),
        ({"format": "xml"}, "format"),
        ({"start": {"leaf_index": 10**9}}, "start.leaf_index"),
    ],
)
def test_bad_configuration_is_refused_naming_the_field(
    runtime: Runtime, change: dict[str, Any], field: str
) -> None:
    # Production rules: no private or loopback receivers, https only.
    book = StreamBook(runtime.backends.state, runtime.backends.integrity, None, allow_private_addresses=False)
    body = {"tenant_id": TENANT, "name": "s", "destination": {"type": "webhook"}, **change}
    if "destination" not in change:
        body["destination"] = {
            "type": "webhook",
            "url": "https://93.184.216.34/hook",
            "secret": "whsec_" + "A" * 32,
        }
    with pytest.raises(InvalidInput) as refused:
        book.create(ADMIN, body)
    fields = [d.field for d in refused.value.details]
    assert any(f == field or f.startswith(field + ".") for f in fields), (field, fields)


def test_a_permanent_refusal_pauses_retry_after_is_honoured_and_failing_is_marked(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = WebhookReceiver(_secret())
    receiver.start()
    try:
        _write(runtime, _events(5))
        stream = runtime.streams.create(ADMIN, _stream(receiver))
        receiver.answer, receiver.retry_after = 503, "7"
        runtime.stream_delivery.run_once(1)
        position = runtime.streams.position(stream.stream_id)
        assert position["consecutive_failures"] == 1 and "HTTP 503" in position["last_error"]
        assert position["next_attempt_at"] - time.time() > 5, "Retry-After: 7 is honoured"
        # Failing for longer than failing_after_seconds: the stream is marked failing.
        position.update(failing_since=time.time() - 90_000, next_attempt_at=None)
        runtime.streams.save_position(stream.stream_id, position)
        caplog.set_level(logging.ERROR, logger="auditlog.streams.delivery")
        runtime.stream_delivery.run_once(1)
        assert runtime.streams.get(ADMIN, stream.stream_id).status.state is StreamState.FAILING
        assert any(getattr(r, "event", None) == "stream_failing" for r in caplog.records)
        # It recovers by itself: a success makes it active again, nothing skipped.
        receiver.answer, receiver.retry_after = 204, None
        runtime.streams.save_position(
            stream.stream_id, {**runtime.streams.position(stream.stream_id), "next_attempt_at": None}
        )
        runtime.stream_delivery.run_once(2)
        shown = runtime.streams.get(ADMIN, stream.stream_id)
        assert shown.status.state is StreamState.ACTIVE and shown.status.consecutive_failures == 0
        assert [e["leaf_index"] for e in receiver.events()][:5] == [0, 1, 2, 3, 4]
        # A refusal that retrying cannot fix (a revoked credential): paused, with the reason.
        receiver.answer = 401
        _write(runtime, _events(1))
        runtime.stream_delivery.run_once(1)
        paused = runtime.streams.get(ADMIN, stream.stream_id)
        assert paused.status.state is StreamState.PAUSED and "HTTP 401" in (paused.status.paused_reason or "")
    finally:
        receiver.stop()


def test_filtered_and_deleted_leaves_go_as_hashes_and_replays_resend(runtime: Runtime) -> None:
    receiver = WebhookReceiver(_secret())
    receiver.start()
    try:
        kept, other = _events(3, "doc.read"), _events(2, "doc.write")
        _write(runtime, kept + other)
        stream = runtime.streams.create(ADMIN, _stream(receiver, filter={"event_types": ["doc.read"]}))
        # As retention deletes a payload (the leaf and its hash stay in the log).
        runtime.store._db.cursor().execute("DELETE FROM events WHERE audit_id = ?", [kept[1]["audit_id"]])  # type: ignore[attr-defined]
        runtime.stream_delivery.run_once(2)
        first = {e["audit_id"]: e for e in receiver.events()}
        assert all("omitted" not in first[e["audit_id"]] for e in (kept[0], kept[2]))
        assert (
            first[kept[1]["audit_id"]]["omitted"] == "deleted" and "user_id" not in first[kept[1]["audit_id"]]
        )
        assert all(first[e["audit_id"]]["omitted"] == "filtered" for e in other)
        assert "event_type" not in first[other[0]["audit_id"]], "no payload for a filtered leaf"
        delivered = len(receiver.events())
        runtime.streams.replay(ADMIN, stream.stream_id, {"from_leaf_index": 2})
        runtime.stream_delivery.run_once(2)
        again = receiver.events()[delivered:]
        assert again and again[0]["leaf_index"] == 2, "a replay starts where it was asked to"
        runtime.streams.replay(ADMIN, stream.stream_id, {"from_time": datetime.now(UTC).isoformat()})
        runtime.stream_delivery.run_once(2)
        assert runtime.streams.position(stream.stream_id)["next_leaf_index"] >= 5
        with pytest.raises(InvalidInput):
            runtime.streams.replay(
                ADMIN, stream.stream_id, {"from_leaf_index": 1, "from_time": "2026-01-01T00:00:00Z"}
            )
    finally:
        receiver.stop()
