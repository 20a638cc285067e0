"""Prometheus metrics, served at ``/metrics``.

One registry per process (not the library's global one, so tests and the functions stay apart).
Labels are bounded on purpose: operations come from the route table, statuses are HTTP codes,
reasons and outcomes are fixed words. No tenant or user id is ever a label: an audit log has as
many of those as its customers have users. monitoring/ (dashboard and alert rules) refers only
to names defined here, which ``tests/e2e/test_observability.py`` checks against a live server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY: Final = CollectorRegistry(auto_describe=True)
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "auditlog_http_requests_total",
    "HTTP requests answered, by operation (OpenAPI operationId) and status code.",
    ["operation", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "auditlog_http_request_duration_seconds",
    "Time from request to response headers, by operation.",
    ["operation"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
EVENTS = Counter(
    "auditlog_events_total",
    "Events submitted to ingest, by outcome (accepted, duplicate, rejected) and kind (client, or "
    "self_audit: the service's own records).",
    ["outcome", "kind"],
    registry=REGISTRY,
)
REFUSALS = Counter(
    "auditlog_refusals_total",
    "Requests refused before any work: unauthenticated, forbidden, rate_limited.",
    ["reason"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "auditlog_queue_depth_events",
    "Events accepted but not yet in the event store (embedded journal; 0 on GCP, where Pub/Sub's "
    "own metrics tell).",
    registry=REGISTRY,
)
INGEST_TO_WRITE = Histogram(
    "auditlog_ingest_to_write_seconds",
    "From an event's created_at (acceptance) to its append to the event store.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
WRITER_BATCH_EVENTS = Histogram(
    "auditlog_writer_batch_events",
    "Events per append to the event store.",
    buckets=(1, 10, 100, 1_000, 5_000, 10_000, 50_000),
    registry=REGISTRY,
)
WRITER_SECONDS = Histogram(
    "auditlog_writer_append_seconds",
    "Duration of one append to the event store (leaves staged, rows appended).",
    buckets=_LATENCY,
    registry=REGISTRY,
)
STORE_SECONDS = Histogram(
    "auditlog_store_read_seconds",
    "Event store reads, by operation (query, get, export).",
    ["operation"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
STORE_ROWS = Counter(
    "auditlog_store_rows_read_total",
    "Rows returned by event store reads, by operation.",
    ["operation"],
    registry=REGISTRY,
)
CACHE = Counter(
    "auditlog_cache_requests_total",
    "Query cache lookups, by result (hit, miss).",
    ["result"],
    registry=REGISTRY,
)
LEAVES_INTEGRATED = Counter(
    "auditlog_integrity_leaves_integrated_total",
    "Leaves sequenced into tenants' Merkle trees.",
    registry=REGISTRY,
)
SEQUENCING_DELAY = Histogram(
    "auditlog_integrity_sequencing_delay_seconds",
    "From a batch's staging to its integration into the tree.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
    registry=REGISTRY,
)
CHECKPOINTS = Counter(
    "auditlog_integrity_checkpoints_signed_total",
    "Checkpoints signed (growth and idle refreshes).",
    registry=REGISTRY,
)
CHECKPOINT_AGE = Gauge(
    "auditlog_integrity_checkpoint_age_seconds",
    "Seconds since this process last signed a checkpoint (-1 before the first). Idle tenants are "
    "re-signed every minute, so a growing age means sequencing stopped.",
    registry=REGISTRY,
)
COSIGNING_DELAY = Histogram(
    "auditlog_integrity_cosigning_delay_seconds",
    "From a checkpoint's signing to its cosigning by the witness quorum (it is then final).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
WITNESS_REFUSALS = Counter(
    "auditlog_integrity_witness_refusals_total",
    "Checkpoints a witness did not cosign, by reason: fork (inconsistent with what it cosigned "
    "before, or it holds a larger tree: the log's history changed), unreachable, other.",
    ["reason"],
    registry=REGISTRY,
)
STREAM_EVENTS = Counter(
    "auditlog_stream_events_total",
    "Leaves a log stream handed to its destination, by destination type and outcome (delivered: "
    "acknowledged; failed: in a batch the destination did not take, to be re-sent).",
    ["destination", "outcome"],
    registry=REGISTRY,
)
STREAM_LAG = Gauge(
    "auditlog_stream_lag_seconds",
    "Age of the oldest leaf not yet delivered, the worst stream of each destination type (0 when "
    "every stream is caught up).",
    ["destination"],
    registry=REGISTRY,
)
STREAMS_FAILING = Gauge(
    "auditlog_streams_failing",
    "Streams in state failing (failing longer than their failing_after_seconds), by destination type.",
    ["destination"],
    registry=REGISTRY,
)
RETENTION_DELETED = Counter(
    "auditlog_retention_deleted_events_total",
    "Events deleted by retention.",
    registry=REGISTRY,
)
RETENTION_RUNS = Counter(
    "auditlog_retention_runs_total",
    "Retention runs, by outcome (success, failure).",
    ["outcome"],
    registry=REGISTRY,
)
DEPENDENCY_UP = Gauge(
    "auditlog_dependency_up",
    "1 when a dependency answered the last readiness probe, 0 when it did not",
    ["dependency"],
    registry=REGISTRY,
)
POISON_MESSAGES = Counter(
    "auditlog_poison_messages_total",
    "Queue messages that can never be written; Pub/Sub moves them to the dead-letter topic.",
    registry=REGISTRY,
)

_last_checkpoint: list[float] = []


def checkpoint_signed() -> None:
    CHECKPOINTS.inc()
    _last_checkpoint[:] = [time.monotonic()]


CHECKPOINT_AGE.set_function(lambda: time.monotonic() - _last_checkpoint[0] if _last_checkpoint else -1.0)


def watch_queue_depth(depth: Callable[[], int]) -> None:
    QUEUE_DEPTH.set_function(lambda: float(depth()))


def exposition() -> bytes:
    return generate_latest(REGISTRY)
