"""Crypto-shredding: personal fields encrypted per data subject, erasure by destroying the key.

A tenant's policy names personal fields with the ``encrypt`` action (see ``policy.PiiRule``). At
ingest each such value becomes ``enc:v1:`` + base64url(nonce || AES-256-GCM(JSON of the value)),
under a key of its own for the (tenant, ``user_id``) subject, with the tenant and user as
associated data, so a ciphertext cannot be replayed under another subject. The integrity leaf
commits to the ciphertext, so erasing the key later changes no leaf and every proof still
verifies.

Keys: 32 random bytes per subject in the state store's ``subject_keys`` collection, under an id
that hashes tenant and user (the id reveals neither). Erasure deletes the document; readers then
show each encrypted field as ``[erased]``. Instances cache keys for ``cache_seconds``, so another
instance may still decrypt for that long after an erasure (30 s by default, stated in the
answer). Keys are wrapped by the key encryption key (Cloud KMS on GCP, a key file locally; see
``envelopes``), like the tenants' HMAC keys, so a copy of the state store alone opens nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from cachetools import TTLCache
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from auditlog.ingest import envelopes
from auditlog.model.event import COLUMNS, JSON_COLUMNS, StoredEvent, canonical_json
from auditlog.ports.signer import KeyWrapper
from auditlog.ports.state import StateStore
from auditlog.ports.store import SELF_AUDIT_PREFIX, Row

PREFIX: Final = "enc:v1:"
ERASED: Final = "[erased]"
COLLECTION: Final = "subject_keys"
_PREFIX_BYTES: Final = PREFIX.encode()
_TENANT = COLUMNS.index("tenant_id")
_USER = COLUMNS.index("user_id")
_TYPE = COLUMNS.index("event_type")
_JSON = frozenset(COLUMNS.index(c) for c in JSON_COLUMNS)
_MISSING: Final = b""


def subject_id(tenant_id: str, user_id: str) -> str:
    return hashlib.sha256(f"{tenant_id}\x00{user_id}".encode()).hexdigest()


def _aad(tenant_id: str, user_id: str) -> bytes:
    return f"auditlog-subject/v1\x00{tenant_id}\x00{user_id}".encode()


def _key_context(sid: str) -> bytes:
    return f"auditlog-subject-key/v1\x00{sid}".encode()


def seal(key: bytes, tenant_id: str, user_id: str, value: Any) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, orjson.dumps(value), _aad(tenant_id, user_id))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key: bytes, tenant_id: str, user_id: str, text: str) -> Any:
    raw = base64.urlsafe_b64decode(text[len(PREFIX) :])
    return orjson.loads(AESGCM(key).decrypt(raw[:12], raw[12:], _aad(tenant_id, user_id)))


class SubjectKeys:
    def __init__(
        self, state: StateStore, *, cache_seconds: float = 30.0, wrapper: KeyWrapper | None = None
    ) -> None:
        self._state = state
        self._wrapper = wrapper
        self._cache: TTLCache[str, bytes] = TTLCache(maxsize=100_000, ttl=cache_seconds)
        self._lock = threading.Lock()
        self.cache_seconds = cache_seconds

    def key(self, tenant_id: str, user_id: str, *, create: bool) -> bytes | None:
        """The subject's key; made on first use when ``create`` (ingest), else None once erased
        or never made (readers)."""
        sid = subject_id(tenant_id, user_id)
        with self._lock:
            cached = self._cache.get(sid)
        if cached is not None and (cached or not create):
            return cached or None
        document = self._state.get(COLLECTION, sid)
        if document is None and create:
            candidate = {
                **envelopes.sealed(self._wrapper, secrets.token_bytes(32), _key_context(sid)),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            document = candidate if self._state.create(COLLECTION, sid, candidate) else None
            document = document or self._state.get(COLLECTION, sid)
        key = envelopes.opened(self._wrapper, document, _key_context(sid)) if document else _MISSING
        with self._lock:
            self._cache[sid] = key
        return key or None

    def erase(self, tenant_id: str, user_id: str) -> bool:
        """Destroy the subject's key; True if there was one."""
        sid = subject_id(tenant_id, user_id)
        existed = self._state.get(COLLECTION, sid) is not None
        self._state.delete(COLLECTION, sid)
        with self._lock:
            self._cache[sid] = _MISSING
        return existed


class Unsealer:
    """Shows rows to readers: encrypted fields decrypted, or ``[erased]`` once the key is gone."""

    def __init__(self, keys: SubjectKeys) -> None:
        self._keys = keys

    def rows(self, rows: list[Row]) -> list[Row]:
        # The service's own records are never sealed: what looks sealed in them (a filter value
        # a reader typed) is shown as it is.
        return [self.row(r) if _sealed(r) and not _own_record(r) else r for r in rows]

    def chunks(self, chunks: Iterator[list[Row]]) -> Iterator[list[Row]]:
        for chunk in chunks:
            yield self.rows(chunk)

    def row(self, row: Row) -> Row:
        tenant, user = row[_TENANT], row[_USER]
        key = self._keys.key(tenant, user, create=False)

        def open_value(text: str) -> Any:
            if key is None:
                return ERASED
            try:
                return unseal(key, tenant, user, text)
            except (InvalidTag, ValueError):
                return ERASED

        out = list(row)
        for i, value in enumerate(row):
            if not isinstance(value, str) or PREFIX not in value:
                continue
            if i in _JSON:
                document = orjson.loads(value)
                out[i] = canonical_json(_open_all(document, open_value)).decode()
            elif value.startswith(PREFIX):
                opened = open_value(value)
                out[i] = opened if isinstance(opened, str) else orjson.dumps(opened).decode()
        return tuple(out)


_TEXT_FIELDS: Final = tuple(c for c in COLUMNS if c not in JSON_COLUMNS and c != "retention_period_days")
_QUOTED_PREFIX: Final = '"' + PREFIX


def sealed_look_alikes(record: StoredEvent) -> list[str]:
    """The fields of a client's record holding a value (or, in a JSON column, a string or key)
    that starts with the sealed-value prefix, which only the server may write."""
    values: Mapping[str, Any] = record
    found = [f for f in _TEXT_FIELDS if isinstance(v := values[f], str) and v.startswith(PREFIX)]
    found += [f for f in JSON_COLUMNS if isinstance(v := values[f], str) and _QUOTED_PREFIX in v]
    return sorted(found)


def _sealed(row: Row) -> bool:
    return any(isinstance(v, str) and PREFIX in v for v in row)


def _own_record(row: Row) -> bool:
    return str(row[_TYPE])[: len(SELF_AUDIT_PREFIX)].lower() == SELF_AUDIT_PREFIX


def _open_all(node: Any, open_value: Any) -> Any:
    if isinstance(node, dict):
        return {k: _open_all(v, open_value) for k, v in node.items()}
    if isinstance(node, list):
        return [_open_all(v, open_value) for v in node]
    if isinstance(node, str) and node.startswith(PREFIX):
        return open_value(node)
    return node
