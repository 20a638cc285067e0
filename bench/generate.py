"""Deterministic synthetic audit events.

``EventGenerator(seed, now=...)`` draws everything from one ``random.Random(seed)``, so the same
seed and the same ``now`` give the same events, byte for byte. Events come out lazily, grouped by
tenant into batches (a token names one tenant, so an HTTP batch holds one tenant's events); at
most one partial batch per tenant is held in memory, so 10M events never sit in memory at once.

The shape of the data:
- 50 tenants with Zipf-like sizes (exponent 1.2: the largest holds ~30 %, the smallest ~0.3 %);
- ~10k users split over the tenants in proportion to their size, each tenant's users Zipf-skewed;
- 30 event types (resource.action), Zipf-skewed; status ~92 % success, 5 % failure, 3 % denied;
- timestamps rising through the last ``days`` days up to ``end_lag`` before ``now`` (the order a
  live service receives them in), with microseconds, RFC 3339 with ``Z``;
- nested ``request_data``, ``response_data`` and ``metadata`` (region, plan, request_source, ...)
  for ~1 KB of JSON per event;
- a client-supplied ``audit_id`` (a UUID drawn from the seed), so a retried batch is idempotent.
"""

from __future__ import annotations

import bisect
import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from auditlog.model.event import canonical_json

TENANT_COUNT = 50
TENANT_SKEW = 1.2
USER_COUNT = 10_000
USER_SKEW = 1.0
DAYS = 89.5  # inside the default 90-day retention, which is counted in whole days
END_LAG = timedelta(minutes=3)

_RESOURCES: dict[str, tuple[str, ...]] = {
    "user": ("login", "logout", "create", "update", "delete", "password_reset"),
    "invoice": ("create", "update", "approve", "void", "read"),
    "document": ("read", "create", "update", "share", "delete"),
    "api_key": ("create", "rotate", "revoke"),
    "role": ("assign", "revoke", "update"),
    "payment": ("create", "refund", "capture", "dispute"),
    "project": ("create", "archive", "update", "delete"),
}
EVENT_TYPES: tuple[str, ...] = tuple(f"{r}.{a}" for r, actions in _RESOURCES.items() for a in actions)
assert len(EVENT_TYPES) == 30
_HTTP_METHOD = {
    "read": "GET",
    "create": "POST",
    "delete": "DELETE",
    "login": "POST",
    "logout": "POST",
}
STATUSES = ("success", "failure", "denied")
STATUS_WEIGHTS = (0.92, 0.05, 0.03)
REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "eu-central-1", "ap-southeast-1", "sa-east-1")
REGION_WEIGHTS = (0.40, 0.25, 0.15, 0.10, 0.06, 0.04)
PLANS = ("free", "team", "business", "enterprise")
SOURCES = ("api", "web", "sdk", "cli", "scheduler")
SOURCE_WEIGHTS = (0.45, 0.30, 0.15, 0.05, 0.05)
SERVICES = ("identity", "billing", "documents", "platform", "payments", "projects")
_SERVICE_OF = {
    "user": "identity",
    "role": "identity",
    "api_key": "platform",
    "invoice": "billing",
    "payment": "payments",
    "document": "documents",
    "project": "projects",
}
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "auditlog-sdk-python/1.4.2 CPython/3.12.3 Linux/6.8.0",
    "auditlog-sdk-go/0.9.1 go1.22.4 linux/amd64",
    "curl/8.8.0",
    "okhttp/4.12.0",
    "Terraform/1.9.0 (+https://www.terraform.io) terraform-provider-acme/2.3.1",
)
_LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR")
_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "BRL")
_WORDS = (
    "quarterly",
    "renewal",
    "adjustment",
    "migration",
    "customer",
    "request",
    "approved",
    "pending",
    "ledger",
    "contract",
    "onboarding",
    "review",
    "escalation",
    "batch",
    "import",
    "manual",
)
_HEX = "0123456789abcdef"


def _cumulative(weights: list[float] | tuple[float, ...]) -> list[float]:
    return list(itertools.accumulate(weights))


def _zipf(n: int, s: float) -> list[float]:
    raw = [k**-s for k in range(1, n + 1)]
    total = sum(raw)
    return [w / total for w in raw]


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    share: float  # expected fraction of all events
    plan: str
    home_region: str
    users: tuple[str, ...]  # most active first
    user_cum: tuple[float, ...]


