"""What a destination is handed: a contiguous range of a tenant's leaves, each with its committed
record rendered in the stream's format or, where the filter leaves it out or retention deleted
it, with its hash alone; and the latest signed checkpoint covering them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from auditlog.streams.model import Format

Omitted = Literal["filtered", "deleted"]


@dataclass(slots=True)  # not frozen: a frozen __init__ took a quarter of a batch's assembly
class Item:
    """One leaf of the range. ``payload`` is the event in the stream's format (a JSON object for
    json and ocsf, a line of text for cef), or for json the object already serialised (bytes,
    embedded as they are); None when the leaf goes as its hash alone."""

    leaf_index: int
    audit_id: str
    leaf_hash: str  # hex
    payload: dict[str, Any] | str | bytes | None
    omitted: Omitted | None = None

    @property
    def rendered(self) -> dict[str, Any] | str | None:
        """The event as a JSON object or a CEF line (what syslog and Splunk HEC look into)."""
        if isinstance(self.payload, bytes):
            parsed: dict[str, Any] = orjson.loads(self.payload)
            return parsed
        return self.payload

    def delivery_fields(self) -> dict[str, Any]:
        return {"audit_id": self.audit_id, "leaf_index": self.leaf_index, "leaf_hash": self.leaf_hash}

    def as_json(self, tenant_id: str, fmt: Format = Format.JSON) -> dict[str, Any] | orjson.Fragment:
        """The item as a JSON batch carries it (for ``orjson.dumps``), the delivery fields always
        at the top level: a json event is the committed record with them; an ocsf or cef event
        goes under ``event`` beside them; a leaf left out is its hash alone, with why
        (``omitted``)."""
        if self.payload is None:
            return {"tenant_id": tenant_id, **self.delivery_fields(), "omitted": self.omitted}
        if isinstance(self.payload, bytes):
            return orjson.Fragment(self.payload)
        if fmt is Format.JSON and isinstance(self.payload, dict):
            return self.payload
        return {"tenant_id": tenant_id, **self.delivery_fields(), "event": self.payload}


@dataclass(frozen=True, slots=True)
class Batch:
    stream_id: str
    tenant_id: str
    format: Format
    items: list[Item]
    checkpoint: dict[str, Any]  # the signed checkpoint (JSON form, with its C2SP note)
    batch_id: str = field(default="")  # the same for a re-sent batch: stream, first and last leaf

    @property
    def first_leaf_index(self) -> int:
        return self.items[0].leaf_index

    @property
    def last_leaf_index(self) -> int:
        return self.items[-1].leaf_index

    def body(self) -> dict[str, Any]:
        """The batch as one JSON document (webhook, Pub/Sub, a GCS object's first line)."""
        return {
            "stream_id": self.stream_id,
            "tenant_id": self.tenant_id,
            "format": self.format.value,
            "first_leaf_index": self.first_leaf_index,
            "last_leaf_index": self.last_leaf_index,
            "checkpoint": self.checkpoint,
            "events": [item.as_json(self.tenant_id, self.format) for item in self.items],
        }


def batch_id(stream_id: str, first: int, last: int) -> str:
    """Stable across re-sends, so a receiver can drop a batch it already has (webhook-id)."""
    return f"{stream_id}-{first}-{last}"
