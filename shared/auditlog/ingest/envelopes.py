"""Secrets in the state store, wrapped by a key encryption key (``ports.signer.KeyWrapper``):
Cloud KMS on GCP, a key file in the data dir locally. A stored document holds
``{"wrapped": base64, "kek": <wrapper name>}``; the context (what the secret is for: a tenant's
HMAC key, a subject's key) is authenticated, so a wrapped secret moved to another document does
not unwrap. Documents written before wrapping existed hold ``{"key": base64}`` and still read."""

from __future__ import annotations

import base64
from typing import Any

from auditlog.ports.signer import KeyWrapper


def sealed(wrapper: KeyWrapper | None, secret: bytes, context: bytes) -> dict[str, Any]:
    """The document fields that keep ``secret``: wrapped when there is a wrapper."""
    if wrapper is None:
        return {"key": base64.b64encode(secret).decode()}
    return {"wrapped": base64.b64encode(wrapper.wrap(secret, context)).decode(), "kek": wrapper.name}


def opened(wrapper: KeyWrapper | None, document: dict[str, Any], context: bytes) -> bytes:
    """The secret a document keeps; ValueError if it cannot be read."""
    if "wrapped" in document:
        if wrapper is None or document.get("kek") != wrapper.name:
            raise ValueError(f"wrapped by {document.get('kek')!r}, which this process cannot reach")
        return wrapper.unwrap(base64.b64decode(document["wrapped"], validate=True), context)
    return base64.b64decode(document["key"], validate=True)
