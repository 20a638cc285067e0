"""Structured logs: one JSON object per line, in Cloud Logging's field names.

``severity`` and ``message`` are Cloud Logging's; a request's lines also carry its
``request_id``, ``correlation_id`` and, when the caller sent a trace header, Cloud Logging's
``logging.googleapis.com/trace`` and ``spanId`` (bound once per request in ``Api.handle``, so a
line logged anywhere below carries them). Log lines never hold event payloads, tokens or keys.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

import orjson

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

REQUEST_FIELDS: ContextVar[dict[str, str] | None] = ContextVar("auditlog_request_fields", default=None)
TRACE_KEY = "logging.googleapis.com/trace"
SPAN_KEY = "logging.googleapis.com/spanId"
_CLOUD_TRACE = re.compile(r"([0-9a-fA-F]{32})(?:/([0-9]{1,20}))?")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")


def trace_fields(project: str, cloud_trace: str | None, traceparent: str | None) -> dict[str, str]:
    """Cloud Logging's trace fields from ``X-Cloud-Trace-Context`` or W3C ``traceparent``."""
    trace = span = None
    if cloud_trace and (m := _CLOUD_TRACE.match(cloud_trace.strip())):
        trace, span = m.group(1).lower(), m.group(2)
    elif traceparent and (m := _TRACEPARENT.fullmatch(traceparent.strip())):
        trace, span = m.group(1), m.group(2)
    if trace is None:
        return {}
    fields = {TRACE_KEY: f"projects/{project}/traces/{trace}"}
    if span:
        fields[SPAN_KEY] = span
    return fields


def bind_request(fields: dict[str, str]) -> Token[dict[str, str] | None]:
    return REQUEST_FIELDS.set(fields)


def unbind_request(token: Token[dict[str, str] | None]) -> None:
    REQUEST_FIELDS.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        bound = REQUEST_FIELDS.get()
        if bound:
            for key, value in bound.items():
                entry.setdefault(key, value)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
