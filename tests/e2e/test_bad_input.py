"""Bad input of every kind gets a 4xx error whose details name the field; never a 5xx.

Every client here fails the test on any 5xx answer (see ``helpers.client``).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditlog.auth.dev_issuer import DevIssuer
from tests.conftest import LocalService
from tests.e2e.helpers import (
    BATCH,
    EVENTS,
    EXPORT,
    anonymous,
    assert_error,
    client,
    event,
    new_tenant,
    post_one,
    rfc3339,
    search,
    utc,
    wait_get,
)

pytestmark = pytest.mark.e2e

JSON = {"content-type": "application/json"}


def _nested(levels: int) -> dict[str, Any]:
    """A JSON object nested ``levels`` deep, counting itself: _nested(1) == {"leaf": 1}."""
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        node = {"x": node}
    return node


def _without(name: str) -> dict[str, Any]:
    body = event()
    del body[name]
    return body


def _hours(hours: float) -> str:
    return rfc3339(utc(timedelta(hours=hours)))


def _days(days: float) -> str:
    return rfc3339(utc(timedelta(days=days)))


@pytest.fixture
def writer(service: LocalService) -> Iterator[httpx.Client]:
    with client(service, new_tenant("bad")) as c:
        yield c


# -- one event: each bad field named ------------------------------------------------------------

BAD_EVENTS: list[Any] = [
    # wrong types
    pytest.param(event(retention_period_days="90"), "retention_period_days", id="retention-string"),
    pytest.param(event(retention_period_days=90.0), "retention_period_days", id="retention-float"),
    pytest.param(event(retention_period_days=True), "retention_period_days", id="retention-bool"),
    pytest.param(event(user_id=12345), "user_id", id="user_id-number"),
    pytest.param(event(user_id=None), "user_id", id="user_id-null"),
    pytest.param(event(event_type=["a"]), "event_type", id="event_type-list"),
    pytest.param(event(timestamp=1764158400), "timestamp", id="timestamp-number"),
    pytest.param(event(audit_id=12), "audit_id", id="audit_id-number"),
    pytest.param(event(session_id=False), "session_id", id="session_id-bool"),
    pytest.param(event(ip_address=167772161), "ip_address", id="ip_address-number"),
    # missing required fields
    pytest.param(_without("timestamp"), "timestamp", id="missing-timestamp"),
    pytest.param(_without("event_type"), "event_type", id="missing-event_type"),
    pytest.param(_without("user_id"), "user_id", id="missing-user_id"),
    pytest.param(_without("resource_type"), "resource_type", id="missing-resource_type"),
    pytest.param(_without("action"), "action", id="missing-action"),
    # values out of bounds or badly formed
    pytest.param(event(user_id=""), "user_id", id="user_id-empty"),
    pytest.param(event(user_id="u" * 257), "user_id", id="user_id-too-long"),
    pytest.param(event(event_type="user login"), "event_type", id="event_type-space"),
    pytest.param(event(action=".update"), "action", id="action-leading-dot"),
    pytest.param(event(status="s" * 33), "status", id="status-too-long"),
    pytest.param(event(user_agent="a" * 1025), "user_agent", id="user_agent-too-long"),
    pytest.param(event(tenant_id=""), "tenant_id", id="tenant_id-empty"),
    # unknown and server-set fields
    pytest.param(event(colour="red"), "colour", id="unknown-field"),
    pytest.param(event(created_at=_hours(-1)), "created_at", id="created_at-sent"),
    pytest.param(event(partition_date="2026-01-01"), "partition_date", id="partition_date-sent"),
    # audit_id not a UUID
    pytest.param(event(audit_id="not-a-uuid"), "audit_id", id="audit_id-text"),
    pytest.param(event(audit_id="0123456789abcdef0123456789abcdef"), "audit_id", id="audit_id-32-hex"),
    pytest.param(event(audit_id="{01234567-89ab-cdef-0123-456789abcdef}"), "audit_id", id="audit_id-braces"),
    pytest.param(event(audit_id="01234567-89ab-cdef-0123-456789abcdeg"), "audit_id", id="audit_id-not-hex"),
    pytest.param(event(audit_id=""), "audit_id", id="audit_id-empty"),
    # timestamps
    pytest.param(
        event(timestamp=utc(-timedelta(hours=1)).replace(tzinfo=None).isoformat()),
        "timestamp",
        id="timestamp-no-offset",
    ),
    pytest.param(
        event(timestamp=utc(-timedelta(days=1)).date().isoformat()), "timestamp", id="timestamp-date"
    ),
    pytest.param(event(timestamp="yesterday"), "timestamp", id="timestamp-words"),
    pytest.param(event(timestamp=_hours(-1).replace("T", " ")), "timestamp", id="timestamp-space"),
    pytest.param(event(timestamp="2026-02-30T12:00:00Z"), "timestamp", id="timestamp-feb-30"),
    pytest.param(event(timestamp="2026-11-26T25:00:00Z"), "timestamp", id="timestamp-hour-25"),
    pytest.param(event(timestamp=_hours(0.15)), "timestamp", id="timestamp-9-min-ahead"),
    pytest.param(event(timestamp=_days(1)), "timestamp", id="timestamp-a-day-ahead"),
    pytest.param(event(timestamp=_days(365 * 3)), "timestamp", id="timestamp-years-ahead"),
    pytest.param(event(timestamp=_days(-100)), "timestamp", id="timestamp-older-than-default-retention"),
    pytest.param(event(timestamp=_days(-92)), "timestamp", id="timestamp-just-older-than-retention"),
    pytest.param(
        event(timestamp=_days(-400), retention_period_days=365),
        "timestamp",
        id="timestamp-older-than-own-retention",
    ),
    # retention bounds
    pytest.param(event(retention_period_days=89), "retention_period_days", id="retention-89"),
    pytest.param(event(retention_period_days=2556), "retention_period_days", id="retention-2556"),
    pytest.param(event(retention_period_days=0), "retention_period_days", id="retention-0"),
    pytest.param(event(retention_period_days=-90), "retention_period_days", id="retention-negative"),
    # ip addresses
    pytest.param(event(ip_address="999.1.1.1"), "ip_address", id="ip-octet-999"),
    pytest.param(event(ip_address="1.2.3"), "ip_address", id="ip-three-octets"),
    pytest.param(event(ip_address="01.2.3.4"), "ip_address", id="ip-leading-zero"),
    pytest.param(event(ip_address="not-an-ip"), "ip_address", id="ip-words"),
    pytest.param(event(ip_address="2001:db8::g"), "ip_address", id="ip-v6-bad-hex"),
    pytest.param(event(ip_address=" 10.0.0.1"), "ip_address", id="ip-leading-space"),
    pytest.param(event(ip_address=""), "ip_address", id="ip-empty"),
    # JSON objects
    pytest.param(event(request_data=[1, 2]), "request_data", id="request_data-list"),
    pytest.param(event(request_data="{}"), "request_data", id="request_data-string"),
    pytest.param(event(response_data=7), "response_data", id="response_data-number"),
    pytest.param(event(metadata=["a"]), "metadata", id="metadata-list"),
    pytest.param(event(request_data=_nested(9)), "request_data", id="request_data-depth-9"),
    pytest.param(event(metadata={"a": [[[[[[[[1]]]]]]]]}), "metadata", id="metadata-depth-9-arrays"),
    pytest.param(event(request_data={"blob": "x" * (16 * 1024)}), "request_data", id="request_data-over-16k"),
    pytest.param(event(response_data={"n": list(range(4000))}), "response_data", id="response_data-over-16k"),
    pytest.param(
        event(request_data={"b": "x" * 15000}, response_data={"b": "y" * 15000}, metadata={"b": "z" * 3000}),
        "body",
        id="event-over-32k",
    ),
]


@pytest.mark.parametrize(("body", "field"), BAD_EVENTS)
def test_bad_event_is_refused_naming_the_field(writer: httpx.Client, body: Any, field: str) -> None:
    error = assert_error(writer.post(EVENTS, json=body), 400, field)
    assert error["code"] == "invalid_argument"


@pytest.mark.parametrize(("body", "field"), BAD_EVENTS)
def test_bad_event_in_a_batch_is_rejected_naming_its_index(
    writer: httpx.Client, body: Any, field: str
) -> None:
    good = event(audit_id=str(uuid.uuid4()))
    response = writer.post(BATCH, json={"events": [good, body]})
    assert response.status_code == 202, response.text
    answer = response.json()
    assert [r["status"] for r in answer["results"]] == ["accepted", "rejected"]
    prefixed = "events[1]" if field == "body" else f"events[1].{field}"
    assert prefixed in [e["field"] for e in answer["results"][1]["errors"]]
    assert (answer["accepted"], answer["rejected"]) == (1, 1)


def test_every_problem_of_one_event_is_named(writer: httpx.Client) -> None:
    error = assert_error(writer.post(EVENTS, json={}), 400)
    assert {d["field"] for d in error["details"]} == {
        "timestamp",
        "event_type",
        "user_id",
        "resource_type",
        "action",
    }
    body = event(user_id=1, retention_period_days=89, colour="red", created_at="x")
    error = assert_error(writer.post(EVENTS, json=body), 400)
    assert {d["field"] for d in error["details"]} >= {
        "user_id",
        "retention_period_days",
        "colour",
        "created_at",
    }


def test_values_at_the_limits_are_accepted(writer: httpx.Client) -> None:
    """Positive controls for the bounds refused above."""
    accepted = [
        event(request_data=_nested(8), metadata={"a": [[[[[[1]]]]]]}),
        event(request_data={"blob": "x" * (16 * 1024 - 20)}),
        event(timestamp=_hours(4 / 60)),  # four minutes ahead
        event(timestamp=_days(-89)),
        event(timestamp=_days(-2000), retention_period_days=2555),
        event(retention_period_days=90),
        event(retention_period_days=2555),
        event(user_id="u" * 256, status="s" * 32, user_agent="a" * 1024),
        event(audit_id=str(uuid.uuid4()).upper()),
    ]
    for body in accepted:
        answer = post_one(writer, body)
        assert answer["status"] == "accepted"
    wait_get(writer, answer["audit_id"])


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"timestamp": ', "body"),
        (b"", "body"),
        (b"{'single': 'quotes'}", "body"),
        (b'{"a": NaN}', "body"),
        (b'"\xff\xfe"', "body"),
        (b"[" * 5000 + b"]" * 5000, "body"),  # JSON nested too deep to parse
        (b"[]", "body"),
        (b'"an event"', "body"),
        (b"42", "body"),
        (b"null", "body"),
    ],
    ids=[
        "truncated",
        "empty",
        "single-quotes",
        "nan",
        "bad-utf8",
        "too-deep",
        "array",
        "string",
        "number",
        "null",
    ],
)
def test_body_that_is_not_a_json_object_is_refused(writer: httpx.Client, content: bytes, field: str) -> None:
    assert_error(writer.post(EVENTS, content=content, headers=JSON), 400, field)
    assert_error(writer.post(BATCH, content=content, headers=JSON), 400, field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "events"),
        ({"events": None}, "events"),
        ({"events": {"0": event()}}, "events"),
        ({"events": []}, "events"),
        ({"events": [event()], "extra": 1}, "extra"),
        ({"events": [event(timestamp="bad"), event(user_id=5), 3]}, "events[0].timestamp"),
    ],
    ids=["no-events", "events-null", "events-object", "events-empty", "extra-field", "all-invalid"],
)
def test_bad_batch_envelope_is_refused(writer: httpx.Client, body: Any, field: str) -> None:
    error = assert_error(writer.post(BATCH, json=body), 400, field)
    if field == "events[0].timestamp":
        assert {d["field"] for d in error["details"]} == {
            "events[0].timestamp",
            "events[1].user_id",
            "events[2]",
        }


# -- sizes, media types, methods ---------------------------------------------------------------


def test_single_body_over_64k_is_413(writer: httpx.Client) -> None:
    body = event(request_data={"blob": "x" * (65 * 1024)})
    error = assert_error(writer.post(EVENTS, json=body), 413)
    assert error["code"] == "payload_too_large"

    # Also when the body arrives in chunks without a Content-Length.
    def chunks() -> Any:
        yield b'{"request_data": {"blob": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}}'

    assert_error(writer.post(EVENTS, content=chunks(), headers=JSON), 413)


def test_batch_body_over_8mib_is_413(writer: httpx.Client) -> None:
    events = [event(request_data={"blob": "x" * 9000}) for _ in range(1000)]
    assert_error(writer.post(BATCH, json={"events": events}), 413)


def test_batch_of_1001_events_is_413(writer: httpx.Client) -> None:
    error = assert_error(writer.post(BATCH, json={"events": [event() for _ in range(1001)]}), 413, "events")
    assert error["code"] == "payload_too_large"


@pytest.mark.parametrize("path", [EVENTS, BATCH])
def test_body_too_large_names_the_body(writer: httpx.Client, path: str) -> None:
    size = 65 * 1024 if path == EVENTS else 9 * 1024 * 1024
    assert_error(writer.post(path, content=b" " * size, headers=JSON), 413, "body")


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "text/plain"},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-type": "application/jsonx"},
        {"content-type": "multipart/form-data; boundary=x"},
        {},
    ],
    ids=["text", "form", "jsonx", "multipart", "none"],
)
def test_wrong_content_type_is_415(service: LocalService, headers: dict[str, str]) -> None:
    token = service.token(new_tenant("bad"), ["audit_writer"])
    with anonymous(service, {"Authorization": f"Bearer {token}", **headers}) as c:
        for path in (EVENTS, BATCH):
            content = b'{"events": []}' if path == BATCH else b"{}"
            request = c.build_request("POST", path, content=content)
            if not headers:
                request.headers.pop("content-type", None)
            error = assert_error(c.send(request), 415, "Content-Type")
            assert error["code"] == "unsupported_media_type"


def test_json_content_type_with_charset_is_accepted(writer: httpx.Client) -> None:
    content = json.dumps(event()).encode()
    response = writer.post(
        EVENTS, content=content, headers={"content-type": "Application/JSON; charset=utf-8"}
    )
    assert response.status_code == 202, response.text


def test_wrong_method_and_unknown_path(writer: httpx.Client) -> None:
    assert assert_error(writer.put(EVENTS, json=event()), 405)["code"] == "method_not_allowed"
    assert_error(writer.delete(f"{EVENTS}/{uuid.uuid4()}"), 405)
    assert_error(writer.get(BATCH), 400, "audit_id")  # read as GET /events/{audit_id}
    assert_error(writer.post(EXPORT, json={}), 405)
    assert assert_error(writer.get("/api/v1/audit/nothing"), 404)["code"] == "not_found"


# -- query parameters --------------------------------------------------------------------------


def _now(delta: timedelta = timedelta(0)) -> str:
    return rfc3339(utc(delta))


_an_hour_ago = _now(-timedelta(hours=1))
BAD_QUERIES: list[Any] = [
    pytest.param([("colour", "red")], "colour", id="unknown"),
    pytest.param([("userid", "alice")], "userid", id="misspelt"),
    pytest.param([("user_id", "")], "user_id", id="empty-value"),
    pytest.param([("user_id", "x" * 513)], "user_id", id="value-too-long"),
    pytest.param([("user_id", str(i)) for i in range(101)], "user_id", id="too-many-values"),
    pytest.param([("page_size", "0")], "page_size", id="page_size-0"),
    pytest.param([("page_size", "1001")], "page_size", id="page_size-1001"),
    pytest.param([("page_size", "abc")], "page_size", id="page_size-abc"),
    pytest.param([("page_size", "-1")], "page_size", id="page_size-negative"),
    pytest.param([("page_size", "1.5")], "page_size", id="page_size-fraction"),
    pytest.param([("page_size", "")], "page_size", id="page_size-empty"),
    pytest.param([("page_size", "10"), ("page_size", "20")], "page_size", id="page_size-twice"),
    pytest.param([("start_time", "yesterday")], "start_time", id="start_time-words"),
    pytest.param([("start_time", "2026-11-26T12:00:00")], "start_time", id="start_time-no-offset"),
    pytest.param([("start_time", "")], "start_time", id="start_time-empty"),
    pytest.param([("end_time", "2026-13-01T00:00:00Z")], "end_time", id="end_time-month-13"),
    pytest.param(
        [("start_time", _now(-timedelta(hours=1))), ("end_time", _now(-timedelta(hours=2)))],
        "start_time",
        id="start-after-end",
    ),
    pytest.param(
        [("start_time", _an_hour_ago), ("end_time", _an_hour_ago)], "start_time", id="start-equals-end"
    ),
    pytest.param([("start_time", _now(-timedelta(days=402)))], "start_time", id="window-over-400-days"),
    pytest.param(
        [("start_time", _now(-timedelta(days=1))), ("start_time", _now(-timedelta(days=2)))],
        "start_time",
        id="start_time-twice",
    ),
    pytest.param([("metadata.", "x")], "metadata.", id="metadata-empty-key"),
    pytest.param([("metadata.a b", "x")], "metadata.a b", id="metadata-space-in-key"),
    pytest.param([("metadata.a..b", "x")], "metadata.a..b", id="metadata-empty-segment"),
    pytest.param([("metadata.a'b", "x")], "metadata.a'b", id="metadata-quote-in-key"),
    pytest.param([("page_token", "garbage")], "page_token", id="page_token-garbage"),
    pytest.param([("page_token", "x" * 2000)], "page_token", id="page_token-huge"),
    pytest.param(
        [("page_token", base64.urlsafe_b64encode(b'[1,0,"x",0,0,"d"]' + b"\0" * 16).decode())],
        "page_token",
        id="page_token-forged",
    ),
]


@pytest.mark.parametrize(("params", "field"), BAD_QUERIES)
def test_bad_search_parameters_are_refused_naming_them(
    service: LocalService, request: pytest.FixtureRequest, params: list[tuple[str, str]], field: str
) -> None:
    with client(service, new_tenant("bad"), ["audit_export"]) as c:
        error = assert_error(c.get(EVENTS, params=params), 400, field)
        assert error["code"] == "invalid_argument"
        # The export takes the same filters (but allows longer windows, see test_export.py).
        if request.node.callspec.id != "window-over-400-days":
            assert_error(c.get(EXPORT, params=params), 400, field)


def test_window_of_exactly_400_days_is_allowed(service: LocalService) -> None:
    end = utc(-timedelta(hours=1))
    with client(service, new_tenant("bad"), ["audit_reader"]) as c:
        params = {"start_time": rfc3339(end - timedelta(days=400)), "end_time": rfc3339(end)}
        assert search(c, params)["events"] == []
        params["start_time"] = rfc3339(end - timedelta(days=400, microseconds=1))
        assert_error(c.get(EVENTS, params=params), 400, "start_time")


def test_page_token_is_bound_to_its_filters(service: LocalService) -> None:
    with client(service, new_tenant("bad")) as c:
        ids = [post_one(c, event(user_id="alice"))["audit_id"] for _ in range(3)]
        wait_get(c, ids[-1])
        first = search(c, {"user_id": "alice", "page_size": 1})
        token = first["next_page_token"]
        assert token
        # The same filters continue the walk.
        assert len(search(c, {"user_id": "alice", "page_size": 1, "page_token": token})["events"]) == 1
        # The page size may change; nothing else may.
        assert len(search(c, {"user_id": "alice", "page_size": 5, "page_token": token})["events"]) == 2
        for other in (
            {"user_id": "bob"},
            {},
            {"user_id": "alice", "action": "create"},
            {"user_id": "alice", "start_time": _now(-timedelta(days=1))},
            {"user_id": "alice", "end_time": _now()},
        ):
            params = {**other, "page_size": 1, "page_token": token}
            error = assert_error(c.get(EVENTS, params=params), 400, "page_token")
            assert error["code"] == "invalid_argument"
        # An edited token is refused.
        flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
        assert_error(c.get(EVENTS, params={"user_id": "alice", "page_token": flipped}), 400, "page_token")
        # A search cursor does not page an export.
        assert_error(c.get(EXPORT, params={"user_id": "alice", "page_token": token}), 400, "page_token")


def test_bad_export_format_is_refused(service: LocalService) -> None:
    with client(service, new_tenant("bad"), ["audit_export"]) as c:
        for fmt in ("xml", "CSV", "ndjson", ""):
            assert_error(c.get(EXPORT, params={"format": fmt}), 400, "format")


# -- authentication and roles ------------------------------------------------------------------


def _requests() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", EVENTS, {"json": event()}),
        ("POST", BATCH, {"json": {"events": [event()]}}),
        ("GET", EVENTS, {}),
        ("GET", f"{EVENTS}/{uuid.uuid4()}", {}),
        ("GET", EXPORT, {}),
    ]


def _tokens(service: LocalService, tmp_path: Path) -> dict[str, str | None]:
    tenant = new_tenant("auth")
    issuer = DevIssuer(service.data_dir, issuer="auditlog-dev", audience="auditlog")
    stranger = DevIssuer(tmp_path, issuer="auditlog-dev", audience="auditlog")  # another key
    good = service.token(tenant)
    head, payload, signature = good.split(".")
    swapped = "A" if signature[5] != "A" else "B"
    tampered_sig = f"{head}.{payload}.{signature[:5]}{swapped}{signature[6:]}"
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(
        tenant.encode(), b"someone-else"
    )
    forged_claims = f"{head}.{base64.urlsafe_b64encode(claims).decode().rstrip('=')}.{signature}"
    roles = ["audit_writer", "audit_reader", "audit_export"]
    return {
        "missing": None,
        "empty": "",
        "basic-scheme": "Basic dXNlcjpwYXNz",
        "bearer-without-token": "Bearer",
        "garbage": "Bearer not.a.jwt",
        "random-text": "Bearer " + "x" * 40,
        "tampered-signature": f"Bearer {tampered_sig}",
        "forged-claims": f"Bearer {forged_claims}",
        "expired": "Bearer " + issuer.issue(tenant_id=tenant, roles=roles, ttl_seconds=-120),
        "other-key": "Bearer " + stranger.issue(tenant_id=tenant, roles=roles),
        "wrong-audience": "Bearer "
        + DevIssuer(service.data_dir, issuer="auditlog-dev", audience="elsewhere").issue(
            tenant_id=tenant, roles=roles
        ),
        "wrong-issuer": "Bearer "
        + DevIssuer(service.data_dir, issuer="evil", audience="auditlog").issue(
            tenant_id=tenant, roles=roles
        ),
        "too-large": "Bearer " + "a" * 9000,
        **{f"crafted-{k}": f"Bearer {v}" for k, v in _crafted(service, tenant, roles).items()},
    }


def _crafted(service: LocalService, tenant: str, roles: list[str]) -> dict[str, str]:
    """Tokens an attacker would build by hand, against the server's own development key."""
    import time

    import jwt
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key((service.data_dir / "dev-issuer-key.pem").read_bytes(), None)
    public_pem = key.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    base = {"iss": "auditlog-dev", "aud": "auditlog", "sub": "x", "tenant_id": tenant, "roles": roles}

    def signed(claims: dict[str, Any]) -> str:
        return jwt.encode(claims, key, algorithm="ES256")  # type: ignore[arg-type]

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    def hs256_with(secret: bytes) -> str:
        import hashlib
        import hmac

        head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64(json.dumps({**base, "exp": now + 600}).encode())
        mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64(mac)}"

    alg_none = (
        b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        + "."
        + b64(json.dumps({**base, "exp": now + 600}).encode())
        + "."
    )
    return {
        "alg-none": alg_none,
        "alg-confusion-hs256-with-public-key": hs256_with(public_pem),
        "not-yet-valid": signed({**base, "exp": now + 600, "nbf": now + 300}),
        "no-tenant": signed({k: v for k, v in base.items() if k != "tenant_id"} | {"exp": now + 600}),
        "no-roles": signed({k: v for k, v in base.items() if k != "roles"} | {"exp": now + 600}),
        "roles-not-a-list": signed({**base, "roles": "system_admin", "exp": now + 600}),
        "no-exp": signed(base),
    }


