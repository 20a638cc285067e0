"""Opaque, signed keyset cursors for paging through events newest first.

A cursor carries the last row's (timestamp, audit_id), the window the first page resolved (so that
"now" does not move between pages) and a digest of the filters it belongs to. It is signed with
HMAC-SHA256, so a forged or edited cursor, or one sent with other filters, is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

import orjson

from auditlog.errors import ConfigurationError, FieldProblem, InvalidInput

_VERSION = 1
_EPOCH = datetime(1970, 1, 1)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _ONE_US


def _from_micros(value: int) -> datetime:
    return _EPOCH + value * _ONE_US


_ONE_US = datetime(1970, 1, 1, 0, 0, 0, 1) - _EPOCH


@dataclass(frozen=True, slots=True)
class PageCursor:
    last_timestamp: datetime
    last_audit_id: str
    start: datetime
    end: datetime
    filter_digest: str


class CursorCodec:
    """``key``: the HMAC key, None in a function that serves no pages (then using it is a
    ``ConfigurationError``: see ``Settings._no_placeholder_secrets_in_production``)."""

    def __init__(self, key: bytes | None) -> None:
        self._key = key

    def _sign(self, body: bytes) -> bytes:
        if self._key is None:
            raise ConfigurationError(
                "AUDITLOG_CURSOR_SECRET is not set for this function, which pages through events"
            )
        return hmac.new(self._key, body, hashlib.sha256).digest()[:16]

    def encode(self, cursor: PageCursor) -> str:
        body = orjson.dumps(
            [
                _VERSION,
                _micros(cursor.last_timestamp),
                cursor.last_audit_id,
                _micros(cursor.start),
                _micros(cursor.end),
                cursor.filter_digest,
            ]
        )
        token = body + self._sign(body)
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def decode(self, token: str, filter_digest: str) -> PageCursor:
        bad = InvalidInput(
            "page_token is not valid", [FieldProblem("page_token", "is malformed or was altered")]
        )
        if len(token) > 1024:
            raise bad
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise bad from None
        body, signature = raw[:-16], raw[-16:]
        if len(raw) <= 16 or not hmac.compare_digest(signature, self._sign(body)):
            raise bad
        try:
            version, last_ts, last_id, start, end, digest = orjson.loads(body)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise bad from None
        if version != _VERSION:
            raise InvalidInput(
                "page_token is from an older version; start again from the first page",
                [FieldProblem("page_token", "is stale")],
            )
        if digest != filter_digest:
            raise InvalidInput(
                "page_token belongs to a query with other filters",
                [FieldProblem("page_token", "does not match this query's filters")],
            )
        return PageCursor(_from_micros(last_ts), last_id, _from_micros(start), _from_micros(end), digest)


def filter_digest(items: list[tuple[str, str]]) -> str:
    """A stable digest of a query's filters (parameter name and value pairs)."""
    return hashlib.sha256(orjson.dumps(sorted(items))).hexdigest()[:24]
