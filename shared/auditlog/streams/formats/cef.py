"""A committed record as one ArcSight CEF:0 line (Micro Focus, "Implementing ArcSight Common Event
Format"; docs/STREAMS.md, "Formats").

``CEF:0|auditlog|auditlog|<version>|<event_type>|<readable event type>|<severity>|<extension>``.
Header fields escape ``\\`` and ``|``, and a line break, which a header may not hold, becomes a
space. Extension values escape ``\\``, ``=`` and line breaks (``\\n``, ``\\r``). Standard keys carry
what they fit (``rt``, ``externalId``, ``act``, ``outcome``, ``suser``/``suid``, ``src``,
``requestClientApplication``, ``destinationServiceName``); the rest go in labelled custom fields,
among them the four delivery fields. The JSON columns, retention and creation time are not sent:
a stream that needs them uses json or ocsf.
"""

from __future__ import annotations

from typing import Any, Final

from auditlog import __version__
from auditlog.streams.formats.ocsf import PRODUCT, epoch_millis, is_ip

VENDOR: Final = PRODUCT["vendor_name"]
PRODUCT_NAME: Final = PRODUCT["name"]
# Severity 0-10 by status: success low (3), failure medium (6), denied high (8), any other 5.
SEVERITY: Final = {"success": 3, "failure": 6, "denied": 8}
OTHER_SEVERITY: Final = 5

_HEADER_ESCAPES: Final = str.maketrans({"\\": "\\\\", "|": "\\|", "\n": " ", "\r": " "})
_EXTENSION_ESCAPES: Final = str.maketrans({"\\": "\\\\", "=": "\\=", "\n": "\\n", "\r": "\\r"})


def escape_header(value: str) -> str:
    return value.translate(_HEADER_ESCAPES)


def escape_extension(value: str) -> str:
    return value.translate(_EXTENSION_ESCAPES)


def readable(event_type: str) -> str:
    """The header's Name: the event type in words, ``user.password_change`` -> ``User password
    change``. CEF asks for a name that other fields do not repeat, so it leaves out the outcome."""
    words = event_type
    for separator in ".:/_-":
        words = words.replace(separator, " ")
    words = " ".join(words.split())
    return words[:1].upper() + words[1:]


def _custom(key: str, label: str, value: str | None) -> list[tuple[str, str | None]]:
    """A custom field with its label, or nothing when the value is None."""
    return [] if value is None else [(f"{key}Label", label), (key, value)]


def _extension(record: dict[str, Any], delivery: dict[str, Any]) -> list[tuple[str, str]]:
    """Extension keys in order, those whose value is None left out. An ``ip_address`` that is not
    an IP address (sealed, hashed or masked by the tenant's PII policy) goes in flexString1."""
    ip = record["ip_address"]
    ip_valid = ip is not None and is_ip(ip)
    pairs: list[tuple[str, str | None]] = [
        ("rt", str(epoch_millis(record["timestamp"]))),
        ("externalId", delivery["audit_id"]),
        ("act", record["action"]),
        ("outcome", record["status"]),
        ("suser", record["user_id"]),
        ("suid", record["user_id"]),
        ("src", ip if ip_valid else None),
        ("requestClientApplication", record["user_agent"]),
        ("destinationServiceName", record["service_name"]),
        *_custom("cs1", "tenantId", delivery["tenant_id"]),
        *_custom("cn1", "leafIndex", str(delivery["leaf_index"])),
        *_custom("cs2", "leafHash", delivery["leaf_hash"]),
        *_custom("cs3", "resourceType", record["resource_type"]),
        *_custom("cs4", "resourceId", record["resource_id"]),
        *_custom("cs5", "correlationId", record["correlation_id"]),
        *_custom("cs6", "sessionId", record["session_id"]),
        *_custom("flexString1", "ipAddress", None if ip_valid else ip),
    ]
    return [(key, value) for key, value in pairs if value is not None]


def to_cef(record: dict[str, Any], delivery: dict[str, Any]) -> str:
    """The record as one CEF line, without a syslog header (the destination adds its own)."""
    header = [
        VENDOR,
        PRODUCT_NAME,
        __version__,
        record["event_type"],
        readable(record["event_type"]),
        str(SEVERITY.get(record["status"], OTHER_SEVERITY)),
    ]
    extension = " ".join(f"{key}={escape_extension(value)}" for key, value in _extension(record, delivery))
    return "|".join(["CEF:0", *(escape_header(field) for field in header), extension])
