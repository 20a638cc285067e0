"""Splunk HTTP Event Collector: each batch is one ``POST <url>/services/collector/event`` with
``Authorization: Splunk <token>`` whose body is the batch's events as concatenated JSON objects
(Splunk's documented batch format, "Format events for HTTP Event Collector"), one per leaf:

    {"time": <epoch seconds>, "host": ..., "source": <source or "auditlog">,
     "sourcetype": "auditlog:<format>", "index": <index, if set>,
     "event": <the rendered event, or the hash-only JSON>,
     "fields": {"tenant_id": ..., "leaf_index": ..., "audit_id": ..., "leaf_hash": ...}}

``event`` is the rendered event as it is (json and ocsf objects, the CEF line), which carries the
delivery fields itself; a hash-only leaf sends ``item.as_json``. ``fields`` are indexed fields,
so a search can find a leaf (``leaf_index=42``) whatever the format.

HEC answers ``{"text": "Success", "code": 0}`` (HTTP 200) once it has received the batch. With
``acknowledgement`` (the token's useACK), every request carries ``X-Splunk-Request-Channel`` (a
UUID per sender), the answer carries an ``ackId``, and the batch counts as delivered only once
``POST <url>/services/collector/ack`` with ``{"acks": [id]}`` answers ``{"acks": {"<id>": true}}``
(the events are indexed), polled with back-off for at most the context's timeout: past it the
batch is sent again (a retryable failure). Refusals map like any HTTP receiver's
(``http_failure``): 401/403 (token missing, invalid or disabled) and 400 (bad data, no channel,
acknowledgement disabled) are permanent, 503 (server busy) and 5xx are retried. The token is
never put in a message or a log.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from auditlog.streams.addresses import AddressRefused, check_url
from auditlog.streams.batch import Batch, Item
from auditlog.streams.destinations import Context, DeliveryError, http_failure
from auditlog.streams.destinations.syslog import event_time, host_name, refusal
from auditlog.streams.model import SplunkHecDestination

EVENT_PATH = "/services/collector/event"
ACK_PATH = "/services/collector/ack"
FIRST_POLL = 0.2
MAX_POLL = 5.0


def hec_event(batch: Batch, item: Item, host: str, config: SplunkHecDestination) -> dict[str, Any]:
    rendered = item.rendered
    moment = event_time(rendered) or datetime.now(UTC)
    event: dict[str, Any] = {
        "time": round(moment.timestamp(), 6),
        "host": host,
        "source": config.source or "auditlog",
        "sourcetype": f"auditlog:{batch.format.value}",
    }
    if config.index is not None:
        event["index"] = config.index
    event["event"] = rendered if rendered is not None else item.as_json(batch.tenant_id)
    event["fields"] = {"tenant_id": batch.tenant_id, **item.delivery_fields()}
    return event


def _answer(response: httpx.Response) -> dict[str, Any]:
    """A successful HEC answer's JSON; anything else is a DeliveryError."""
    if response.status_code != 200:
        retry_after = response.headers.get("retry-after")
        raise http_failure(response.status_code, f"Splunk HEC: {response.text}", retry_after)
    try:
        parsed = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise DeliveryError(f"Splunk HEC answered something else than JSON: {response.text[:200]}") from None
    if not isinstance(parsed, dict):
        raise DeliveryError(f"Splunk HEC answered an unexpected document: {response.text[:200]}")
    return parsed


class SplunkHecSender:
    def __init__(self, config: SplunkHecDestination, secret: str | None, context: Context) -> None:
        if not secret:
            raise DeliveryError("the Splunk HEC destination has no token", permanent=True)
        self._config = config
        self._base = config.url.rstrip("/")
        self._context = context
        self._host = host_name()
        headers = {"authorization": f"Splunk {secret}", "content-type": "application/json"}
        self.channel = str(uuid.uuid4()) if config.acknowledgement else None  # one per sender
        if self.channel is not None:
            headers["x-splunk-request-channel"] = self.channel
        self._http = httpx.Client(timeout=context.timeout_seconds, follow_redirects=False, headers=headers)

    def deliver(self, batch: Batch) -> None:
        try:
            check_url(self._base, self._context.allow_private_addresses)
        except AddressRefused as exc:
            raise refusal(exc) from None
        events = (hec_event(batch, item, self._host, self._config) for item in batch.items)
        body = b"\n".join(orjson.dumps(event) for event in events)
        answer = _answer(self._post(EVENT_PATH, body))
        if answer.get("code") != 0:
            raise DeliveryError(f"Splunk HEC: code {answer.get('code')}: {answer.get('text')}")
        if self._config.acknowledgement:
            ack_id = answer.get("ackId")
            if not isinstance(ack_id, int):
                raise DeliveryError("Splunk HEC gave no ackId: is indexer acknowledgement on for the token?")
            self._wait_indexed(ack_id, time.monotonic() + self._context.timeout_seconds)

    def _post(self, path: str, body: bytes) -> httpx.Response:
        try:
            return self._http.post(self._base + path, content=body)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Splunk HEC: {type(exc).__name__}: {exc}") from None

    def _wait_indexed(self, ack_id: int, deadline: float) -> None:
        """Poll the ack endpoint until the batch is indexed (or the deadline passes)."""
        wait = FIRST_POLL
        query = orjson.dumps({"acks": [ack_id]})
        while True:
            acks = _answer(self._post(ACK_PATH, query)).get("acks")
            if isinstance(acks, dict) and acks.get(str(ack_id)) is True:
                return
            if time.monotonic() + wait > deadline:
                raise DeliveryError(f"Splunk HEC did not confirm indexing (ackId {ack_id}) in time")
            time.sleep(wait)
            wait = min(MAX_POLL, wait * 2)

    def close(self) -> None:
        self._http.close()
