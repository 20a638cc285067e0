"""The route table: every operation of the API, its rules (``rules.py``) and its documentation.

Each route belongs to one Cloud Function (ingest, query, retention); a function serves its own
routes, the local server serves them all. The OpenAPI document and API Gateway's spec are built
from this table, so a route cannot be served undocumented.
"""

from __future__ import annotations

from auditlog.auth.access import Capability
from auditlog.http.filters import EXPORT_QUERY, SEARCH_QUERY
from auditlog.http.handlers import admin, events, ingest, ledger, log, ops, streams
from auditlog.http.rules import (
    Answer,
    Audited,
    Body,
    Events,
    Free,
    NotAudited,
    Param,
    Public,
    Requests,
    Route,
    Window,
)
from auditlog.model.erasure import Erasure, ErasureList, ErasureRequestIn
from auditlog.model.event import (
    MAX_BATCH_BODY_BYTES,
    MAX_BATCH_EVENTS,
    MAX_SINGLE_BODY_BYTES,
    AuditEventIn,
    AuditEventOut,
    BatchIn,
    BatchIngestResult,
    EventPage,
    IngestResult,
)
from auditlog.model.holds import LegalHold, LegalHoldIn, LegalHoldList
from auditlog.model.policy import TenantPolicy
from auditlog.model.proofs import (
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    IntegrityRunOut,
    PublicKeysOut,
    VerifierKeysOut,
)
from auditlog.model.retention import RetentionReportOut
from auditlog.streams.model import ReplayIn, Stream, StreamIn, StreamList, StreamPatch, TestDelivery

_WRITE = "a write is its own record in the log"
_PROBE = "reads no tenant's data"
_TENANT = Param("tenant_id", "tenant", description="Only for roles that read across tenants.")
_AUDIT_ID = Param("audit_id", "uuid", where="path", required=True)
_STREAM = Param("stream_id", where="path", required=True)
_NOT_FOR_CALLERS = Free("answers from memory, no tenant's data")