def test_bad_authorization_is_401_everywhere(service: LocalService, tmp_path: Path) -> None:
    for name, authorization in _tokens(service, tmp_path).items():
        headers = {} if authorization is None else {"Authorization": authorization}
        with anonymous(service, headers) as c:
            for method, path, kwargs in _requests():
                response = c.request(method, path, **kwargs)
                error = assert_error(response, 401)
                assert error["code"] == "unauthenticated", (name, method, path)


def test_good_token_works_with_lowercase_scheme(service: LocalService) -> None:
    with anonymous(service, {"Authorization": "bearer " + service.token(new_tenant("auth"))}) as c:
        assert c.get(EVENTS).status_code == 200


ROLE_CASES = [
    pytest.param(["audit_writer"], "GET", EVENTS, id="writer-searching"),
    pytest.param(["audit_writer"], "GET", f"{EVENTS}/{uuid.uuid4()}", id="writer-getting"),
    pytest.param(["audit_writer"], "GET", EXPORT, id="writer-exporting"),
    pytest.param(["audit_reader"], "POST", EVENTS, id="reader-writing"),
    pytest.param(["audit_reader"], "POST", BATCH, id="reader-writing-batch"),
    pytest.param(["audit_reader"], "GET", EXPORT, id="reader-exporting"),
    pytest.param(["audit_export"], "POST", EVENTS, id="exporter-writing"),
    pytest.param(["audit_admin"], "POST", BATCH, id="admin-writing"),
    pytest.param(["audit_admin"], "GET", EXPORT, id="admin-exporting"),
    pytest.param(["no_such_role"], "GET", EVENTS, id="unknown-role-searching"),
    pytest.param(["no_such_role"], "POST", EVENTS, id="unknown-role-writing"),
]


