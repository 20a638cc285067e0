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


class StreamDestination(TypedDict, total=False):
    """Where a stream delivers, as shown: ``type`` (webhook, syslog, pubsub, gcs, splunk_hec) and
    that type's fields. Secrets are never shown: ``secret_set`` (webhook) and ``token_set``
    (splunk_hec) say whether one is stored. On create and update, pass ``secret``/``token``."""

    type: Literal["webhook", "syslog", "pubsub", "gcs", "splunk_hec"]
    url: str  # webhook, splunk_hec
    secret_set: bool  # webhook
    host: str  # syslog
    port: int
    tls: bool
    ca_cert: str | None
    topic: str  # pubsub
    bucket: str  # gcs
    prefix: str
    token_set: bool  # splunk_hec
    index: str | None
    source: str | None
    acknowledgement: bool


class StreamFilter(TypedDict):
    """Which events go in full; the others of the stream's leaf range go as their hash alone."""

    event_types: list[str]
    service_names: list[str]
    statuses: list[Literal["success", "failure", "denied"]]
    metadata: dict[str, str]
    include_self_audit: bool


class StreamStatus(TypedDict):
    state: Literal["active", "paused", "failing"]
    delivered_leaf_index: int | None  # the last leaf delivered; None before any
    next_leaf_index: int
    lag_events: int | None
    lag_seconds: float | None
    last_delivery_at: str | None
    last_error: str | None
    consecutive_failures: int
    failing_since: str | None
    paused_reason: str | None


class Stream(TypedDict):
    stream_id: str
    tenant_id: str
    name: str
    destination: StreamDestination
    format: Literal["json", "ocsf", "cef"]
    filter: StreamFilter
    batch_size: int
    batch_wait_seconds: float
    failing_after_seconds: float
    created_at: str
    created_by: str
    status: StreamStatus


class TestDelivery(TypedDict):
    """What a stream's destination answered to a synthetic event (leaf index -1)."""

    ok: bool
    status_code: int | None
    detail: str