ROUTES: tuple[Route, ...] = (
    Route(
        "POST", "/api/v1/audit/events", "ingest", "ingestEvent", ingest.ingest_event,
        access=Capability.WRITE, audit=NotAudited(_WRITE), cost=Events(lambda body: 1),
        summary="Write one audit event",
        description=f"Durable when answered. Body at most {MAX_SINGLE_BODY_BYTES} bytes.",
        body=Body(AuditEventIn, MAX_SINGLE_BODY_BYTES),
        answer=Answer(202, "Stored (or already stored).", IngestResult),
        errors=(400, 401, 403, 413, 415, 429),
    ),
    Route(
        "POST", "/api/v1/audit/events/batch", "ingest", "ingestBatch", ingest.ingest_batch,
        access=Capability.WRITE, audit=NotAudited(_WRITE), cost=Events(ingest.batch_size),
        summary=f"Write up to {MAX_BATCH_EVENTS} events",
        description="Valid events are stored even when others are rejected; one result per event, "
        f"in order. Body at most {MAX_BATCH_BODY_BYTES} bytes.",
        body=Body(BatchIn, MAX_BATCH_BODY_BYTES),
        answer=Answer(202, "Per-event results.", BatchIngestResult),
        errors=(400, 401, 403, 413, 415, 429),
    ),
    Route(
        "GET", "/api/v1/audit/events", "query", "searchEvents", events.search_events,
        access=Capability.READ, audit=Audited("events.search"), cost=Requests(1),
        summary="Search events, newest first",
        params=SEARCH_QUERY, open_query=True,
        answer=Answer(200, "A page of events.", EventPage),
        errors=(400, 401, 403, 429),
    ),
    Route(
        "GET", "/api/v1/audit/events/export", "query", "exportEvents", events.export_events,
        access=Capability.EXPORT, audit=Audited("events.export", before_stream=True), cost=Window(days=30),
        summary="Export events as CSV or NDJSON, streamed",
        description="Costs one read per 30 days of the window.",
        params=EXPORT_QUERY, open_query=True,
        answer=Answer(200, "The events, newest first.", media_types=("text/csv", "application/x-ndjson")),
        errors=(400, 401, 403, 429),
    ),
    Route(
        "GET", "/api/v1/audit/events/{audit_id}", "query", "getEvent", events.get_event,
        access=Capability.READ, audit=Audited("events.get"), cost=Requests(1),
        summary="Get one event",
        params=(_AUDIT_ID, _TENANT),
        answer=Answer(200, "The event.", AuditEventOut),
        errors=(400, 401, 403, 404, 429),
    ),
    Route(
        "GET", "/api/v1/audit/events/{audit_id}/proof", "query", "getEventProof", ledger.get_event_proof,
        access=Capability.READ, audit=Audited("events.proof"), cost=Requests(1),
        summary="Inclusion proof of one event against a signed checkpoint",
        description="Against the latest checkpoint, or the one of `tree_size`. 409 `not_sequenced` "
        "(with Retry-After) until the event is in a checkpoint. See docs/INTEGRITY.md.",
        params=(_AUDIT_ID, _TENANT, Param("tree_size", "count", minimum=1)),
        answer=Answer(200, "The proof and the checkpoint it proves against.", InclusionProofOut),
        errors=(400, 401, 403, 404, 409, 429),
    ),
    Route(
        "GET", "/api/v1/audit/checkpoints/latest", "query", "getLatestCheckpoint",
        ledger.get_latest_checkpoint,
        access=Capability.READ, audit=Audited("checkpoints.get"), cost=Requests(1),
        summary="The tenant's newest signed checkpoint",
        description="Refreshed at least every idle interval, so a stale one shows a stopped pipeline.",
        params=(_TENANT,),
        answer=Answer(200, "The checkpoint.", CheckpointOut),
        errors=(400, 401, 403, 404, 429),
    ),
    Route(
        "GET", "/api/v1/audit/checkpoints/{tree_size}", "query", "getCheckpoint", ledger.get_checkpoint,
        access=Capability.READ, audit=Audited("checkpoints.get"), cost=Requests(1),
        summary="The checkpoint signed at a tree size",
        params=(Param("tree_size", "count", where="path", required=True, minimum=0), _TENANT),
        answer=Answer(200, "The newest checkpoint of that size.", CheckpointOut),
        errors=(400, 401, 403, 404, 429),
    ),
    Route(
        "GET", "/api/v1/audit/proofs/consistency", "query", "getConsistencyProof",
        ledger.get_consistency_proof,
        access=Capability.READ, audit=Audited("proofs.consistency"), cost=Requests(1),
        summary="Consistency proof between two tree sizes",
        params=(
            Param("first", "count", required=True, minimum=0),
            Param("second", "count", minimum=0, description="Default: the latest checkpoint's size."),
            _TENANT,
        ),
        answer=Answer(200, "The proof and both roots.", ConsistencyProofOut),
        errors=(400, 401, 403, 404, 429),
    ),
    Route(
        "GET", "/api/v1/audit/public-key", "query", "getPublicKey", ledger.get_public_key,
        access=Public("public keys are meant to be public"), audit=NotAudited(_PROBE),
        cost=_NOT_FOR_CALLERS,
        summary="The keys that sign checkpoints",
        answer=Answer(200, "Ed25519 public keys by key_id.", PublicKeysOut),
        errors=(400,),
    ),
    Route(
        "GET", "/api/v1/audit/log/checkpoint", "query", "getLogCheckpoint", log.get_log_checkpoint,
        access=Capability.READ, audit=Audited("checkpoints.get"), cost=Requests(1),
        summary="The tenant's newest final checkpoint as a C2SP signed note",
        description="`text/plain`, byte-exact per c2sp.org/tlog-checkpoint and c2sp.org/signed-note: "
        "origin `<log origin>/<tenant_id>`, tree size, base64 root hash, a `timestamp` extension "
        "line; the log's Ed25519 signature and the witnesses' cosignatures. With witnesses "
        "configured, only a checkpoint their quorum cosigned is served.",
        params=(_TENANT,),
        answer=Answer(200, "The signed note.", media_types=("text/plain",)),
        errors=(400, 401, 403, 404),
    ),
    Route(
        "GET", "/api/v1/audit/log/verifier-keys", "query", "getVerifierKeys", log.get_verifier_keys,
        access=Public("verifier keys are meant to be public"), audit=NotAudited(_PROBE),
        cost=_NOT_FOR_CALLERS,
        summary="The verifier keys of a tenant's log and of its witnesses",
        description="signed-note `vkey`s: `<name>+<hex key ID>+<base64 of type || public key>`.",
        params=(Param("tenant_id", "tenant", required=True),),
        answer=Answer(200, "The keys.", VerifierKeysOut),
        errors=(400,),
    ),
    Route(
        "GET", "/api/v1/audit/log/tile/entries/{index:path}", "query", "getEntryBundle",
        log.get_entry_bundle,
        access=Capability.AUDIT_TRAIL, audit=Audited("log.entries"), cost=Requests(1),
        summary="An entry bundle of the tenant's tree (c2sp.org/tlog-tiles)",
        description="`<N>[.p/<W>]`: the committed records of up to 256 leaves, each behind a "
        "big-endian uint16 length. The service's own records are leaves too, so bundles need the "
        "right to see them. 410 when retention deleted a record of the bundle (its hash tile "
        "still proves the tree).",
        params=(Param("index", where="path", required=True), _TENANT),
        answer=Answer(200, "The bundle.", media_types=("application/octet-stream",)),
        errors=(400, 401, 403, 404, 410, 422),
    ),
    Route(
        "GET", "/api/v1/audit/log/tile/{tile:path}", "query", "getTile", log.get_tile,
        access=Capability.READ,
        audit=NotAudited("a tile holds hashes only, no event's content; proofs fetch several"),
        cost=Requests(1),
        summary="A hash tile of the tenant's tree (c2sp.org/tlog-tiles)",
        description="`<L>/<N>[.p/<W>]`, height 8: the hashes of up to 256 perfect subtrees at "
        "tree level 8L. Served up to the newest final checkpoint; immutable.",
        params=(Param("tile", where="path", required=True), _TENANT),
        answer=Answer(200, "The tile.", media_types=("application/octet-stream",)),
        errors=(400, 401, 403, 404),
    ),
    Route(
        "POST", "/api/v1/audit/retention/run", "retention", "runRetention", admin.run_retention,
        access=Capability.JOBS, audit=Audited("retention.run"), cost=Requests(1),
        summary="Delete events past their retention",
        description="Called by Cloud Scheduler on GCP.",
        params=(Param("dry_run", "flag", default=False),),
        answer=Answer(200, "Counts per tenant.", RetentionReportOut),
        errors=(400, 401, 403),
    ),
    Route(
        "GET", "/api/v1/admin/retention/preview", "retention", "previewRetention",
        admin.preview_retention,
        access=Capability.ADMIN, audit=Audited("retention.preview"), cost=Requests(1),
        summary="What retention would delete now, for the tenants you administer",
        description="A dry run that deletes nothing: a tenant's admins see their own tenant's "
        "counts and what their legal holds keep; platform admins see every tenant's.",
        params=(_TENANT,),
        answer=Answer(200, "Counts per tenant.", RetentionReportOut),
        errors=(400, 401, 403),
    ),
    Route(
        "POST", "/api/v1/audit/integrity/run", "retention", "runIntegrity", ledger.run_integrity,
        access=Capability.JOBS,
        audit=NotAudited("a scheduled job that changes no event; its checkpoints are its record"),
        cost=Requests(1),
        summary="Sequence staged leaves and sign due checkpoints",
        description="Called by Cloud Scheduler every minute on GCP; locally a background loop does it.",
        answer=Answer(200, "Leaves added per tenant.", IntegrityRunOut),
        errors=(400, 401, 403),
    ),
    Route(
        "POST", "/api/v1/admin/legal-holds", "retention", "placeLegalHold", admin.place_hold,
        access=Capability.ADMIN, audit=Audited("legal_hold.place"), cost=Requests(1),
        summary="Place a legal hold: retention keeps the events it covers",
        description="By tenant, user, resource or filter; optional expiry.",
        body=Body(LegalHoldIn, MAX_SINGLE_BODY_BYTES),
        answer=Answer(201, "The hold.", LegalHold),
        errors=(400, 401, 403, 413, 415),
    ),
    Route(
        "GET", "/api/v1/admin/legal-holds", "retention", "listLegalHolds", admin.list_holds,
        access=Capability.ADMIN, audit=Audited("legal_hold.list"), cost=Requests(1),
        summary="Legal holds, released ones included",
        params=(_TENANT,),
        answer=Answer(200, "The holds.", LegalHoldList),
        errors=(400, 401, 403),
    ),
    Route(
        "DELETE", "/api/v1/admin/legal-holds/{hold_id}", "retention", "releaseLegalHold",
        admin.release_hold,
        access=Capability.ADMIN, audit=Audited("legal_hold.release"), cost=Requests(1),
        summary="Release a legal hold (its record stays)",
        params=(Param("hold_id", where="path", required=True),),
        answer=Answer(200, "The released hold.", LegalHold),
        errors=(400, 401, 403, 404),
    ),
    Route(
        "POST", "/api/v1/admin/erasures", "retention", "eraseSubject", admin.erase_subject,
        access=Capability.ADMIN, audit=Audited("subject.erase"), cost=Requests(1),
        summary="GDPR erasure: destroy a data subject's key (crypto-shredding)",
        description="Fields the tenant's policy encrypts read as `[erased]` afterwards; every proof "
        "stays valid. Tracked and recorded as an audit event (by subject hash, not user_id).",
        body=Body(ErasureRequestIn, MAX_SINGLE_BODY_BYTES),
        answer=Answer(200, "Done.", Erasure),
        errors=(400, 401, 403, 413, 415),
    ),
    Route(
        "GET", "/api/v1/admin/erasures", "retention", "listErasures", admin.list_erasures,
        access=Capability.ADMIN, audit=Audited("subject.list"), cost=Requests(1),
        summary="Erasure requests and their status",
        params=(_TENANT,),
        answer=Answer(200, "The requests.", ErasureList),
        errors=(400, 401, 403),
    ),
    Route(
        "GET", "/api/v1/admin/tenants/{tenant_id}/policy", "retention", "getTenantPolicy",
        admin.get_policy,
        access=Capability.ADMIN, audit=Audited("policy.get"), cost=Requests(1),
        summary="A tenant's policy (defaults when none was set)",
        params=(Param("tenant_id", "tenant", where="path", required=True),),
        answer=Answer(200, "The policy.", TenantPolicy),
        errors=(400, 401, 403),
    ),
    Route(
        "PUT", "/api/v1/admin/tenants/{tenant_id}/policy", "retention", "putTenantPolicy",
        admin.put_policy,
        access=Capability.ADMIN, audit=Audited("policy.update"), cost=Requests(1),
        summary="Replace a tenant's policy",
        params=(Param("tenant_id", "tenant", where="path", required=True),),
        body=Body(TenantPolicy, MAX_SINGLE_BODY_BYTES),
        answer=Answer(200, "The stored policy.", TenantPolicy),
        errors=(400, 401, 403, 413, 415),
    ),
    Route(
        "POST", "/api/v1/admin/streams", "retention", "createStream", streams.create_stream,
        access=Capability.ADMIN, audit=Audited("stream.create"), cost=Requests(1),
        summary="Create a log stream: the tenant's events, in leaf order, to its SIEM",
        description="Destination webhook, syslog, pubsub, gcs or splunk_hec; format json, ocsf or "
        "cef; an optional filter (other leaves go as their hash alone). Secrets are never shown "
        "again. See docs/STREAMS.md.",
        body=Body(StreamIn, MAX_SINGLE_BODY_BYTES),
        answer=Answer(201, "The stream.", Stream),
        errors=(400, 401, 403, 413, 415),
    ),
    Route(
        "GET", "/api/v1/admin/streams", "retention", "listStreams", streams.list_streams,
        access=Capability.ADMIN, audit=Audited("stream.list"), cost=Requests(1),
        summary="Log streams with their delivery status",
        params=(_TENANT,),
        answer=Answer(200, "The streams.", StreamList),
        errors=(400, 401, 403),
    ),
    Route(
        "GET", "/api/v1/admin/streams/{stream_id}", "retention", "getStream", streams.get_stream,
        access=Capability.ADMIN, audit=Audited("stream.get"), cost=Requests(1),
        summary="A log stream and its status (position, lag, last error)",
        params=(_STREAM,),
        answer=Answer(200, "The stream.", Stream),
        errors=(400, 401, 403, 404),
    ),
    Route(
        "PATCH", "/api/v1/admin/streams/{stream_id}", "retention", "updateStream", streams.patch_stream,
        access=Capability.ADMIN, audit=Audited("stream.update"), cost=Requests(1),
        summary="Change a log stream's name, destination, format, filter or batching",
        params=(_STREAM,),
        body=Body(StreamPatch, MAX_SINGLE_BODY_BYTES),
        answer=Answer(200, "The stream.", Stream),
        errors=(400, 401, 403, 404, 413, 415),
    ),
    Route(
        "DELETE", "/api/v1/admin/streams/{stream_id}", "retention", "deleteStream", streams.delete_stream,
        access=Capability.ADMIN, audit=Audited("stream.delete"), cost=Requests(1),
        summary="Delete a log stream",
        params=(_STREAM,),
        answer=Answer(200, "The deleted stream.", Stream),
        errors=(400, 401, 403, 404),
    ),
    Route(
        "POST", "/api/v1/admin/streams/{stream_id}/pause", "retention", "pauseStream", streams.pause_stream,
        access=Capability.ADMIN, audit=Audited("stream.pause"), cost=Requests(1),
        summary="Pause a log stream (its position is kept)",
        params=(_STREAM,),
        answer=Answer(200, "The stream.", Stream),
        errors=(400, 401, 403, 404),
    ),
    Route(
        "POST", "/api/v1/admin/streams/{stream_id}/resume", "retention", "resumeStream",
        streams.resume_stream,
        access=Capability.ADMIN, audit=Audited("stream.resume"), cost=Requests(1),
        summary="Resume a paused or failing log stream now",
        params=(_STREAM,),
        answer=Answer(200, "The stream.", Stream),
        errors=(400, 401, 403, 404),
    ),
    Route(
        "POST", "/api/v1/admin/streams/{stream_id}/replay", "retention", "replayStream",
        streams.replay_stream,
        access=Capability.ADMIN, audit=Audited("stream.replay"), cost=Requests(1),
        summary="Deliver again from a leaf index or a time",
        description="`from_leaf_index`, or `from_time` (the first leaf created at or after it). "
        "Deleted payloads and erased fields are not sent in clear.",
        params=(_STREAM,),
        body=Body(ReplayIn, MAX_SINGLE_BODY_BYTES),
        answer=Answer(200, "The stream.", Stream),
        errors=(400, 401, 403, 404, 413, 415),
    ),
    Route(
        "POST", "/api/v1/admin/streams/{stream_id}/test", "retention", "testStream", streams.test_stream,
        access=Capability.ADMIN, audit=Audited("stream.test"), cost=Requests(1),
        summary="Send one synthetic event (leaf index -1) and report the destination's answer",
        params=(_STREAM,),
        answer=Answer(200, "What the destination answered.", TestDelivery),
        errors=(400, 401, 403, 404),
    ),
    Route(
        "POST", "/api/v1/audit/streams/run", "streams", "runStreams", streams.run_streams,
        access=Capability.JOBS,
        audit=NotAudited("a scheduled job; what it delivers is already in the log"),
        cost=Requests(1),
        summary="Deliver every log stream's backlog for up to the run's budget",
        description="Called by Cloud Scheduler every minute on GCP; locally a background loop does it.",
        answer=Answer(200, "Leaves delivered per stream."),
        errors=(400, 401, 403),
    ),
    Route(
        "GET", "/healthz", "*", "healthz", ops.healthz,
        access=Public("a liveness probe"), audit=NotAudited(_PROBE), cost=_NOT_FOR_CALLERS,
        summary="Process is alive", answer=Answer(200, "Alive."), errors=(400,),
    ),
    Route(
        "GET", "/metrics", "*", "metrics", ops.metrics_text,
        access=Public("restrict it to the scraper's network; it holds counts, no tenant's data"),
        audit=NotAudited(_PROBE), cost=_NOT_FOR_CALLERS,
        summary="Prometheus metrics", description="Text exposition format.",
        answer=Answer(200, "Metrics.", media_types=("text/plain",)), errors=(400,),
    ),
    Route(
        "GET", "/readyz", "*", "readyz", ops.readyz,
        access=Public("a readiness probe"), audit=NotAudited(_PROBE), cost=_NOT_FOR_CALLERS,
        summary="Dependencies are reachable",
        description="503 when a dependency is down; `checks` names each with its latency.",
        answer=Answer(200, "Ready."), errors=(400, 503),
    ),
    Route(
        "GET", "/openapi.json", "*", "openapi", ops.openapi_document,
        access=Public("the API's own description"), audit=NotAudited(_PROBE), cost=_NOT_FOR_CALLERS,
        summary="This document", answer=Answer(200, "OpenAPI 3.1 JSON."), errors=(400,),
    ),
)