@pytest.mark.parametrize(("roles", "method", "path"), ROLE_CASES)
def test_role_without_the_capability_is_403(
    service: LocalService, roles: list[str], method: str, path: str
) -> None:
    tenant = new_tenant("role")
    kwargs: dict[str, Any] = {}
    if path == EVENTS and method == "POST":
        kwargs["json"] = event()
    elif path == BATCH:
        kwargs["json"] = {"events": [event()]}
    with client(service, tenant, roles) as c:
        error = assert_error(c.request(method, path, **kwargs), 403)
        assert error["code"] == "permission_denied"
    if method == "POST":  # and nothing was written
        with client(service, tenant, ["audit_reader"]) as reader:
            assert search(reader)["events"] == []


# -- bugs found: inputs that make the service answer 5xx or accept a bad value ----------------


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param(
            "0001-01-01T00:00:00+01:00",
        ),
        pytest.param(
            "9999-12-31T23:30:00-01:00",
        ),
        pytest.param(
            "9999-12-31T00:00:00Z",
        ),
    ],
)
def test_timestamp_at_the_ends_of_the_calendar_is_400(writer: httpx.Client, timestamp: str) -> None:
    assert_error(writer.post(EVENTS, json=event(timestamp=timestamp)), 400, "timestamp")
    # In a batch it must be one rejected item, not a failed request that loses the good events.
    response = writer.post(BATCH, json={"events": [event(), event(timestamp=timestamp)]})
    assert response.status_code == 202
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "rejected"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param(
            {"start_time": "0001-01-01T00:00:00+01:00"},
            "start_time",
        ),
        pytest.param(
            {"end_time": "9999-12-31T23:30:00-01:00"},
            "end_time",
        ),
        pytest.param(
            {"end_time": "0001-01-05T00:00:00Z"},
            None,
        ),
    ],
)
def test_search_time_at_the_ends_of_the_calendar_is_not_a_500(
    service: LocalService, params: dict[str, str], field: str | None
) -> None:
    with client(service, new_tenant("bad"), ["audit_export"]) as c:
        for path in (EVENTS, EXPORT):
            response = c.get(path, params=params)
            if field is None:
                # Either an empty answer or a 400 naming the window would do.
                assert response.status_code in (200, 400), response.text
            else:
                assert_error(response, 400, field)


