"""The API's operations as request descriptions, shared by the sync and async clients.

Each builder names its OpenAPI operationId; the clients' methods say which operation they call
(``OpenAPI: <operationId>`` in their docstrings), and a test checks them against
openapi/openapi.json.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

Params = list[tuple[str, str | int | float | bool | None]]


@dataclass(frozen=True, slots=True)
class Req:
    operation: str
    method: str
    path: str
    params: Params = field(default_factory=list)
    json: Any = None
    # Safe to send again after a failure that may have reached the server: reads, PUTs, and
    # writes made idempotent by a client-set audit_id. Others retry only on 429 (refused first).
    retry_unsafe: bool = True
    auth: bool = True
    raw: bool = False  # the body is not JSON (exports, /metrics)


def with_audit_id(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event with a client-set audit_id, so that a retried write is stored once."""
    out = dict(event)
    out.setdefault("audit_id", str(uuid.uuid4()))
    return out


def filters(
    *,
    start_time: str | None = None,
    end_time: str | None = None,
    tenant_id: str | Iterable[str] | None = None,
    metadata: Mapping[str, str] | None = None,
    include_self_audit: bool = False,
    **columns: str | Iterable[str] | None,
) -> Params:
    """Query parameters of a search or export: columns take one value or several."""
    params: Params = []
    if start_time:
        params.append(("start_time", start_time))
    if end_time:
        params.append(("end_time", end_time))
    for name, value in [("tenant_id", tenant_id), *columns.items()]:
        if value is None:
            continue
        values = [value] if isinstance(value, str) else list(value)
        params.extend((name, v) for v in values)
    for key, value in (metadata or {}).items():
        params.append((f"metadata.{key}", value))
    if include_self_audit:
        params.append(("include_self_audit", "true"))
    return params


def ingest_event(event: Mapping[str, Any]) -> Req:
    return Req("ingestEvent", "POST", "/api/v1/audit/events", json=with_audit_id(event))


def ingest_batch(events: Iterable[Mapping[str, Any]]) -> Req:
    return Req(
        "ingestBatch",
        "POST",
        "/api/v1/audit/events/batch",
        json={"events": [with_audit_id(e) for e in events]},
    )


def search_events(params: Params, page_size: int | None, page_token: str | None) -> Req:
    extra: Params = [("page_size", str(page_size))] if page_size else []
    extra += [("page_token", page_token)] if page_token else []
    return Req("searchEvents", "GET", "/api/v1/audit/events", params=params + extra)


def export_events(params: Params, fmt: str, manifest: bool, proofs: bool) -> Req:
    extra: Params = [("format", fmt)]
    extra += [("manifest", "true")] if manifest else []
    extra += [("proofs", "true")] if proofs else []
    return Req("exportEvents", "GET", "/api/v1/audit/events/export", params=params + extra, raw=True)


def _tenant(tenant_id: str | None) -> Params:
    return [("tenant_id", tenant_id)] if tenant_id else []


def get_event(audit_id: str, tenant_id: str | None) -> Req:
    return Req("getEvent", "GET", f"/api/v1/audit/events/{audit_id}", params=_tenant(tenant_id))


def get_event_proof(audit_id: str, tenant_id: str | None, tree_size: int | None) -> Req:
    params = _tenant(tenant_id) + ([("tree_size", str(tree_size))] if tree_size is not None else [])
    return Req("getEventProof", "GET", f"/api/v1/audit/events/{audit_id}/proof", params=params)


def get_latest_checkpoint(tenant_id: str | None) -> Req:
    return Req("getLatestCheckpoint", "GET", "/api/v1/audit/checkpoints/latest", params=_tenant(tenant_id))


def get_checkpoint(tree_size: int, tenant_id: str | None) -> Req:
    return Req("getCheckpoint", "GET", f"/api/v1/audit/checkpoints/{tree_size}", params=_tenant(tenant_id))


def get_consistency_proof(first: int, second: int | None, tenant_id: str | None) -> Req:
    params = [("first", str(first))] + ([("second", str(second))] if second is not None else [])
    return Req(
        "getConsistencyProof", "GET", "/api/v1/audit/proofs/consistency", params=params + _tenant(tenant_id)
    )


def get_public_key() -> Req:
    return Req("getPublicKey", "GET", "/api/v1/audit/public-key", auth=False)


def get_log_checkpoint(tenant_id: str | None) -> Req:
    return Req("getLogCheckpoint", "GET", "/api/v1/audit/log/checkpoint", params=_tenant(tenant_id), raw=True)


def get_verifier_keys(tenant_id: str) -> Req:
    params: Params = [("tenant_id", tenant_id)]
    return Req("getVerifierKeys", "GET", "/api/v1/audit/log/verifier-keys", params=params, auth=False)


def get_tile(path: str, tenant_id: str | None) -> Req:
    return Req("getTile", "GET", f"/api/v1/audit/log/tile/{path}", params=_tenant(tenant_id), raw=True)


