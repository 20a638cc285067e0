"""Webhook: each batch is one POST of its JSON body, signed per Standard Webhooks
(standardwebhooks.com): ``webhook-id`` (the batch's id, the same when re-sent),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (``v1,`` + base64 of
HMAC-SHA256 over ``<id>.<timestamp>.<body>`` with the secret's bytes). A 2xx acknowledges the
batch; anything else is a ``DeliveryError``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import httpx
import orjson

from auditlog.streams.addresses import check_url
from auditlog.streams.batch import Batch
from auditlog.streams.destinations import Context, DeliveryError, http_failure
from auditlog.streams.model import WebhookDestination

SECRET_PREFIX = "whsec_"


def secret_bytes(secret: str) -> bytes:
    """The key a ``whsec_<base64>`` secret stands for (ValueError if it is not one)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a Standard Webhooks secret starts with whsec_")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        raise ValueError("a Standard Webhooks secret is whsec_ followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("a Standard Webhooks secret holds 24 to 64 bytes")
    return key


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class WebhookSender:
    def __init__(self, config: WebhookDestination, secret: str | None, context: Context) -> None:
        if secret is None:
            raise DeliveryError("the webhook has no secret", permanent=True)
        self._url = config.url
        self._key = secret_bytes(secret)
        self._context = context
        self._http = httpx.Client(timeout=context.timeout_seconds, follow_redirects=False)

    def deliver(self, batch: Batch) -> None:
        # Checked at each delivery, not only when configured: a name may resolve elsewhere later.
        check_url(self._url, self._context.allow_private_addresses)
        body = orjson.dumps(batch.body())
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": batch.batch_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self._key, batch.batch_id, timestamp, body),
        }
        try:
            answer = self._http.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= answer.status_code < 300:
            raise http_failure(answer.status_code, answer.text, answer.headers.get("retry-after"))

    def close(self) -> None:
        self._http.close()
