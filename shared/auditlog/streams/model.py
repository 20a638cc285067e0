"""Streams as configured, stored and shown (``streams/book.py`` keeps them).

A destination's secret (a webhook's signing secret, a Splunk HEC token) is accepted on create and
patch, stored wrapped by the key wrapper (Cloud KMS on GCP), and never shown again: what the API
answers says only that one is set.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

MAX_NAME = 128
SECRET_FIELDS = ("secret", "token")
# A DNS name (labels of 1 to 63 letters, digits and hyphens), an IPv4 or a bracketless IPv6 address.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"^(?:{_LABEL}\.)*{_LABEL}$|^[0-9A-Fa-f:.]{{2,45}}$"
_TOPIC = r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9_.~+%-]{2,254}$"


class StreamState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FAILING = "failing"


class Format(StrEnum):
    JSON = "json"
    OCSF = "ocsf"
    CEF = "cef"


class _Destination(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookDestination(_Destination):
    """POST of a JSON batch, signed per Standard Webhooks (HMAC-SHA256)."""

    type: Literal["webhook"]
    url: str = Field(max_length=2048, description="https, a public address (any in development).")
    secret: SecretStr | None = Field(
        None,
        description="The Standard Webhooks secret, `whsec_` + base64 of 24 to 64 random bytes. "
        "Required on create; never shown again.",
    )


class SyslogDestination(_Destination):
    """RFC 5424 messages over TCP with octet counting (RFC 6587), TLS per RFC 5425."""

    type: Literal["syslog"]
    host: str = Field(min_length=1, max_length=253, pattern=_HOST, description="A DNS name or an IP.")
    port: int = Field(6514, ge=1, le=65535)
    tls: bool = True
    ca_cert: str | None = Field(None, max_length=20_000, description="PEM of the CA to trust (TLS).")


class PubSubDestination(_Destination):
    """One message per batch to a topic the tenant owns."""

    type: Literal["pubsub"]
    topic: str = Field(pattern=_TOPIC, description="projects/<project>/topics/<topic>")


class GcsDestination(_Destination):
    """Gzip NDJSON objects named so that they sort by leaf index."""

    type: Literal["gcs"]
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
    prefix: str = Field("", max_length=512)


class SplunkHecDestination(_Destination):
    """Splunk's HTTP Event Collector: a batch of events, with indexer acknowledgement if enabled."""

    type: Literal["splunk_hec"]
    url: str = Field(max_length=2048, description="The collector's base URL (https).")
    token: SecretStr | None = Field(None, description="The HEC token. Required on create; never shown.")
    index: str | None = Field(None, max_length=256)
    source: str | None = Field(None, max_length=256)
    acknowledgement: bool = Field(False, description="Wait for indexer acknowledgement (useACK).")


Destination = Annotated[
    WebhookDestination | SyslogDestination | PubSubDestination | GcsDestination | SplunkHecDestination,
    Field(discriminator="type"),
]


class StreamFilter(BaseModel):
    """Which events a stream sends in full; the others of its leaf range go as hashes only."""

    model_config = ConfigDict(extra="forbid")

    event_types: list[str] = Field(default_factory=list, max_length=100)
    service_names: list[str] = Field(default_factory=list, max_length=100)
    statuses: list[Literal["success", "failure", "denied"]] = Field(default_factory=list, max_length=3)
    metadata: dict[str, str] = Field(default_factory=dict, description="metadata.<key> equals value.")
    include_self_audit: bool = Field(False, description="Also the service's records of reads and changes.")

    @field_validator("event_types", "service_names")
    @classmethod
    def _non_empty(cls, values: list[str]) -> list[str]:
        if any(not v or len(v) > 256 for v in values):
            raise ValueError("each value is 1 to 256 characters")
        return values

    @field_validator("metadata")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 20 or any(not k or len(k) > 128 or not v for k, v in value.items()):
            raise ValueError("at most 20 keys, each 1 to 128 characters, with non-empty values")
        return value


class LeafStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    leaf_index: int = Field(ge=0)


class StreamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=MAX_NAME)
    destination: Destination
    format: Format = Format.JSON
    filter: StreamFilter = Field(default_factory=StreamFilter)
    start: Literal["now", "beginning"] | LeafStart = Field(
        "now", description='"now" (the next leaf), "beginning" (leaf 0), or {"leaf_index": N}.'
    )
    batch_size: int = Field(500, ge=1, le=5000, description="Events per delivery at most.")
    batch_wait_seconds: float = Field(1.0, ge=0, le=300, description="How long a partial batch waits.")
    failing_after_seconds: float = Field(
        86_400.0, ge=60, le=30 * 86_400, description="Failing this long, the stream becomes `failing`."
    )


class StreamPatch(BaseModel):
    """What may change: everything but the tenant and the position (replay moves that)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    destination: Destination | None = None
    format: Format | None = None
    filter: StreamFilter | None = None
    batch_size: int | None = Field(None, ge=1, le=5000)
    batch_wait_seconds: float | None = Field(None, ge=0, le=300)
    failing_after_seconds: float | None = Field(None, ge=60, le=30 * 86_400)


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_leaf_index: int | None = Field(None, ge=0)
    from_time: datetime | None = Field(None, description="RFC 3339: the first leaf sequenced at or after it.")


class StreamStatus(BaseModel):
    state: StreamState
    delivered_leaf_index: int | None = Field(None, description="The last leaf delivered; None before any.")
    next_leaf_index: int
    lag_events: int | None = None
    lag_seconds: float | None = None
    last_delivery_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    paused_reason: str | None = None


class Stream(BaseModel):
    """A stream as the API shows it: secrets never, only whether one is set."""

    stream_id: str
    tenant_id: str
    name: str
    destination: dict[str, object]
    format: Format
    filter: StreamFilter
    batch_size: int
    batch_wait_seconds: float
    failing_after_seconds: float
    created_at: datetime
    created_by: str
    status: StreamStatus


class StreamList(BaseModel):
    streams: list[Stream]


class TestDelivery(BaseModel):
    ok: bool
    status_code: int | None = None
    detail: str