def get_entry_bundle(path: str, tenant_id: str | None) -> Req:
    return Req(
        "getEntryBundle", "GET", f"/api/v1/audit/log/tile/entries/{path}", params=_tenant(tenant_id), raw=True
    )


def run_integrity() -> Req:
    return Req("runIntegrity", "POST", "/api/v1/audit/integrity/run")


def run_retention(dry_run: bool) -> Req:
    return Req(
        "runRetention",
        "POST",
        "/api/v1/audit/retention/run",
        params=[("dry_run", "true" if dry_run else "false")],
    )


def preview_retention(tenant_id: str | None) -> Req:
    return Req(
        "previewRetention",
        "GET",
        "/api/v1/admin/retention/preview",
        params=[("tenant_id", tenant_id)] if tenant_id else [],
    )


def place_legal_hold(hold: Mapping[str, Any]) -> Req:
    return Req("placeLegalHold", "POST", "/api/v1/admin/legal-holds", json=dict(hold), retry_unsafe=False)


def list_legal_holds(tenant_id: str | None) -> Req:
    return Req("listLegalHolds", "GET", "/api/v1/admin/legal-holds", params=_tenant(tenant_id))


def release_legal_hold(hold_id: str) -> Req:
    return Req("releaseLegalHold", "DELETE", f"/api/v1/admin/legal-holds/{hold_id}")


def erase_subject(tenant_id: str, user_id: str) -> Req:
    return Req(
        "eraseSubject", "POST", "/api/v1/admin/erasures", json={"tenant_id": tenant_id, "user_id": user_id}
    )


def list_erasures(tenant_id: str | None) -> Req:
    return Req("listErasures", "GET", "/api/v1/admin/erasures", params=_tenant(tenant_id))


def get_tenant_policy(tenant_id: str) -> Req:
    return Req("getTenantPolicy", "GET", f"/api/v1/admin/tenants/{tenant_id}/policy")


def put_tenant_policy(tenant_id: str, policy: Mapping[str, Any]) -> Req:
    return Req("putTenantPolicy", "PUT", f"/api/v1/admin/tenants/{tenant_id}/policy", json=dict(policy))


def _stream(stream_id: str, action: str = "") -> str:
    return f"/api/v1/admin/streams/{quote(stream_id, safe='')}" + (f"/{action}" if action else "")


def create_stream(stream: Mapping[str, Any]) -> Req:
    # Not resent after an ambiguous failure: a second attempt could create a second stream.
    return Req("createStream", "POST", "/api/v1/admin/streams", json=dict(stream), retry_unsafe=False)


def list_streams(tenant_id: str | None) -> Req:
    return Req("listStreams", "GET", "/api/v1/admin/streams", params=_tenant(tenant_id))


def get_stream(stream_id: str) -> Req:
    return Req("getStream", "GET", _stream(stream_id))


def update_stream(stream_id: str, change: Mapping[str, Any]) -> Req:
    return Req("updateStream", "PATCH", _stream(stream_id), json=dict(change))


def delete_stream(stream_id: str) -> Req:
    return Req("deleteStream", "DELETE", _stream(stream_id))


def pause_stream(stream_id: str) -> Req:
    return Req("pauseStream", "POST", _stream(stream_id, "pause"))


def resume_stream(stream_id: str) -> Req:
    return Req("resumeStream", "POST", _stream(stream_id, "resume"))


def replay_stream(stream_id: str, from_leaf_index: int | None, from_time: str | datetime | None) -> Req:
    """Exactly one of the two starting points, as the service requires; a naive ``from_time``
    is refused here, since the service would refuse it too (it needs a UTC offset)."""
    if (from_leaf_index is None) == (from_time is None):
        raise ValueError("give exactly one of from_leaf_index and from_time")
    if isinstance(from_time, datetime):
        if from_time.tzinfo is None:
            raise ValueError("from_time needs a timezone")
        from_time = from_time.isoformat()
    body = {"from_leaf_index": from_leaf_index} if from_time is None else {"from_time": from_time}
    return Req("replayStream", "POST", _stream(stream_id, "replay"), json=body)


def test_stream(stream_id: str) -> Req:
    # Not resent after an ambiguous failure: the destination would get a second test event.
    return Req("testStream", "POST", _stream(stream_id, "test"), retry_unsafe=False)


def run_streams() -> Req:
    return Req("runStreams", "POST", "/api/v1/audit/streams/run")


def healthz() -> Req:
    return Req("healthz", "GET", "/healthz", auth=False)


def readyz() -> Req:
    return Req("readyz", "GET", "/readyz", auth=False)


def metrics() -> Req:
    return Req("metrics", "GET", "/metrics", auth=False, raw=True)


def openapi() -> Req:
    return Req("openapi", "GET", "/openapi.json", auth=False)