def format_ts(value: datetime) -> str:
    """Naive-UTC datetime as RFC 3339 with microseconds and ``Z`` (the service's stored form)."""
    return value.isoformat(timespec="microseconds") + "Z"


class EventGenerator:
    """Synthetic events for one seed; see the module docstring."""

    def __init__(
        self,
        seed: int = 42,
        *,
        now: datetime | None = None,
        tenants: int = TENANT_COUNT,
        users: int = USER_COUNT,
        days: float = DAYS,
        end_lag: timedelta = END_LAG,
    ) -> None:
        if now is None:
            now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        elif now.tzinfo is not None:
            now = now.astimezone(UTC).replace(tzinfo=None)
        self.seed = seed
        self.now = now
        self.end = now - end_lag
        self.start = self.end - timedelta(days=days)
        self._rng = random.Random(seed)
        rng = self._rng
        shares = _zipf(tenants, TENANT_SKEW)
        width = len(str(tenants - 1))
        built: list[Tenant] = []
        for i, share in enumerate(shares):
            n_users = max(5, round(users * share))
            names = tuple(f"user-{i:0{width}d}-{k:05d}" for k in range(n_users))
            built.append(
                Tenant(
                    tenant_id=f"tenant-{i:0{width}d}",
                    share=share,
                    plan=PLANS[3 - i // 3] if i < 12 else PLANS[rng.randrange(2)],
                    home_region=rng.choices(REGIONS, REGION_WEIGHTS)[0],
                    users=names,
                    user_cum=tuple(_cumulative(_zipf(n_users, USER_SKEW))),
                )
            )
        self.tenants: tuple[Tenant, ...] = tuple(built)
        self._tenant_cum = _cumulative(shares)
        self._type_cum = _cumulative(_zipf(len(EVENT_TYPES), 0.8))
        self._status_cum = _cumulative(STATUS_WEIGHTS)
        self._region_cum = _cumulative(REGION_WEIGHTS)
        self._source_cum = _cumulative(SOURCE_WEIGHTS)

    @property
    def largest(self) -> Tenant:
        return self.tenants[0]

    @property
    def smallest(self) -> Tenant:
        return self.tenants[-1]

    # -- drawing ------------------------------------------------------------------------------

    def _pick(self, cum: list[float] | tuple[float, ...]) -> int:
        return min(bisect.bisect(cum, self._rng.random() * cum[-1]), len(cum) - 1)

    def _below(self, n: int) -> int:
        # int(random() * n): unbiased enough here, and several times cheaper than randrange.
        return int(self._rng.random() * n)

    def _hex(self, n: int) -> str:
        return f"{self._rng.getrandbits(4 * n):0{n}x}"

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def event(self, tenant: Tenant, ts: datetime) -> dict[str, Any]:
        """One event of ``tenant`` at ``ts`` (naive UTC), as a client sends it (JSON-native)."""
        rng = self._rng
        event_type = EVENT_TYPES[self._pick(self._type_cum)]
        resource, action = event_type.split(".")
        status = STATUSES[self._pick(self._status_cum)]
        user = tenant.users[self._pick(tenant.user_cum)]
        resource_id = f"{resource}-{self._below(100_000):05d}"
        region = tenant.home_region if rng.random() < 0.5 else REGIONS[self._pick(self._region_cum)]
        method = _HTTP_METHOD.get(action, "PUT" if action == "update" else "POST")
        code = {"success": 200 if method != "POST" else 201, "failure": 500, "denied": 403}[status]
        words = rng.sample(_WORDS, 4)
        event: dict[str, Any] = {
            "audit_id": self._uuid(),
            "timestamp": format_ts(ts),
            "event_type": event_type,
            "user_id": user,
            "session_id": "sess-" + self._hex(16),
            "ip_address": f"10.{self._below(256)}.{self._below(256)}.{1 + self._below(254)}",
            "user_agent": USER_AGENTS[self._below(len(USER_AGENTS))],
            "resource_type": resource,
            "resource_id": resource_id,
            "action": action,
            "status": status,
            "request_data": {
                "method": method,
                "path": f"/api/v2/{resource}s/{resource_id}",
                "query": {"expand": words[0], "dry_run": rng.random() < 0.05},
                "headers": {
                    "content_type": "application/json",
                    "accept_language": _LOCALES[self._below(len(_LOCALES))],
                },
                "body": {
                    "amount": round(rng.random() * 10_000, 2),
                    "currency": _CURRENCIES[self._below(len(_CURRENCIES))],
                    "note": " ".join(words),
                    "tags": words[1:],
                    "line_items": 1 + self._below(39),
                },
            },
            "response_data": {
                "status_code": code,
                "duration_ms": round(rng.random() * 250, 3),
                "body": {
                    "id": resource_id,
                    "version": 1 + self._below(49),
                    "etag": self._hex(16),
                    "error": None if status == "success" else f"{status}: {words[2]} {words[3]}",
                },
            },
            "metadata": {
                "region": region,
                "plan": tenant.plan,
                "request_source": SOURCES[self._pick(self._source_cum)],
                "api_version": "2024-06-01" if rng.random() < 0.8 else "2023-10-16",
                "client": {"name": "console" if rng.random() < 0.3 else "sdk", "build": self._below(900)},
                "trace_id": self._hex(32),
            },
            "tenant_id": tenant.tenant_id,
            "service_name": _SERVICE_OF[resource],
            "correlation_id": "corr-" + self._hex(20),
        }
        if rng.random() < 0.2:
            event["retention_period_days"] = 365 if rng.random() < 0.8 else 2555
        return event

    # -- streams ------------------------------------------------------------------------------

    def events(self, count: int) -> Iterator[dict[str, Any]]:
        """``count`` events in time order (ties broken by the draw), tenants interleaved."""
        span = (self.end - self.start).total_seconds()
        for i in range(count):
            offset = span * (i + self._rng.random()) / count
            tenant = self.tenants[self._pick(self._tenant_cum)]
            yield self.event(tenant, self.start + timedelta(seconds=offset))

    def batches(self, count: int, size: int = 1000) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """The ``count`` events of ``events(count)`` as (tenant_id, events) batches of at most
        ``size``, each of one tenant; a tenant's partial batch is flushed at the end."""
        pending: dict[str, list[dict[str, Any]]] = {}
        for event in self.events(count):
            bucket = pending.setdefault(event["tenant_id"], [])
            bucket.append(event)
            if len(bucket) >= size:
                yield event["tenant_id"], bucket
                pending[event["tenant_id"]] = []
        for tenant_id, bucket in pending.items():
            if bucket:
                yield tenant_id, bucket

    def live_event(self, tenant_id: str, now: datetime | None = None) -> dict[str, Any]:
        """An event happening now for a tenant outside the data set (single writes, lag probes)."""
        ts = now or datetime.now(UTC).replace(tzinfo=None)
        event = self.event(self.tenants[self._pick(self._tenant_cum)], ts)
        event["tenant_id"] = tenant_id
        return event


def to_stored(event: dict[str, Any], created_at: str, default_retention_days: int = 90) -> dict[str, Any]:
    """The record the service would store for ``event`` (``auditlog.model.event.StoredEvent``), without
    the cost of validating it: JSON columns as compact text, times as RFC 3339 with microseconds.
    ``event`` must carry its ``tenant_id`` and a ``timestamp`` in ``format_ts`` form."""
    ts: str = event["timestamp"]
    return {
        "audit_id": event["audit_id"],
        "timestamp": ts,
        "event_type": event["event_type"],
        "user_id": event["user_id"],
        "session_id": event.get("session_id"),
        "ip_address": event.get("ip_address"),
        "user_agent": event.get("user_agent"),
        "resource_type": event["resource_type"],
        "resource_id": event.get("resource_id"),
        "action": event["action"],
        "status": event.get("status", "success"),
        "request_data": _json_text(event.get("request_data")),
        "response_data": _json_text(event.get("response_data")),
        "metadata": _json_text(event.get("metadata")),
        "tenant_id": event["tenant_id"],
        "service_name": event.get("service_name"),
        "correlation_id": event.get("correlation_id"),
        "retention_period_days": event.get("retention_period_days") or default_retention_days,
        "created_at": created_at,
        "partition_date": ts[:10],
    }


def _json_text(value: Any) -> str | None:
    return None if value is None else canonical_json(value).decode()
