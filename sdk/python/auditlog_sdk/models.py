"""Typed shapes of the API's answers (the components of openapi/openapi.json)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class IngestResult(TypedDict):
    audit_id: str
    status: Literal["accepted", "duplicate"]
    leaf_hash: str | None  # the receipt; None for a duplicate


class BatchItemResult(TypedDict):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    audit_id: str | None
    leaf_hash: str | None
    errors: list[dict[str, str]] | None


class BatchIngestResult(TypedDict):
    results: list[BatchItemResult]
    accepted: int
    duplicates: int
    rejected: int


class AuditEvent(TypedDict):
    audit_id: str
    timestamp: str
    event_type: str
    user_id: str
    session_id: str | None
    ip_address: str | None
    user_agent: str | None
    resource_type: str
    resource_id: str | None
    action: str
    status: str
    request_data: dict[str, Any] | None
    response_data: dict[str, Any] | None
    metadata: dict[str, Any] | None
    tenant_id: str
    service_name: str | None
    correlation_id: str | None
    retention_period_days: int
    created_at: str
    partition_date: str


class EventPage(TypedDict):
    events: list[AuditEvent]
    next_page_token: str | None


class Checkpoint(TypedDict):
    tenant_id: str
    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str


class PublicKey(TypedDict):
    key_id: str
    algorithm: Literal["Ed25519"]
    public_key: str


class PublicKeys(TypedDict):
    keys: list[PublicKey]


class InclusionProof(TypedDict):
    audit_id: str
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    checkpoint: Checkpoint
    record: dict[str, Any] | None  # the committed record; None once retention deleted it


class ConsistencyProof(TypedDict):
    first: int
    second: int
    proof: list[str]
    first_root: str
    second_root: str
