"""Decoding a Pub/Sub push envelope into a batch for the writer."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from auditlog.queue import QueuedBatch
from auditlog.store import EventStore
from auditlog.writer import EventWriter


class PoisonMessage(ValueError):
    """A message that can never be written; acknowledged after being reported, not retried."""


def decode_envelope(envelope: Any) -> QueuedBatch:
    try:
        message = envelope["message"]
        payload = orjson.loads(base64.b64decode(message["data"]))
        attributes = message.get("attributes") or {}
        position = int(attributes["position"])
        events = payload
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise TypeError("message data is not a list of events")
        tenant = attributes.get("tenant_id") or (events[0]["tenant_id"] if events else "")
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError) as exc:
        raise PoisonMessage(f"undecodable message: {type(exc).__name__}") from None
    return QueuedBatch(position, tenant, events)


def write_envelope(store: EventStore, envelope: Any) -> int:
    return EventWriter(store).write([decode_envelope(envelope)])
