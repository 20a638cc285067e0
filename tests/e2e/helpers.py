"""Helpers shared by the e2e modules: clients that refuse 5xx, event factories, polling."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from tests.conftest import LocalService, wait_for

EVENTS = "/api/v1/audit/events"
BATCH = "/api/v1/audit/events/batch"
EXPORT = "/api/v1/audit/events/export"

# The seed schema's columns, in order: the CSV header and the keys of every event read back.
COLUMNS = [
    "audit_id",
    "timestamp",
    "event_type",
    "user_id",
    "session_id",
    "ip_address",
    "user_agent",
    "resource_type",
    "resource_id",
    "action",
    "status",
    "request_data",
    "response_data",
    "metadata",
    "tenant_id",
    "service_name",
    "correlation_id",
    "retention_period_days",
    "created_at",
    "partition_date",
]


def new_tenant(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _refuse_5xx(response: httpx.Response) -> None:
    if response.status_code >= 500:
        response.read()
        raise AssertionError(
            f"{response.request.method} {response.request.url} answered {response.status_code}: "
            f"{response.text[:500]}"
        )


def client(
    service: LocalService, tenant: str, roles: list[str] | None = None, *, sub: str = "tester"
) -> httpx.Client:
    """A client with a bearer token for ``tenant`` that fails the test on any 5xx answer."""
    return httpx.Client(
        base_url=service.url,
        headers={"Authorization": f"Bearer {service.token(tenant, roles, sub)}"},
        timeout=30,
        event_hooks={"response": [_refuse_5xx]},
    )


def anonymous(service: LocalService, headers: dict[str, str] | None = None) -> httpx.Client:
    """A client without a token (or with the given headers), also failing on 5xx."""
    return httpx.Client(
        base_url=service.url, headers=headers or {}, timeout=30, event_hooks={"response": [_refuse_5xx]}
    )


def utc(delta: timedelta = timedelta(0), *, micro: int | None = None) -> datetime:
    """Now (UTC) plus ``delta``, optionally with a fixed microsecond."""
    value = datetime.now(UTC) + delta
    return value if micro is None else value.replace(microsecond=micro)


def rfc3339(value: datetime, offset: timedelta | None = None) -> str:
    """``value`` as RFC 3339 with an offset (UTC's ``+00:00`` unless another is given)."""
    return value.astimezone(timezone(offset or timedelta(0))).isoformat()


def z(value: datetime) -> str:
    """How the service shows a time: UTC, microseconds, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(**overrides: Any) -> dict[str, Any]:
    """A minimal valid event an hour ago; keyword arguments override or add fields."""
    body: dict[str, Any] = {
        "timestamp": rfc3339(utc(-timedelta(hours=1))),
        "event_type": "user.login",
        "user_id": "alice",
        "resource_type": "session",
        "action": "create",
    }
    body.update(overrides)
    return body


def post_one(c: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = c.post(EVENTS, json=body)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def post_batch(c: httpx.Client, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = c.post(BATCH, json={"events": events})
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def search(c: httpx.Client, params: Any = None) -> dict[str, Any]:
    response = c.get(EVENTS, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def search_ids(c: httpx.Client, params: Any = None) -> list[str]:
    return [e["audit_id"] for e in search(c, params)["events"]]


def wait_ids(c: httpx.Client, ids: Iterable[str], params: Any = None, timeout: float = 10) -> list[dict]:
    """Poll a search (page_size 1000, plus ``params``) until every id in ``ids`` is in it."""
    wanted = set(ids)
    query = [("page_size", "1000"), *_pairs(params)]

    def ready() -> list[dict] | None:
        events = search(c, query)["events"]
        return events if wanted <= {e["audit_id"] for e in events} else None

    result: list[dict] = wait_for(ready, timeout=timeout, interval=0.05)
    return result


def wait_get(c: httpx.Client, audit_id: str, timeout: float = 10) -> dict[str, Any]:
    def found() -> httpx.Response | None:
        response = c.get(f"{EVENTS}/{audit_id}")
        assert response.status_code in (200, 404), response.text
        return response if response.status_code == 200 else None

    result: dict[str, Any] = wait_for(found, timeout=timeout, interval=0.05).json()
    return result


def _pairs(params: Any) -> list[tuple[str, str]]:
    if params is None:
        return []
    if isinstance(params, dict):
        return [(k, str(v)) for k, v in params.items()]
    return [(k, str(v)) for k, v in params]


def assert_error(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The error envelope with ``status``; when ``field`` is given, a detail must name it."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    for detail in error["details"]:
        assert set(detail) == {"field", "problem"} and detail["problem"]
    if field is not None:
        fields = [d["field"] for d in error["details"]]
        assert field in fields, f"no detail names {field!r}: {error}"
    result: dict[str, Any] = error
    return result
