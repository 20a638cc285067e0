"""Every (role, endpoint, own or other tenant) cell, generated from one declaration (below) that
mirrors the README's table, asserted against the running server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e

ROLES = ("audit_writer", "audit_reader", "audit_export", "audit_admin", "system_admin")
PLATFORM = "auditlog-platform"
READERS = {"audit_reader", "audit_export", "audit_admin", "system_admin"}

STREAM_OPERATIONS = (
    "createStream",
    "listStreams",
    "getStream",
    "updateStream",
    "deleteStream",
    "pauseStream",
    "resumeStream",
    "replayStream",
    "testStream",
)

# The declaration: which roles of a customer tenant may call each endpoint for their own tenant
# (customers have no "other": a tenant's roles never reach another tenant).
ALLOWED_OWN: dict[str, set[str]] = {
    "ingestEvent": {"audit_writer", "system_admin"},
    "ingestBatch": {"audit_writer", "system_admin"},
    "searchEvents": READERS,
    "getEvent": READERS,
    "exportEvents": {"audit_export", "system_admin"},
    "runRetention": set(),  # platform jobs
    "previewRetention": {"system_admin"},  # a dry run of their own tenant's counts
    "getTenantPolicy": {"system_admin"},  # tenant administration, own tenant
    "putTenantPolicy": {"system_admin"},
    "getEventProof": READERS,
    "getLatestCheckpoint": READERS,
    "getCheckpoint": READERS,
    "getConsistencyProof": READERS,
    "getPublicKey": set(ROLES),  # public: anyone may check signatures
    "getVerifierKeys": set(ROLES),
    "getLogCheckpoint": READERS,
    "getTile": READERS,
    "getEntryBundle": {"audit_admin", "system_admin"},  # entries include the service's own records
    "runIntegrity": set(),
    "placeLegalHold": {"system_admin"},
    "listLegalHolds": {"system_admin"},
    "releaseLegalHold": {"system_admin"},
    "eraseSubject": {"system_admin"},
    "listErasures": {"system_admin"},
    **{op: {"system_admin"} for op in STREAM_OPERATIONS},
    "runStreams": set(),
}
ALLOWED_OTHER: dict[str, set[str]] = {op: set() for op in ALLOWED_OWN} | {
    "getPublicKey": set(ROLES),
    "getVerifierKeys": set(ROLES),
}

# The same roles in the platform tenant: their own tenant as above plus the jobs, and for a
# customer tenant ("other") what platform administration allows.
PLATFORM_OWN: dict[str, set[str]] = ALLOWED_OWN | {
    "runRetention": {"system_admin"},
    "runIntegrity": {"system_admin"},
    "runStreams": {"system_admin"},
}
PLATFORM_OTHER: dict[str, set[str]] = {
    "ingestEvent": set(),  # events are always written into the caller's own tenant
    "ingestBatch": set(),
    "searchEvents": {"audit_admin", "system_admin"},
    "getEvent": {"audit_admin", "system_admin"},
    "exportEvents": {"system_admin"},
    "runRetention": {"system_admin"},
    "previewRetention": {"system_admin"},
    "getTenantPolicy": {"system_admin"},
    "putTenantPolicy": {"system_admin"},
    "getEventProof": {"audit_admin", "system_admin"},
    "getLatestCheckpoint": {"audit_admin", "system_admin"},
    "getCheckpoint": {"audit_admin", "system_admin"},
    "getConsistencyProof": {"audit_admin", "system_admin"},
    "getPublicKey": set(ROLES),
    "getVerifierKeys": set(ROLES),
    "getLogCheckpoint": {"audit_admin", "system_admin"},
    "getTile": {"audit_admin", "system_admin"},
    "getEntryBundle": {"audit_admin", "system_admin"},
    "runIntegrity": {"system_admin"},
    "placeLegalHold": {"system_admin"},
    "listLegalHolds": {"system_admin"},
    "releaseLegalHold": {"system_admin"},
    "eraseSubject": {"system_admin"},
    "listErasures": {"system_admin"},
    **{op: {"system_admin"} for op in STREAM_OPERATIONS},
    "runStreams": {"system_admin"},
}
# Operations that name no tenant: only the "own" cell applies.
UNSCOPED = {"runRetention", "runIntegrity", "runStreams", "getPublicKey"}
# A stream named by its id: another tenant's is not shown to a tenant's administrator (404).
BY_STREAM_ID = {op for op in STREAM_OPERATIONS if op not in ("createStream", "listStreams")}


def _event(tenant: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "event_type": "matrix.check",
        "user_id": "u",
        "resource_type": "r",
        "action": "a",
    }
    if tenant is not None:
        event["tenant_id"] = tenant
    return event


@dataclass(frozen=True)
class Tenants:
    own: str
    other: str
    event_of: dict[str, str]
    checkpoint_of: dict[str, int]
    hold_of: dict[str, str]
    stream_of: dict[str, str]
    new_stream: Callable[[str], str]


def _stream(tenant: str) -> dict[str, Any]:
    # Nothing listens on the discard port: deliveries fail and back off, which the matrix ignores.
    hook = {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "whsec_" + "A" * 32}
    return {"tenant_id": tenant, "name": "matrix", "destination": hook}


@pytest.fixture(scope="module")
def tenants(service: LocalService) -> Iterator[Tenants]:
    own, other = f"own-{uuid.uuid4().hex[:6]}", f"other-{uuid.uuid4().hex[:6]}"
    ids = {}
    for tenant in (own, other, PLATFORM):
        with service.client(tenant, ["audit_writer", "audit_reader"]) as client:
            audit_id = client.post("/api/v1/audit/events", json=_event()).json()["audit_id"]
            wait_for(lambda c=client, i=audit_id: c.get(f"/api/v1/audit/events/{i}/proof").status_code == 200)
            ids[tenant] = audit_id
    sizes, holds, streams = {}, {}, {}

    def new_stream(tenant: str) -> str:
        with service.client(PLATFORM, ["system_admin"]) as admin:
            return str(admin.post("/api/v1/admin/streams", json=_stream(tenant)).json()["stream_id"])

    with service.client(PLATFORM, ["system_admin"]) as admin:
        for tenant in (own, other, PLATFORM):
            latest = admin.get("/api/v1/audit/checkpoints/latest", params={"tenant_id": tenant}).json()
            sizes[tenant] = latest["tree_size"]
            hold = admin.post("/api/v1/admin/legal-holds", json={"tenant_id": tenant, "reason": "matrix"})
            holds[tenant] = hold.json()["hold_id"]
            streams[tenant] = new_stream(tenant)
    yield Tenants(own, other, ids, sizes, holds, streams, new_stream)


def _call(client: httpx.Client, operation: str, target: str, own: str, tenants: Tenants) -> httpx.Response:
    scoped = {} if target == own else {"tenant_id": target}
    event_id = tenants.event_of[target]
    if operation == "ingestEvent":
        return client.post("/api/v1/audit/events", json=_event(None if target == own else target))
    if operation == "ingestBatch":
        events = [_event(None if target == own else target)]
        return client.post("/api/v1/audit/events/batch", json={"events": events})
    if operation == "searchEvents":
        return client.get("/api/v1/audit/events", params=scoped)
    if operation == "getEvent":
        return client.get(f"/api/v1/audit/events/{event_id}", params=scoped)
    if operation == "exportEvents":
        return client.get("/api/v1/audit/events/export", params=scoped)
    if operation == "runRetention":
        return client.post("/api/v1/audit/retention/run", params={"dry_run": "true"})
    if operation == "previewRetention":
        return client.get("/api/v1/admin/retention/preview", params={"tenant_id": target})
    if operation == "getTenantPolicy":
        return client.get(f"/api/v1/admin/tenants/{target}/policy")
    if operation == "putTenantPolicy":
        return client.put(f"/api/v1/admin/tenants/{target}/policy", json={"default_retention_days": 90})
    if operation == "getEventProof":
        return client.get(f"/api/v1/audit/events/{event_id}/proof", params=scoped)
    if operation == "getLatestCheckpoint":
        return client.get("/api/v1/audit/checkpoints/latest", params=scoped)
    if operation == "getCheckpoint":
        return client.get(f"/api/v1/audit/checkpoints/{tenants.checkpoint_of[target]}", params=scoped)
    if operation == "getConsistencyProof":
        return client.get("/api/v1/audit/proofs/consistency", params={"first": "1", **scoped})
    if operation == "getPublicKey":
        return client.get("/api/v1/audit/public-key")
    if operation == "getVerifierKeys":
        return client.get("/api/v1/audit/log/verifier-keys", params={"tenant_id": target})
    if operation == "getLogCheckpoint":
        return client.get("/api/v1/audit/log/checkpoint", params=scoped)
    if operation == "getTile":
        return client.get("/api/v1/audit/log/tile/0/000.p/1", params=scoped)
    if operation == "getEntryBundle":
        return client.get("/api/v1/audit/log/tile/entries/000.p/1", params=scoped)
    if operation == "runIntegrity":
        return client.post("/api/v1/audit/integrity/run")
    if operation == "placeLegalHold":
        return client.post("/api/v1/admin/legal-holds", json={"tenant_id": target, "reason": "matrix"})
    if operation == "listLegalHolds":
        return client.get("/api/v1/admin/legal-holds", params={"tenant_id": target})
    if operation == "releaseLegalHold":
        return client.delete(f"/api/v1/admin/legal-holds/{tenants.hold_of[target]}")
    if operation == "eraseSubject":
        return client.post("/api/v1/admin/erasures", json={"tenant_id": target, "user_id": "nobody"})
    if operation == "listErasures":
        return client.get("/api/v1/admin/erasures", params={"tenant_id": target})
    if operation == "runStreams":
        return client.post("/api/v1/audit/streams/run")
    return _stream_call(client, operation, target, tenants)


def _stream_call(client: httpx.Client, operation: str, target: str, tenants: Tenants) -> httpx.Response:
    streams = "/api/v1/admin/streams"
    if operation == "createStream":
        return client.post(streams, json=_stream(target))
    if operation == "listStreams":
        return client.get(streams, params={"tenant_id": target})
    if operation == "deleteStream":  # a stream of its own, so that the others keep theirs
        return client.delete(f"{streams}/{tenants.new_stream(target)}")
    one = f"{streams}/{tenants.stream_of[target]}"
    if operation == "getStream":
        return client.get(one)
    if operation == "updateStream":
        return client.patch(one, json={"name": "renamed"})
    if operation in ("pauseStream", "resumeStream", "testStream"):
        return client.post(f"{one}/{operation.removesuffix('Stream')}")
    if operation == "replayStream":
        return client.post(f"{one}/replay", json={"from_leaf_index": 0})
    raise AssertionError(operation)


CELLS = [
    (caller, role, operation, scope)
    for caller in ("customer", "platform")
    for role in ROLES
    for operation in ALLOWED_OWN
    for scope in ("own", "other")
    if not (operation in UNSCOPED and scope == "other")  # no tenant to choose
]
TABLES = {
    ("customer", "own"): ALLOWED_OWN,
    ("customer", "other"): ALLOWED_OTHER,
    ("platform", "own"): PLATFORM_OWN,
    ("platform", "other"): PLATFORM_OTHER,
}


@pytest.mark.parametrize(("caller", "role", "operation", "scope"), CELLS)
def test_role_matrix_cell(
    service: LocalService, tenants: Tenants, caller: str, role: str, operation: str, scope: str
) -> None:
    home = tenants.own if caller == "customer" else PLATFORM
    target = home if scope == "own" else (tenants.other if caller == "customer" else tenants.own)
    allowed = role in TABLES[caller, scope][operation]
    with service.client(home, [role]) as client:
        response = _call(client, operation, target, home, tenants)
    cell = f"{caller} {role} {operation} {scope}: {response.text}"
    if allowed:
        assert response.status_code in (200, 201, 202), cell
    elif operation in BY_STREAM_ID and role in ALLOWED_OWN[operation]:
        assert response.status_code == 404, cell  # as for legal holds, below
    elif operation == "releaseLegalHold" and role in ALLOWED_OWN["releaseLegalHold"]:
        # A hold of another tenant is not shown to a tenant's administrator, as its events are not.
        assert response.status_code == 404, cell
    elif operation == "ingestBatch" and role in ALLOWED_OWN["ingestBatch"]:
        # A batch refuses event by event: every event names another tenant, so none is stored.
        assert response.status_code == 400, f"{role} {operation} {scope}: {response.text}"
        assert response.json()["error"]["details"][0]["field"] == "events[0].tenant_id"
    else:
        assert response.status_code == 403, cell
        assert response.json()["error"]["code"] == "permission_denied"


def test_matrix_declaration_covers_every_route() -> None:
    from auditlog.http.routes import ROUTES

    guarded = {r.operation_id for r in ROUTES if r.function != "*"}
    assert guarded == set(ALLOWED_OWN) == set(ALLOWED_OTHER) == set(PLATFORM_OWN) == set(PLATFORM_OTHER)


@pytest.mark.parametrize(
    ("permissions", "status"),
    # An empty claim is a claim: it narrows the roles to nothing (identity providers send [] for
    # users with no permissions).
    [(["read:audit"], 200), (["write:audit"], 403), ([], 403), (None, 200)],
)
def test_permissions_claim_narrows_roles(
    service: LocalService, tenants: Tenants, permissions: list[str] | None, status: int
) -> None:
    from auditlog.auth.dev_issuer import DevIssuer

    token = DevIssuer(service.data_dir, issuer="auditlog-dev", audience="auditlog").issue(
        tenant_id=tenants.own, roles=["audit_reader"], permissions=permissions
    )
    response = httpx.get(f"{service.url}/api/v1/audit/events", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status, response.text
