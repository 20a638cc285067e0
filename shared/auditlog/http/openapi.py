"""The OpenAPI 3.1 document, generated from the models and the route table."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from auditlog import __version__
from auditlog.admin.holds import LegalHold, LegalHoldIn, LegalHoldList
from auditlog.ingest.subjects import Erasure, ErasureList, ErasureRequestIn
from auditlog.ledger.proofs import (
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    IntegrityRunOut,
    PublicKeysOut,
)
from auditlog.model.event import (
    MAX_BATCH_BODY_BYTES,
    MAX_BATCH_EVENTS,
    MAX_SINGLE_BODY_BYTES,
    AuditEventIn,
    AuditEventOut,
    BatchIn,
    BatchIngestResult,
    ErrorBody,
    EventPage,
    IngestResult,
)
from auditlog.model.policy import TenantPolicy
from auditlog.ports.store import FILTER_COLUMNS
from auditlog.read.reader import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

_MODELS = (
    AuditEventIn,
    AuditEventOut,
    EventPage,
    IngestResult,
    BatchIn,
    BatchIngestResult,
    ErrorBody,
    TenantPolicy,
    CheckpointOut,
    PublicKeysOut,
    InclusionProofOut,
    ConsistencyProofOut,
    IntegrityRunOut,
    LegalHoldIn,
    LegalHold,
    LegalHoldList,
    ErasureRequestIn,
    Erasure,
    ErasureList,
)


_INPUT_MODELS = (AuditEventIn, BatchIn, TenantPolicy, LegalHoldIn, ErasureRequestIn)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Invalid input; `details` names each field and problem.",
        401: "Missing or invalid bearer token.",
        403: "The token's roles or tenant do not allow this, or the caller's address is outside "
        "the tenant's IP allowlist.",
        404: "Not found (also when it belongs to another tenant).",
        409: "Not yet sequenced (`not_sequenced`); the Retry-After header says when to retry.",
        413: "The body or batch is too large.",
        415: "The body is not application/json.",
        429: "Rate limited; the Retry-After header says when to retry.",
    }
    return {str(c): _json("ErrorBody", text[c]) for c in codes}


def _query_params(export: bool) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": "start_time",
            "in": "query",
            "schema": {"type": "string", "format": "date-time"},
            "description": "Inclusive start (RFC 3339). Default: end_time minus the default window "
            "(30 days).",
        },
        {
            "name": "end_time",
            "in": "query",
            "schema": {"type": "string", "format": "date-time"},
            "description": "Exclusive end (RFC 3339). Default: now. The window is at most 400 days "
            "(exports: 2560).",
        },
        {
            "name": "tenant_id",
            "in": "query",
            "explode": True,
            "schema": {"type": "array", "items": {"type": "string"}},
            "description": "Only for roles that read across tenants (audit_admin, system_admin).",
        },
    ]
    for column in FILTER_COLUMNS:
        params.append(
            {
                "name": column,
                "in": "query",
                "explode": True,
                "schema": {"type": "array", "items": {"type": "string"}},
                "description": f"Match any of the given values of `{column}` (repeat the parameter).",
            }
        )
    params.append(
        {
            "name": "include_self_audit",
            "in": "query",
            "schema": {"type": "boolean", "default": False},
            "description": "Also the service's own records of reads and admin actions (event types "
            "`auditlog.*`); audit_admin and system_admin only.",
        }
    )
    params.append(
        {
            "name": "metadata",
            "in": "query",
            "style": "deepObject",
            "explode": True,
            "schema": {"type": "object", "additionalProperties": {"type": "string"}},
            "description": "`metadata[<key>]=<value>` (or `metadata.<key>=<value>`): events whose "
            "metadata has that value at that (dotted) key, compared as text.",
        }
    )
    if export:
        params.append(
            {
                "name": "format",
                "in": "query",
                "schema": {"type": "string", "enum": ["csv", "json"], "default": "json"},
                "description": "`csv` or newline-delimited `json`.",
            }
        )
        params += [
            {
                "name": "manifest",
                "in": "query",
                "schema": {"type": "boolean", "default": False},
                "description": "NDJSON of committed records (as the integrity log committed to them) "
                "followed by a manifest line: the checkpoint, the signing key, each line's leaf "
                "index and hash. One tenant. `auditlog verify-export` checks it offline.",
            },
            {
                "name": "proofs",
                "in": "query",
                "schema": {"type": "boolean", "default": False},
                "description": "With the manifest: each line's inclusion proof too (implies manifest).",
            },
        ]
    else:
        params += [
            {
                "name": "page_size",
                "in": "query",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE_SIZE,
                    "default": DEFAULT_PAGE_SIZE,
                },
            },
            {
                "name": "page_token",
                "in": "query",
                "schema": {"type": "string"},
                "description": "The previous page's `next_page_token`, with the same filters.",
            },
        ]
    return params


def _tenant_query() -> dict[str, Any]:
    return {
        "name": "tenant_id",
        "in": "query",
        "schema": {"type": "string"},
        "description": "Only for roles that read across tenants.",
    }


def _tenant_param() -> dict[str, Any]:
    return {"name": "tenant_id", "in": "path", "required": True, "schema": {"type": "string"}}


def build_document() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(m, "validation" if m in _INPUT_MODELS else "serialization") for m in _MODELS],
        ref_template="#/components/schemas/{model}",
    )
    bearer: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    paths: dict[str, Any] = {
        "/api/v1/audit/events": {
            "post": {
                "operationId": "ingestEvent",
                "summary": "Write one audit event",
                "description": f"Durable when answered. Body at most {MAX_SINGLE_BODY_BYTES} bytes. "
                "Role: audit_writer.",
                "security": bearer,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("AuditEventIn")}},
                },
                "responses": {
                    "202": _json("IngestResult", "Stored (or already stored)."),
                    **_errors(400, 401, 403, 413, 415, 429),
                },
            },
            "get": {
                "operationId": "searchEvents",
                "summary": "Search events, newest first",
                "description": "Role: audit_reader, audit_export, audit_admin or system_admin.",
                "security": bearer,
                "parameters": _query_params(export=False),
                "responses": {"200": _json("EventPage", "A page of events."), **_errors(400, 401, 403, 429)},
            },
        },
        "/api/v1/audit/events/batch": {
            "post": {
                "operationId": "ingestBatch",
                "summary": f"Write up to {MAX_BATCH_EVENTS} events",
                "description": "Valid events are stored even when others are rejected; one result "
                f"per event, in order. Body at most {MAX_BATCH_BODY_BYTES} bytes. Role: "
                "audit_writer.",
                "security": bearer,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("BatchIn")}},
                },
                "responses": {
                    "202": _json("BatchIngestResult", "Per-event results."),
                    **_errors(400, 401, 403, 413, 415, 429),
                },
            }
        },
        "/api/v1/audit/events/export": {
            "get": {
                "operationId": "exportEvents",
                "summary": "Export events as CSV or NDJSON, streamed",
                "description": "Role: audit_export or system_admin.",
                "security": bearer,
                "parameters": _query_params(export=True),
                "responses": {
                    "200": {
                        "description": "The events, newest first.",
                        "content": {
                            "text/csv": {"schema": {"type": "string"}},
                            "application/x-ndjson": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(400, 401, 403, 429),
                },
            }
        },
        "/api/v1/audit/events/{audit_id}": {
            "get": {
                "operationId": "getEvent",
                "summary": "Get one event",
                "security": bearer,
                "parameters": [
                    {
                        "name": "audit_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    },
                    {
                        "name": "tenant_id",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Only for roles that read across tenants.",
                    },
                ],
                "responses": {
                    "200": _json("AuditEventOut", "The event."),
                    **_errors(400, 401, 403, 404, 429),
                },
            }
        },
        "/api/v1/audit/events/{audit_id}/proof": {
            "get": {
                "operationId": "getEventProof",
                "summary": "Inclusion proof of one event against a signed checkpoint",
                "description": "Against the latest checkpoint, or the one of `tree_size`. 409 "
                "`not_sequenced` (with Retry-After) until the event is in a checkpoint. Role: "
                "audit_reader or any reading role. See docs/INTEGRITY.md.",
                "security": bearer,
                "parameters": [
                    {
                        "name": "audit_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    },
                    _tenant_query(),
                    {"name": "tree_size", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                ],
                "responses": {
                    "200": _json("InclusionProofOut", "The proof and the checkpoint it proves against."),
                    **_errors(400, 401, 403, 404, 409, 429),
                },
            }
        },
        "/api/v1/audit/checkpoints/latest": {
            "get": {
                "operationId": "getLatestCheckpoint",
                "summary": "The tenant's newest signed checkpoint",
                "description": "Refreshed at least every idle interval, so a stale one shows a stopped "
                "pipeline. Role: any reading role.",
                "security": bearer,
                "parameters": [_tenant_query()],
                "responses": {
                    "200": _json("CheckpointOut", "The checkpoint."),
                    **_errors(400, 401, 403, 404, 429),
                },
            }
        },
        "/api/v1/audit/checkpoints/{tree_size}": {
            "get": {
                "operationId": "getCheckpoint",
                "summary": "The checkpoint signed at a tree size",
                "security": bearer,
                "parameters": [
                    {
                        "name": "tree_size",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    },
                    _tenant_query(),
                ],
                "responses": {
                    "200": _json("CheckpointOut", "The newest checkpoint of that size."),
                    **_errors(400, 401, 403, 404, 429),
                },
            }
        },
        "/api/v1/audit/proofs/consistency": {
            "get": {
                "operationId": "getConsistencyProof",
                "summary": "Consistency proof between two tree sizes",
                "security": bearer,
                "parameters": [
                    {
                        "name": "first",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    },
                    {
                        "name": "second",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0},
                        "description": "Default: the latest checkpoint's size.",
                    },
                    _tenant_query(),
                ],
                "responses": {
                    "200": _json("ConsistencyProofOut", "The proof and both roots."),
                    **_errors(400, 401, 403, 404, 429),
                },
            }
        },
        "/api/v1/audit/public-key": {
            "get": {
                "operationId": "getPublicKey",
                "summary": "The keys that sign checkpoints",
                "description": "Public: no token needed.",
                "responses": {"200": _json("PublicKeysOut", "Ed25519 public keys by key_id.")},
            }
        },
        "/api/v1/audit/integrity/run": {
            "post": {
                "operationId": "runIntegrity",
                "summary": "Sequence staged leaves and sign due checkpoints",
                "description": "Role: system_admin. Called by Cloud Scheduler every minute on GCP; "
                "locally a background loop does it.",
                "security": bearer,
                "responses": {
                    "200": _json("IntegrityRunOut", "Leaves added per tenant."),
                    **_errors(401, 403),
                },
            }
        },
        "/api/v1/audit/retention/run": {
            "post": {
                "operationId": "runRetention",
                "summary": "Delete events past their retention",
                "description": "Role: system_admin. Called by Cloud Scheduler on GCP.",
                "security": bearer,
                "parameters": [
                    {"name": "dry_run", "in": "query", "schema": {"type": "boolean", "default": False}}
                ],
                "responses": {
                    "200": {
                        "description": "Counts per tenant.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_errors(400, 401, 403),
                },
            }
        },
        "/api/v1/admin/legal-holds": {
            "post": {
                "operationId": "placeLegalHold",
                "summary": "Place a legal hold: retention keeps the events it covers",
                "description": "Role: system_admin. By tenant, user, resource or filter; optional "
                "expiry. Recorded as an audit event of the tenant.",
                "security": bearer,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("LegalHoldIn")}},
                },
                "responses": {
                    "201": _json("LegalHold", "The hold."),
                    **_errors(400, 401, 403, 413, 415),
                },
            },
            "get": {
                "operationId": "listLegalHolds",
                "summary": "Legal holds, released ones included",
                "description": "Role: system_admin.",
                "security": bearer,
                "parameters": [_tenant_query()],
                "responses": {"200": _json("LegalHoldList", "The holds."), **_errors(400, 401, 403)},
            },
        },
        "/api/v1/admin/legal-holds/{hold_id}": {
            "delete": {
                "operationId": "releaseLegalHold",
                "summary": "Release a legal hold (its record stays)",
                "description": "Role: system_admin. Recorded as an audit event of the tenant.",
                "security": bearer,
                "parameters": [
                    {"name": "hold_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _json("LegalHold", "The released hold."),
                    **_errors(400, 401, 403, 404),
                },
            }
        },
        "/api/v1/admin/erasures": {
            "post": {
                "operationId": "eraseSubject",
                "summary": "GDPR erasure: destroy a data subject's key (crypto-shredding)",
                "description": "Role: system_admin. Fields the tenant's policy encrypts read as "
                "`[erased]` afterwards; every proof stays valid. Tracked and recorded as an audit "
                "event (by subject hash, not user_id).",
                "security": bearer,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ErasureRequestIn")}},
                },
                "responses": {
                    "200": _json("Erasure", "Done."),
                    **_errors(400, 401, 403, 413, 415),
                },
            },
            "get": {
                "operationId": "listErasures",
                "summary": "Erasure requests and their status",
                "description": "Role: system_admin.",
                "security": bearer,
                "parameters": [_tenant_query()],
                "responses": {"200": _json("ErasureList", "The requests."), **_errors(400, 401, 403)},
            },
        },
        "/api/v1/admin/tenants/{tenant_id}/policy": {
            "get": {
                "operationId": "getTenantPolicy",
                "summary": "A tenant's policy (defaults when none was set)",
                "description": "Role: system_admin.",
                "security": bearer,
                "parameters": [_tenant_param()],
                "responses": {"200": _json("TenantPolicy", "The policy."), **_errors(401, 403)},
            },
            "put": {
                "operationId": "putTenantPolicy",
                "summary": "Replace a tenant's policy",
                "description": "Role: system_admin. Recorded as an audit event of the tenant.",
                "security": bearer,
                "parameters": [_tenant_param()],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("TenantPolicy")}},
                },
                "responses": {
                    "200": _json("TenantPolicy", "The stored policy."),
                    **_errors(400, 401, 403, 413, 415),
                },
            },
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Process is alive",
                "responses": {"200": {"description": "Alive."}},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Dependencies are reachable",
                "responses": {
                    "200": {"description": "Ready."},
                    "503": {"description": "A dependency is down."},
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "description": "Text exposition format. No token: restrict it to the scraper's network.",
                "responses": {
                    "200": {
                        "description": "Metrics.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1 JSON."}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Audit Log API",
            "version": __version__,
            "description": "Multi-tenant, tamper-evident audit events.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