@pytest.mark.parametrize("page_size", ["²", "¹⁰"])
def test_page_size_of_unicode_digits_is_400(service: LocalService, page_size: str) -> None:
    with client(service, new_tenant("bad"), ["audit_reader"]) as c:
        assert_error(c.get(EVENTS, params={"page_size": page_size}), 400, "page_size")


@pytest.mark.parametrize(
    "ip",
    ["10.0.0.1\n", "\u0661.\u0662.\u0663.\u0664", "1.2.3.\u0664"],  # the last two: Arabic-Indic digits
    ids=["trailing-newline", "arabic-indic-digits", "one-arabic-indic-digit"],
)
def test_ip_address_fast_path_refuses_what_ipaddress_refuses(writer: httpx.Client, ip: str) -> None:
    assert_error(writer.post(EVENTS, json=event(ip_address=ip)), 400, "ip_address")


@pytest.mark.parametrize(
    "audit_id",
    [
        "0123456789abcdef0123456789abcdef----",
        "--0123456789abcdef0123456789abcdef--",
        "urn:0123456789abcdef0123456789abcdef",
    ],
)
def test_audit_id_must_be_in_the_canonical_36_character_form(writer: httpx.Client, audit_id: str) -> None:
    assert_error(writer.post(EVENTS, json=event(audit_id=audit_id)), 400, "audit_id")


def test_the_request_id_is_the_servers_and_the_callers_is_kept_apart(writer: httpx.Client) -> None:
    response = writer.post(EVENTS, json={}, headers={"X-Request-ID": "req-123"})
    request_id = assert_error(response, 400)["request_id"]
    assert request_id != "req-123", "a caller cannot choose the id of its request"
    assert response.headers["X-Request-ID"] == request_id
    assert response.headers["X-Client-Request-ID"] == "req-123"
    long = writer.post(EVENTS, json={}, headers={"X-Request-ID": "r" * 5000, "X-Correlation-ID": "c" * 5000})
    assert len(long.headers["X-Client-Request-ID"]) == 128
    assert len(long.headers["X-Correlation-ID"]) == 256


def test_errors_leave_the_service_healthy(service: LocalService) -> None:
    assert httpx.get(f"{service.url}/healthz").status_code == 200
    ready = httpx.get(f"{service.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
