"""Decoding a Pub/Sub push envelope into a batch for the writer."""

from __future__ import annotations

import base64
import logging
from typing import Any

import orjson

from auditlog import metrics
from auditlog.ports.queue import QueuedBatch
from auditlog.write.writer import EventWriter

log = logging.getLogger(__name__)


class PoisonMessage(ValueError):
    """A message that can never be written. It is logged and raised, never acknowledged: Pub/Sub
    redelivers it and, after the subscription's max_delivery_attempts, moves it with its data
    intact to the dead-letter topic. An audit log does not drop what it cannot read."""


def decode_envelope(envelope: Any) -> QueuedBatch:
    try:
        message = envelope["message"]
        payload = orjson.loads(base64.b64decode(message["data"], validate=True))
        attributes = message.get("attributes") or {}
        # Journal messages carry their position; Pub/Sub messages have none (0). The BigQuery
        # store ignores positions and drops redelivered copies when reading.
        position = int(attributes.get("position", 0))
        if attributes.get("schema_version", "1") != "1":
            raise ValueError("unknown schema_version")
        events = payload
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise TypeError("message data is not a list of events")
        tenant = attributes.get("tenant_id") or (events[0]["tenant_id"] if events else "")
        if any(e.get("tenant_id") != tenant for e in events):
            raise ValueError("an event of another tenant")
        if "count" in attributes and int(attributes["count"]) != len(events):
            raise ValueError("count does not match the events")
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError) as exc:
        raise PoisonMessage(f"undecodable message: {type(exc).__name__}: {exc}") from None
    return QueuedBatch(position, tenant, events)


def write_envelope(writer: EventWriter, envelope: Any) -> int:
    try:
        batch = decode_envelope(envelope)
    except PoisonMessage as exc:
        metrics.POISON_MESSAGES.inc()
        message = envelope.get("message") if isinstance(envelope, dict) else None
        message = message if isinstance(message, dict) else {}
        log.error(
            "poison message: %s",
            exc,
            extra={
                "event": "poison_message",
                "message_id": message.get("messageId") or message.get("message_id"),
                "delivery_attempt": envelope.get("deliveryAttempt") if isinstance(envelope, dict) else None,
                "tenant_id": (message.get("attributes") or {}).get("tenant_id"),
                "data_bytes": len(message.get("data") or ""),
            },
        )
        raise
    return writer.write([batch])
